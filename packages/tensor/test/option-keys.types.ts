// Compile-time checks of optionKeys (the package's typecheck reads this file; nothing runs it).
import { optionKeys } from '../src/index.js';
interface O { a?: number; b?: string }
export const good = optionKeys<O>()(['a', 'b']);
// @ts-expect-error 'b' missing
export const missing = optionKeys<O>()(['a']);
// @ts-expect-error 'c' is not a key
export const extra = optionKeys<O>()(['a', 'b', 'c']);
