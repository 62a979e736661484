/**
 * Keras spellings of the losses, in one place. Every Keras-named loss reads
 * probabilities by default, as Keras's `from_logits=False` does, and logits with
 * `fromLogits: true`; the PyTorch-named losses in losses.ts keep PyTorch's defaults
 * (`crossEntropy` reads logits). Arguments are in our order, `(input, target)`:
 * prediction first, as PyTorch (Keras's functions take `(y_true, y_pred)`).
 *
 * `LOSS_NAMES` is the one table of loss names `compile` accepts (`loss:
 * 'sparse_categorical_crossentropy'`), its defaults the same as the functions'.
 */
import { clamp, closest, isFloat, log, logSoftmax, type Tensor, optionKeys } from '@ml/tensor';
import {
  Loss,
  binaryCrossEntropy,
  binaryCrossEntropyWithLogits,
  checkLossOptions,
  classDim,
  crossEntropy,
  huberLoss,
  l1Loss,
  mseLoss,
  nllCore,
  nllLoss,
  type LossInput,
  type LossOptions,
} from './losses.js';
import type { ModuleOptions } from './module.js';

export interface KerasLossOptions extends LossOptions {
  /** the input holds logits instead of probabilities (Keras's `from_logits`; default false) */
  fromLogits?: boolean;
}
export interface CategoricalCrossentropyOptions extends KerasLossOptions {
  /** mix the target with the uniform distribution: (1 − ε)·y + ε/C */
  labelSmoothing?: number;
}
export interface BinaryCrossentropyOptions extends KerasLossOptions {
  /** squeeze the targets towards ½: (1 − ε)·y + ε/2 */
  labelSmoothing?: number;
}
const SPARSE_KEYS = optionKeys<KerasLossOptions>()(['reduction', 'fromLogits']);
const CATEGORICAL_KEYS = optionKeys<CategoricalCrossentropyOptions>()(['reduction', 'fromLogits', 'labelSmoothing']);
const BINARY_KEYS = optionKeys<BinaryCrossentropyOptions>()(['reduction', 'fromLogits', 'labelSmoothing']);

/** log p from probabilities (logs clamped at −100, as PyTorch's BCE) or from logits */
const logProbs = (input: Tensor, fromLogits: boolean | undefined): Tensor =>
  fromLogits === true ? logSoftmax(input, classDim(input)) : clamp(log(input), -100, null);

/**
 * Keras's sparse categorical cross-entropy: class indices (int32 [N]) against
 * probabilities [N, C] (a softmax's output), or logits with `fromLogits: true`.
 */
export function sparseCategoricalCrossentropy(input: Tensor, target: Tensor, options: KerasLossOptions = {}): Tensor {
  checkLossOptions('sparseCategoricalCrossentropy', options, SPARSE_KEYS);
  if (target.dtype !== 'int32') throw new Error(`sparseCategoricalCrossentropy: targets must be int32 class indices, got ${target.dtype}; use categoricalCrossentropy for one-hot targets`);
  return nllCore('sparseCategoricalCrossentropy', logProbs(input, options.fromLogits), target, { reduction: options.reduction });
}

/** Keras's categorical cross-entropy: one-hot or probability targets against probabilities, or logits with `fromLogits: true`. */
export function categoricalCrossentropy(input: Tensor, target: Tensor, options: CategoricalCrossentropyOptions = {}): Tensor {
  checkLossOptions('categoricalCrossentropy', options, CATEGORICAL_KEYS);
  if (!isFloat(target.dtype)) throw new Error(`categoricalCrossentropy: targets must be one-hot or probabilities (float), got ${target.dtype}; use sparseCategoricalCrossentropy for class indices`);
  return nllCore('categoricalCrossentropy', logProbs(input, options.fromLogits), target, { reduction: options.reduction, labelSmoothing: options.labelSmoothing });
}

/** Keras's binary cross-entropy: 0/1 (or soft) targets against probabilities, or logits with `fromLogits: true`. */
export function binaryCrossentropy(input: Tensor, target: Tensor, options: BinaryCrossentropyOptions = {}): Tensor {
  checkLossOptions('binaryCrossentropy', options, BINARY_KEYS);
  const eps = options.labelSmoothing ?? 0;
  if (!(eps >= 0 && eps <= 1)) throw new Error(`binaryCrossentropy: labelSmoothing must be in [0, 1], got ${eps}`);
  const y = eps > 0 ? target.cast(input.dtype).mul(1 - eps).add(eps / 2) : target;
  const o = { reduction: options.reduction };
  return options.fromLogits === true ? binaryCrossEntropyWithLogits(input, y, o) : binaryCrossEntropy(input, y, o);
}

abstract class KerasLoss<O extends KerasLossOptions> extends Loss<O> {
  /** Keras's `from_logits` */
  readonly fromLogits: boolean;
  readonly inputKind: LossInput;
  constructor(op: string, keys: readonly string[], options: O & ModuleOptions) {
    super(op, keys, options);
    this.fromLogits = options.fromLogits === true;
    this.inputKind = this.fromLogits ? 'logits' : 'probabilities';
  }
}

/** `new SparseCategoricalCrossentropy({ fromLogits: true })`: Keras's class (see the function). */
export class SparseCategoricalCrossentropy extends KerasLoss<KerasLossOptions> {
  constructor(options: KerasLossOptions & ModuleOptions = {}) {
    super('SparseCategoricalCrossentropy', SPARSE_KEYS, options);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return sparseCategoricalCrossentropy(input, target, this.options);
  }
}

/** Keras's class (see `categoricalCrossentropy`). */
export class CategoricalCrossentropy extends KerasLoss<CategoricalCrossentropyOptions> {
  constructor(options: CategoricalCrossentropyOptions & ModuleOptions = {}) {
    super('CategoricalCrossentropy', CATEGORICAL_KEYS, options);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return categoricalCrossentropy(input, target, this.options);
  }
}

/** Keras's class (see `binaryCrossentropy`). */
export class BinaryCrossentropy extends KerasLoss<BinaryCrossentropyOptions> {
  constructor(options: BinaryCrossentropyOptions & ModuleOptions = {}) {
    super('BinaryCrossentropy', BINARY_KEYS, options);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return binaryCrossentropy(input, target, this.options);
  }
}

// ------------------------------------------------------------ loss names

/** A loss as `compile` calls it: prediction, target → scalar. */
export type LossFn = (input: Tensor, target: Tensor) => Tensor;

export interface LossNameEntry {
  /** whose name it is */
  vocabulary: 'keras' | 'pytorch';
  /** the function it names */
  fn: string;
  /** what the input holds by default */
  input: LossInput;
  /** whether `fromLogits: true` switches the input to logits */
  takesFromLogits: boolean;
  /** targets: class indices (int32), or values of the input's shape */
  targets: 'indices' | 'same shape' | 'indices or probabilities';
  /** the loss, reading logits when `fromLogits` */
  make(fromLogits: boolean): LossFn;
}

/**
 * The loss names `compile` accepts, Keras's and two of PyTorch's (lower case with
 * underscores; `lossByName` also takes any case and Keras's class spellings such as
 * 'SparseCategoricalCrossentropy').
 */
export const LOSS_NAMES = {
  mse: { vocabulary: 'keras', fn: 'mseLoss', input: 'values', takesFromLogits: false, targets: 'same shape', make: () => (p, t) => mseLoss(p, t) },
  mean_squared_error: { vocabulary: 'keras', fn: 'mseLoss', input: 'values', takesFromLogits: false, targets: 'same shape', make: () => (p, t) => mseLoss(p, t) },
  mae: { vocabulary: 'keras', fn: 'l1Loss', input: 'values', takesFromLogits: false, targets: 'same shape', make: () => (p, t) => l1Loss(p, t) },
  mean_absolute_error: { vocabulary: 'keras', fn: 'l1Loss', input: 'values', takesFromLogits: false, targets: 'same shape', make: () => (p, t) => l1Loss(p, t) },
  huber: { vocabulary: 'keras', fn: 'huberLoss', input: 'values', takesFromLogits: false, targets: 'same shape', make: () => (p, t) => huberLoss(p, t) },
  binary_crossentropy: {
    vocabulary: 'keras', fn: 'binaryCrossentropy', input: 'probabilities', takesFromLogits: true, targets: 'same shape',
    make: (fromLogits) => (p, t) => binaryCrossentropy(p, t, { fromLogits }),
  },
  categorical_crossentropy: {
    vocabulary: 'keras', fn: 'categoricalCrossentropy', input: 'probabilities', takesFromLogits: true, targets: 'same shape',
    make: (fromLogits) => (p, t) => categoricalCrossentropy(p, t, { fromLogits }),
  },
  sparse_categorical_crossentropy: {
    vocabulary: 'keras', fn: 'sparseCategoricalCrossentropy', input: 'probabilities', takesFromLogits: true, targets: 'indices',
    make: (fromLogits) => (p, t) => sparseCategoricalCrossentropy(p, t, { fromLogits }),
  },
  cross_entropy: { vocabulary: 'pytorch', fn: 'crossEntropy', input: 'logits', takesFromLogits: false, targets: 'indices or probabilities', make: () => (p, t) => crossEntropy(p, t) },
  nll: { vocabulary: 'pytorch', fn: 'nllLoss', input: 'log-probabilities', takesFromLogits: false, targets: 'indices', make: () => (p, t) => nllLoss(p, t) },
} as const satisfies Record<string, LossNameEntry>;

export type LossName = keyof typeof LOSS_NAMES;

/** `Sparse_Categorical_Crossentropy`, `SparseCategoricalCrossentropy` → `sparsecategoricalcrossentropy` */
const squash = (name: string): string => name.toLowerCase().replace(/_/g, '');

/**
 * The name `name` stands for, in any case and with or without underscores ('MSE',
 * 'SparseCategoricalCrossentropy', 'mean_squared_error'); `op` names the caller in the
 * error for an unknown name, which names the closest valid one.
 */
export function resolveLossName(name: string, op = 'lossByName'): LossName {
  const names = Object.keys(LOSS_NAMES) as LossName[];
  const found = typeof name === 'string' ? names.find((n) => squash(n) === squash(name)) : undefined;
  if (found !== undefined) return found;
  const shown = String(name);
  const logits = /^(.*)_from_logits$/i.exec(shown);
  if (logits) throw new Error(`${op}: unknown loss '${shown}'; pass { name: '${logits[1]}', fromLogits: true }`);
  const near = closest(shown.toLowerCase(), names);
  const hint = near.length > 0 ? `; did you mean '${near[0]}'?` : '';
  throw new Error(`${op}: unknown loss '${shown}'${hint} (known: ${names.join(', ')})`);
}

/** The loss function of a compile name: `lossByName('sparse_categorical_crossentropy', { fromLogits: true })`. */
export function lossByName(name: string, options: { fromLogits?: boolean } = {}): LossFn {
  checkLossOptions('lossByName', options, ['fromLogits']);
  const key = resolveLossName(name);
  const entry: LossNameEntry = LOSS_NAMES[key];
  if (options.fromLogits === true && !entry.takesFromLogits) throw new Error(`lossByName: '${key}' reads ${entry.input}; it takes no fromLogits`);
  return entry.make(options.fromLogits === true);
}
