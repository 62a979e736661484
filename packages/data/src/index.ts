/**
 * @ml/data — datasets and loaders: Dataset/DataLoader, splits and k-fold, transforms, image
 * augmentation, scalers, CSV/JSON/IDX parsers, sliding windows, synthetic sets. This entry runs anywhere
 * (browsers included); the file readers (`readCsv`, `readJsonRecords`, `readIdx`) and the
 * MNIST/Fashion-MNIST loaders are in the Node entry (node.ts), which `@ml/data` resolves to
 * under Node and which is also `@ml/data/node`.
 */
export { Dataset, IterableDataset, MappedDataset, Subset, TensorDataset, type BatchedDataset, type IterableDatasetFromOptions, type SampleOf, type TensorTuple } from './dataset.js';
export { DataLoader, defaultCollate, type Collated, type DataLoaderOptions } from './loader.js';
export {
  kFold,
  randomSplit,
  stratifiedKFold,
  trainValidationSplit,
  type Fold,
  type KFoldOptions,
  type Labels,
  type SplitOptions,
  type TrainValidationOptions,
} from './split.js';
export { compose, lambda, normalize, toDType, toFloat, type NormalizeOptions, type Transform } from './transforms.js';
export {
  randomFlip,
  randomRotation,
  randomShift,
  randomZoom,
  type RandomFlipOptions,
  type RandomRotationOptions,
  type RandomShiftOptions,
  type RandomZoomOptions,
} from './augment.js';
export { MinMaxScaler, StandardScaler, type MinMaxScalerOptions } from './scalers.js';
export { tableToTensors, type CellValue, type ColumnType, type MissingCell, type Table, type TableTensors, type ToTensorsOptions } from './table.js';
export { CsvError, csvToTensors, parseCsv, type CsvOptions } from './csv.js';
export { fetchCsv, type FetchCsvOptions } from './fetch.js';
export { JsonError, parseJsonRecords, type JsonRecordsOptions } from './json.js';
export { encodeIdx, IdxError, parseIdx, type IdxArray, type IdxData, type IdxDType, type IdxOptions, type IdxToTensorOptions } from './idx.js';
export { DatasetNotFoundError, FASHION_MNIST_CLASSES, type MnistData, type MnistOptions, type MnistSplit } from './mnist.js';
export { slidingWindows, type WindowOptions, type Windows } from './windows.js';
export {
  circles,
  noisyLine,
  polynomial,
  rings,
  spirals,
  twoGaussians,
  weeklySeries,
  xor,
  type CirclesOptions,
  type NoisyLineOptions,
  type PolynomialOptions,
  type RingsOptions,
  type SpiralsOptions,
  type SyntheticOptions,
  type TwoGaussiansOptions,
  type WeeklySeriesOptions,
  type XorOptions,
  type XY,
} from './synthetic.js';
