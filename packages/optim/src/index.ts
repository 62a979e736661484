/**
 * @ml/optim — optimizers over parameter groups, learning-rate schedules and gradient
 * clipping, with PyTorch's update rules.
 */
export { Optimizer, type GroupOptions, type ParamGroup, type Params, type ParamState, type OptimizerStateDict } from './optimizer.js';
export { SGD, type SGDOptions } from './sgd.js';
export { Adam, AdamW, AMSGrad, type AdamOptions } from './adam.js';
export { Adagrad, RMSprop, type AdagradOptions, type RMSpropOptions } from './adaptive.js';
export { clipGradNorm, clipGradValue } from './clip.js';
export { LRScheduler, StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, CosineAnnealingWarmRestarts } from './schedulers.js';
