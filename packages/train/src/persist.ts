/** Saving into and loading from a folder of the file system: the Node half of `saveModel` / `loadModel`. */
import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { artifactFiles } from './io.js';
import { locateSave, writeGeneration } from './model-dir.js';
import type { DirectoryIO } from './platform.js';
import { ModelFileError, type ModelArtifacts, type SavedModelFiles } from './saved-config.js';

/**
 * Read one of a model folder's files, refusing anything but a regular file: a symbolic
 * link (which could point anywhere) or a directory. `name` is what messages call it.
 */
async function readModelFile(path: string, name: string): Promise<Uint8Array> {
  let st;
  try {
    st = await lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ModelFileError(name, 'is missing');
    throw new ModelFileError(name, `cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (st.isSymbolicLink()) throw new ModelFileError(name, "is a symbolic link; a model folder's files must be regular files");
  if (!st.isFile()) throw new ModelFileError(name, 'is not a regular file');
  try {
    return await readFile(path);
  } catch (e) {
    throw new ModelFileError(name, `cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/**
 * Commit the files into `dir` as one generation (model-dir.ts): each written to a flushed
 * temp, the record `ml-save.json` replaced atomically, the temps renamed into place.
 */
async function saveToFolder(dir: string, a: ModelArtifacts, options: { overwrite?: boolean }): Promise<void> {
  // the save's own files first, in the order the record has always listed them
  const own = artifactFiles({ ...a, files: {} });
  const ordered = [...own.filter(([n]) => n === 'optimizer.safetensors'), ...own.filter(([n]) => n === 'model.safetensors'), ...own.filter(([n]) => n === 'config.json')];
  await writeGeneration(dir, Object.fromEntries([...ordered, ...Object.entries(a.files)]), { overwrite: options.overwrite, who: 'saveModel' });
}

/** The last committed generation's files (read-only: files still in their temps are read there). */
async function loadFromFolder(dir: string): Promise<SavedModelFiles> {
  // or the previous checkpoint <dir>.prev of the layout before the commit record
  const files = await locateSave(dir, 'loadModel');
  if (!files?.has('config.json')) throw new Error(`loadModel: no saved model in ${dir} (missing config.json)`);
  const at = (name: string): string => files.get(name) ?? join(dir, name);
  return {
    config: await readModelFile(at('config.json'), 'config.json'),
    weights: await readModelFile(at('model.safetensors'), 'model.safetensors'),
    ...(files.has('optimizer.safetensors') ? { optimizer: await readModelFile(at('optimizer.safetensors'), 'optimizer.safetensors') } : {}),
  };
}

export const folderIO: DirectoryIO = { save: saveToFolder, load: loadFromFolder };
