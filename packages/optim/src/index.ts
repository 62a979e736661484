/**
 * @ml/optim — optimizers over parameter groups, learning-rate schedules and gradient
 * clipping, with PyTorch's update rules.
 */
export { Optimizer, OptimizerStateError, type GroupOptions, type ParamGroup, type Params, type ParamState, type OptimizerStateDict } from './optimizer.js';
export { SGD, type SGDOptions } from './sgd.js';
export { Adam, AdamW, AMSGrad, type AdamOptions } from './adam.js';
export { RAdam, AdaBound, AMSBound, SWATS, type BoundOptions, type SWATSOptions } from './adaptive-bounds.js';
export { Lookahead, type LookaheadOptions } from './lookahead.js';
export { Adagrad, RMSprop, type AdagradOptions, type RMSpropOptions } from './adaptive.js';
export { clipGradNorm, clipGradNormTensor, clipGradValue } from './clip.js';
export {
  LRScheduler,
  StepLR,
  MultiStepLR,
  ExponentialLR,
  CosineAnnealingLR,
  CosineAnnealingWarmRestarts,
  LambdaLR,
  LinearLR,
  LinearWarmup,
  SequentialLR,
  OneCycleLR,
  CyclicLR,
  type OneCycleOptions,
  type CyclicOptions,
} from './schedulers.js';
export { ReduceLROnPlateau, type ReduceLROnPlateauOptions } from './plateau.js';
export { lrRangeTest, type LRRangeTestOptions, type LRRangeTestResult } from './range-test.js';
