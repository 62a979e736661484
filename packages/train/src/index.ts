/**
 * @ml/train — Keras-style training: compile / fit / evaluate / predict, metrics,
 * callbacks, History, and saving whole models. Importing it adds these methods to
 * every @ml/nn Module; the same functions are exported for a functional style.
 */
import { fromArray, type Tensor } from '@ml/tensor';
import { setTensorFactory } from './callbacks.js';
import './augment.js';

setTensorFactory((like: Tensor, v: ArrayLike<number>) => fromArray(v, like.shape, { dtype: like.dtype, backend: like.backend.name }));

export { compile, fit, evaluate, predict, optimizerOf, DivergenceError, History, type CompileOptions, type FitOptions, type LossFn, type LossName, type OptimizerName, type Batches } from './fit.js';
export { saveModel, loadModel, type SaveModelOptions } from './persist.js';
export { ModelFileError, modelFromSaved, type SavedModelFiles } from './saved-config.js';
export { checkSaveTarget, readSavedFile, SaveTargetError } from './model-dir.js';
export {
  Callback,
  LambdaCallback,
  EarlyStopping,
  LearningRateScheduler,
  ModelCheckpoint,
  CSVLogger,
  TerminateOnNaN,
  ProgressBar,
  formatLogs,
  type Logs,
  type TrainingContext,
  type LambdaHooks,
  type EarlyStoppingOptions,
  type ModelCheckpointOptions,
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
