/**
 * @ml/nn — modules, layers, losses and initializers, with PyTorch's names and semantics.
 */
export { installKerasMethods, type KerasMethod, type KerasMethods } from './keras-methods.js';
export { Module, uniqueName, resetNameCounters, isBuilt, build, type AnyModule, type ModuleOptions, type LoadStateDictResult, type ParametersOptions, type BuffersOptions, type LoadOptions } from './module.js';
export { SymbolicTensor, isSymbolic, formatSymbolicShape, type SymbolicShape } from './symbolic.js';
export { init, initialize_, calculateGain, fans, getInitializer, type Initializer, type InitializerName, type Nonlinearity, type KaimingOptions, type GainOptions } from './init.js';
export { Linear, Dense, Identity, Flatten, Reshape, type LinearOptions, type LinearArgsOptions, type DenseOptions, type LayerOptions, type FlattenOptions, type ReshapeOptions } from './linear.js';
export { Activation, type ActivationSpec, type ActivationOptions } from './layer-activation.js';
export { Dropout, dropout, type DropoutOptions } from './dropout.js';
export { BatchNorm1d, BatchNorm2d, LayerNorm, type BatchNormOptions, type LayerNormOptions } from './normalization.js';
export { Sequential, ModuleList, ModuleDict, type Layer, type SequentialOptions } from './container.js';
export { ReLU, LeakyReLU, ELU, GELU, Sigmoid, Tanh, SiLU, Softplus, Softmax, LogSoftmax } from './activation.js';
export { hardSigmoid, selu, activationByName, ACTIVATION_NAMES, type ActivationFn, type ActivationName } from './activation.js';
export { HardSigmoid, SELU, AdditiveAttention } from './registered.js';
export type { AdditiveAttentionOptions, AdditiveAttentionForwardOptions } from './additive-attention.js';
export { Conv1d, Conv2d, type Conv1dOptions, type Conv2dOptions, type Conv1dArgsOptions, type Conv2dArgsOptions, type DataFormat } from './conv.js';
export {
  MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, GlobalAvgPool2d, GlobalMaxPool2d,
  type Pool1dOptions, type Pool2dOptions, type MaxPool1dOptions, type MaxPool2dOptions, type AvgPool1dOptions, type AvgPool2dOptions, type GlobalPoolOptions,
} from './pooling.js';
export { Embedding, type EmbeddingOptions } from './embedding.js';
export { input, Model, Concatenate, Add, Subtract, Multiply, Average, Maximum, concatenate, add, type InputOptions, type ModelConfig, type GraphCall, type ConcatenateOptions } from './graph.js';
export { summary, type SummaryOptions } from './summary.js';
export { moduleToConfig, moduleFromConfig, registerModuleClass, type ModuleConfig, type ModuleClass, type ModuleFromConfigOptions } from './serialize.js';
export { ModuleConfigError, checkModuleConfig, type ConfigCheckOptions, type ConfigPlan } from './config-check.js';
export { RNNCell, LSTMCell, GRUCell, RNN, LSTM, GRU, type RNNNonlinearity, type RNNCellOptions, type ElmanCellOptions, type RecurrentOptions, type RNNOptions } from './recurrent.js';
export { EchoStateNetwork, spectralRadius, type EchoStateNetworkOptions, type FitOptions as EchoStateFitOptions } from './reservoir.js';
export { scaledDotProductAttention, causalMask, bandedMask, paddingMask, MultiheadAttention, type ScaledDotProductAttentionOptions, type BandedMaskOptions, type MultiheadAttentionOptions, type MultiheadAttentionForwardOptions } from './attention.js';
export { SinusoidalPositionalEncoding, LearnedPositionalEncoding, type SinusoidalPositionalEncodingOptions, type LearnedPositionalEncodingOptions } from './positional.js';
export { TransformerEncoderLayer, TransformerDecoderLayer, TransformerEncoder, TransformerDecoder, Transformer, greedyDecode, type TransformerActivation, type TransformerLayerOptions, type TransformerEncoderLayerOptions, type TransformerDecoderLayerOptions, type TransformerEncoderLayerForwardOptions, type TransformerDecoderLayerForwardOptions, type TransformerEncoderOptions, type TransformerEncoderForwardOptions, type TransformerDecoderOptions, type TransformerOptions, type TransformerForwardOptions, type EncoderLayerModule, type DecoderLayerModule, type NormModule, type GreedyDecodeOptions } from './transformer.js';
export {
  mseLoss, sseLoss, l1Loss, huberLoss, smoothL1Loss, binaryCrossEntropy, binaryCrossEntropyWithLogits, crossEntropy, nllLoss, klDiv,
  Loss, MSELoss, SSELoss, L1Loss, HuberLoss, SmoothL1Loss, BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, NLLLoss, KLDivLoss,
  type Reduction, type LossOptions, type LossInput, type HuberOptions, type SmoothL1Options, type BCEOptions, type BCEWithLogitsOptions, type CrossEntropyOptions, type NLLOptions, type KLDivOptions,
} from './losses.js';
// Keras spellings (probabilities by default, `fromLogits`), and the compile names' table
export {
  sparseCategoricalCrossentropy, categoricalCrossentropy, binaryCrossentropy, SparseCategoricalCrossentropy, CategoricalCrossentropy, BinaryCrossentropy,
  LOSS_NAMES, lossByName, resolveLossName, type LossName, type LossNameEntry, type LossFn, type KerasLossOptions, type CategoricalCrossentropyOptions, type BinaryCrossentropyOptions,
} from './keras.js';
export { l1Penalty, l2Penalty, elasticNetPenalty, weightsOnly } from './regularization.js';
