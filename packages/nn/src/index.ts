/**
 * @ml/nn — modules, layers, losses and initializers, with PyTorch's names and semantics.
 */
export { Module, uniqueName, resetNameCounters, type AnyModule, type ModuleOptions, type LoadStateDictResult } from './module.js';
export { SymbolicTensor, isSymbolic, formatSymbolicShape, type SymbolicShape } from './symbolic.js';
export { init, initialize_, calculateGain, fans, getInitializer, type Initializer, type InitializerName, type Nonlinearity, type KaimingOptions, type GainOptions } from './init.js';
export { Linear, Dense, Identity, Flatten, Reshape, type LinearOptions, type LayerOptions } from './linear.js';
export { Dropout, dropout, type DropoutOptions } from './dropout.js';
export { BatchNorm1d, BatchNorm2d, LayerNorm, type BatchNormOptions, type LayerNormOptions } from './normalization.js';
export { Sequential, ModuleList, ModuleDict, type Layer } from './container.js';
export { ReLU, LeakyReLU, ELU, GELU, Sigmoid, Tanh, SiLU, Softplus, Softmax, LogSoftmax } from './activation.js';
