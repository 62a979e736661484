/**
 * @ml/train — Keras-style training: compile / fit / evaluate / predict, metrics,
 * callbacks, History, and saving whole models. Importing it adds these methods to
 * every @ml/nn Module; the same functions are exported for a functional style.
 *
 * This is the entry for every environment (pages, workers, bundlers): it imports nothing
 * of Node. Under Node the "node" export condition picks index.node.ts, which adds folder
 * saving and loading, file callbacks and the terminal progress bar under the same names.
 */
import { fromArray, type Tensor } from '@ml/tensor';
import { setTensorFactory } from './callbacks.js';
import './augment.js';

setTensorFactory((like: Tensor, v: ArrayLike<number>) => fromArray(v, like.shape, { dtype: like.dtype, backend: like.backend.name }));

export { compile, fit, evaluate, predict, optimizerOf, DivergenceError, History, type CompileOptions, type Evaluation, type Numbers, type FitOptions, type LossFn, type LossName, type LossSpec, type LossObject, type OptimizerName, type Batches } from './fit.js';
export type { YieldEvery } from './yield.js';
export {
  saveModel,
  loadModel,
  loadArtifacts,
  modelToBytes,
  listIndexedDbModels,
  deleteIndexedDbModel,
  type SaveModelOptions,
  type SaveDestination,
  type LoadSource,
  type ModelSaveHandler,
  type ModelLoadHandler,
} from './io.js';
export { ModelFileError, modelFromSaved, type SavedModelFiles, type ModelArtifacts } from './saved-config.js';
export { SaveTargetError } from './files.js';
export { checkSaveTarget, readSavedFile, ModelCheckpoint, CSVLogger, ProgressBar } from './node-only.js';
export type { ModelCheckpointOptions, TextStream } from './callbacks-node.js';
export {
  Callback,
  LambdaCallback,
  EarlyStopping,
  LearningRateScheduler,
  TerminateOnNaN,
  EpochLogger,
  formatLogs,
  type Logs,
  type TrainingContext,
  type LambdaHooks,
  type EarlyStoppingOptions,
  type Mode,
} from './callbacks.js';
export {
  Accuracy,
  BinaryAccuracy,
  TopKAccuracy,
  MeanAbsoluteError,
  MeanSquaredError,
  RootMeanSquaredError,
  R2Score,
  ConfusionMatrix,
  Precision,
  Recall,
  F1Score,
  getMetric,
  type Metric,
  type MetricName,
  type Average,
} from './metrics.js';
