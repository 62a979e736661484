/**
 * @ml/plot — charts on Vega-Lite for training and models, rendered to SVG or an HTML page.
 * This entry runs anywhere (browsers included); writing files (`saveSvg`, `savePng`) and PNG
 * rasterising (`toPng`, with the optional native @resvg/resvg-js) are in the Node entry
 * (node.ts), which `@ml/plot` resolves to under Node and which is also `@ml/plot/node`.
 */
export { SCHEMA, type ChartOptions, type TopLevelSpec } from './chart.js';
export type { Rows, Values } from './input.js';
export { lossCurves, type HistoryLike, type LossCurvesOptions } from './training.js';
export { scatterWithFit, type ScatterWithFitOptions } from './regression.js';
export { decisionRegions, confusionMatrix, type DecisionRegionsOptions, type ConfusionMatrixOptions } from './classification.js';
export { lossSurface, type LossSurfaceOptions, type ParameterPath } from './surface.js';
export { forecast, type ForecastOptions, type Times } from './forecast.js';
export { toVega, toSvg, toHtml, type SvgOptions, type PngOptions, type HtmlOptions, type VegaSpec } from './render.js';
