/**
 * @ml/plot's Node entry: what `@ml/plot` resolves to under Node (the "node" export
 * condition), and the `@ml/plot/node` subpath. The browser-safe main entry plus writing
 * charts to files and rasterising them to PNG.
 */
export * from './index.js';
export { saveSvg, saveSvgs, toPng, savePng } from './node/render.js';
