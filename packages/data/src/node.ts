/**
 * @ml/data's Node entry: what `@ml/data` resolves to under Node (the "node" export
 * condition), and the `@ml/data/node` subpath. The browser-safe main entry plus what reads
 * files or needs Node's zlib and crypto: `readCsv`, `readJsonRecords`, `readIdx`, `mnist`,
 * `fashionMnist`, and a `parseIdx` that unpacks gzip and checks checksums.
 */
export * from './index.js';
export { readCsv, readJsonRecords } from './node/files.js';
export { parseIdx, readIdx } from './node/idx.js';
export { fashionMnist, mnist } from './node/mnist.js';
