/**
 * The names of a saved model's files, the same in every destination (a Node folder,
 * IndexedDB, downloads, a web server): `config.json`, `model.safetensors`, optionally
 * `optimizer.safetensors`, and the extra files a caller adds.
 */

/** The commit record of a save in a folder (model-dir.ts). */
export const RECORD = 'ml-save.json';
/** Held while a save writes into a folder; names the saving process. */
export const LOCK = 'ml-save.lock';
/** The files `saveModel` writes for the model itself. */
export const MODEL_FILES = ['config.json', 'model.safetensors', 'optimizer.safetensors'] as const;
/** Names no extra file may take. */
export const RESERVED: ReadonlySet<string> = new Set<string>([...MODEL_FILES, RECORD, LOCK]);

/** `<name>.tmp-<pid>[-<n>]`: a temp of a durable write (as @ml/tensor/node names them). */
const TEMP = /^(.+)\.tmp-(\d+)(?:-[^/\\]*)?$/;

/** A name that stays inside the folder: no separators, not `.`/`..`, not empty. */
export const isPlainName = (n: unknown): n is string => typeof n === 'string' && n !== '' && n !== '.' && n !== '..' && !/[/\\\0]/.test(n);

/** Names a caller may add to a save with `files`: plain file names that are not the save's own. */
export function checkExtraFiles(who: string, files: Record<string, unknown>): Record<string, string | Uint8Array> {
  for (const [name, v] of Object.entries(files)) {
    if (!isPlainName(name)) throw new Error(`${who}: files: '${name}' is not a plain file name (no folders)`);
    if (RESERVED.has(name)) throw new Error(`${who}: files: '${name}' is written by the save itself; choose another name`);
    if (TEMP.test(name)) throw new Error(`${who}: files: '${name}' looks like a temp file (<name>.tmp-<n>); choose another name`);
    if (typeof v !== 'string' && !(v instanceof Uint8Array)) throw new Error(`${who}: files['${name}'] must be a string or a Uint8Array`);
  }
  return files as Record<string, string | Uint8Array>;
}

/** A destination that cannot take a save; `foreign` lists the entries that are not the save's. */
export class SaveTargetError extends Error {
  constructor(
    message: string,
    readonly dir: string,
    readonly foreign: readonly string[] = [],
  ) {
    super(message);
    this.name = 'SaveTargetError';
  }
}
