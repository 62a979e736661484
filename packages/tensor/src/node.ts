/**
 * @ml/tensor's Node entry: what `@ml/tensor` resolves to under Node (the "node" export
 * condition), and the `@ml/tensor/node` subpath. It is the browser-safe main entry plus what
 * only Node can do: file access for the path-taking safetensors functions
 * (`saveSafetensors`, `loadSafetensors`, `readSafetensorsHeader`), filled in here on load,
 * and the durable-write helpers behind every save of the toolkit (temp file, fsync, rename,
 * directory fsync; see durable.ts).
 */
import { open, readFile } from 'node:fs/promises';
import { writeFileAtomic } from './durable.js';
import { setFileAccess } from './files.js';

setFileAccess({
  readFile: async (path) => readFile(path),
  async readHead(path, length) {
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      const bytes = new Uint8Array(Math.min(length, size));
      await fh.read(bytes, 0, bytes.length, 0);
      return { size, bytes };
    } finally {
      await fh.close();
    }
  },
  writeFileAtomic,
});

export * from './index.js';
export { writeFileAtomic, writeFileSynced, syncDirectory, removeStaleTemps, tempPathFor, parseTempName, isProcessAlive } from './durable.js';
