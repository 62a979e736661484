/**
 * @ml/tensor/node — what only Node can do, kept out of the main entry so that it stays
 * browser-safe: durable file writes (temp file, fsync, rename, directory fsync) and the
 * temp-file bookkeeping behind every save of the toolkit (see durable.ts).
 */
export { writeFileAtomic, writeFileSynced, syncDirectory, removeStaleTemps, tempPathFor, parseTempName, isProcessAlive } from './durable.js';
