import { fileURLToPath } from 'node:url';
import { runScript, type CliRun } from '@ml/cli-kit';

export const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));

/** Run the built CLI the way a user would, without a terminal. */
export const cli = (...args: string[]): CliRun => runScript(main, ...args);
