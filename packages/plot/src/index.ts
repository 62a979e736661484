export { SCHEMA, type ChartOptions, type TopLevelSpec } from './chart.js';
export type { Rows, Values } from './input.js';
export { lossCurves, type HistoryLike, type LossCurvesOptions } from './training.js';
export { scatterWithFit, type ScatterWithFitOptions } from './regression.js';
export { decisionRegions, confusionMatrix, type DecisionRegionsOptions, type ConfusionMatrixOptions } from './classification.js';
export { lossSurface, type LossSurfaceOptions, type ParameterPath } from './surface.js';
export { forecast, type ForecastOptions, type Times } from './forecast.js';
export { toVega, toSvg, saveSvg, toPng, savePng, toHtml, type SvgOptions, type PngOptions, type HtmlOptions, type VegaSpec } from './render.js';
