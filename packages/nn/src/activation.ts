import { checkOptions, clamp, closest, elu, gelu, leakyRelu, logSoftmax, relu, sigmoid, softmax, softplus, silu, tanh, type Tensor, optionKeys } from '@ml/tensor';
import { Module, type ModuleOptions } from './module.js';

/** The option keys of each activation module: checked at construction (an unknown key throws). */
const NAME_KEY = optionKeys<ModuleOptions>()(['name']);
const keysOf = (...keys: string[]): readonly string[] => [...NAME_KEY, ...keys];

/** hardSigmoid(x) = relu6(x + 3) / 6 = clamp(x/6 + ½, 0, 1): PyTorch's and Keras 3's piecewise-linear sigmoid. */
export function hardSigmoid(x: Tensor): Tensor {
  return clamp(x.mul(1 / 6).add(0.5), 0, 1);
}

/** SELU's constants (Klambauer et al. 2017): the fixed point of mean 0, variance 1. */
const SELU_ALPHA = 1.6732632423543772;
const SELU_SCALE = 1.0507009873554805;

/** selu(x) = λ·x for x > 0, λ·α(eˣ − 1) otherwise, λ ≈ 1.0507, α ≈ 1.6733. */
export function selu(x: Tensor): Tensor {
  return elu(x, SELU_ALPHA).mul(SELU_SCALE);
}

/** An elementwise (or last-axis) activation function. */
export type ActivationFn = (x: Tensor) => Tensor;

/**
 * Keras's activation names (`Dense(64, { activation: 'relu' })`), each with PyTorch's default
 * parameters: leaky_relu's slope is 0.01 (Keras 3's LeakyReLU layer uses 0.3), softmax and
 * log_softmax act on the last axis, gelu is the exact erf form.
 */
const ACTIVATIONS = {
  linear: (x: Tensor) => x,
  relu: (x: Tensor) => relu(x),
  sigmoid: (x: Tensor) => sigmoid(x),
  tanh: (x: Tensor) => tanh(x),
  softmax: (x: Tensor) => softmax(x, -1),
  log_softmax: (x: Tensor) => logSoftmax(x, -1),
  gelu: (x: Tensor) => gelu(x),
  elu: (x: Tensor) => elu(x),
  selu,
  silu: (x: Tensor) => silu(x),
  swish: (x: Tensor) => silu(x),
  softplus: (x: Tensor) => softplus(x),
  hard_sigmoid: hardSigmoid,
  leaky_relu: (x: Tensor) => leakyRelu(x),
} as const satisfies Record<string, ActivationFn>;

export type ActivationName = keyof typeof ACTIVATIONS;
/** The names `activationByName` knows, Keras's spellings. */
export const ACTIVATION_NAMES = Object.keys(ACTIVATIONS) as ActivationName[];

/** `hardSigmoid`, `hard_sigmoid`, `HardSigmoid` → `hardsigmoid`: one key per spelling of a name. */
const squash = (name: string): string => name.toLowerCase().replace(/_/g, '');

/**
 * The activation function a Keras name stands for: `activationByName('relu')`. Our camelCase
 * spellings (`'leakyRelu'`, `'hardSigmoid'`) resolve too; an unknown name throws, naming the
 * closest valid one.
 */
export function activationByName(name: string): ActivationFn {
  if (typeof name !== 'string') throw new TypeError(`activationByName: name must be a string, got ${typeof name}`);
  const found = ACTIVATION_NAMES.find((n) => squash(n) === squash(name));
  if (found !== undefined) return ACTIVATIONS[found];
  const near = closest(name.toLowerCase(), ACTIVATION_NAMES);
  const hint = near.length > 0 ? `; did you mean '${near[0]}'?` : '';
  throw new Error(`activationByName: unknown activation '${name}'${hint} (valid: ${ACTIVATION_NAMES.join(', ')})`);
}

/** max(0, x) */
export class ReLU extends Module {
  constructor(options: ModuleOptions = {}) {
    checkOptions('ReLU', options, NAME_KEY);
    super(options);
  }
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

/** max(0, x) + negativeSlope · min(0, x) */
export class LeakyReLU extends Module {
  readonly negativeSlope: number;
  constructor(options: ModuleOptions & { negativeSlope?: number } = {}) {
    checkOptions('LeakyReLU', options, keysOf('negativeSlope'), { negative_slope: 'negativeSlope', alpha: 'negativeSlope' });
    super(options);
    this.negativeSlope = options.negativeSlope ?? 0.01;
  }
  forward(x: Tensor): Tensor {
    return leakyRelu(x, this.negativeSlope);
  }
  override extraRepr(): string {
    return `negativeSlope=${this.negativeSlope}`;
  }
}

/** x for x > 0, α(eˣ − 1) otherwise */
export class ELU extends Module {
  readonly alpha: number;
  constructor(options: ModuleOptions & { alpha?: number } = {}) {
    checkOptions('ELU', options, keysOf('alpha'));
    super(options);
    this.alpha = options.alpha ?? 1;
  }
  forward(x: Tensor): Tensor {
    return elu(x, this.alpha);
  }
  override extraRepr(): string {
    return `alpha=${this.alpha}`;
  }
}

/** x · Φ(x), Φ the standard normal CDF ('none') or its tanh approximation ('tanh') */
export class GELU extends Module {
  readonly approximate: 'none' | 'tanh';
  constructor(options: ModuleOptions & { approximate?: 'none' | 'tanh' } = {}) {
    checkOptions('GELU', options, keysOf('approximate'));
    super(options);
    this.approximate = options.approximate ?? 'none';
  }
  forward(x: Tensor): Tensor {
    return gelu(x, this.approximate);
  }
}

/** 1 / (1 + e⁻ˣ) */
export class Sigmoid extends Module {
  constructor(options: ModuleOptions = {}) {
    checkOptions('Sigmoid', options, NAME_KEY);
    super(options);
  }
  forward(x: Tensor): Tensor {
    return sigmoid(x);
  }
}

export class Tanh extends Module {
  constructor(options: ModuleOptions = {}) {
    checkOptions('Tanh', options, NAME_KEY);
    super(options);
  }
  forward(x: Tensor): Tensor {
    return tanh(x);
  }
}

/** x · σ(x) */
export class SiLU extends Module {
  constructor(options: ModuleOptions = {}) {
    checkOptions('SiLU', options, NAME_KEY);
    super(options);
  }
  forward(x: Tensor): Tensor {
    return silu(x);
  }
}

/** (1/β) · log(1 + e^{βx}) */
export class Softplus extends Module {
  readonly beta: number;
  constructor(options: ModuleOptions & { beta?: number } = {}) {
    checkOptions('Softplus', options, keysOf('beta'));
    super(options);
    this.beta = options.beta ?? 1;
  }
  forward(x: Tensor): Tensor {
    return softplus(x, this.beta);
  }
}

/** e^{x_i} / Σ_j e^{x_j} along `dim` (default −1) */
export class Softmax extends Module {
  readonly dim: number;
  constructor(options: ModuleOptions & { dim?: number } = {}) {
    checkOptions('Softmax', options, keysOf('dim'), { axis: 'dim' });
    super(options);
    this.dim = options.dim ?? -1;
  }
  forward(x: Tensor): Tensor {
    return softmax(x, this.dim);
  }
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}

/** x_i − log Σ_j e^{x_j} along `dim` (default −1), computed stably */
export class LogSoftmax extends Module {
  readonly dim: number;
  constructor(options: ModuleOptions & { dim?: number } = {}) {
    checkOptions('LogSoftmax', options, keysOf('dim'), { axis: 'dim' });
    super(options);
    this.dim = options.dim ?? -1;
  }
  forward(x: Tensor): Tensor {
    return logSoftmax(x, this.dim);
  }
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}

/** relu6(x + 3) / 6: 0 below −3, 1 above 3, linear between (see `hardSigmoid`). */
export class HardSigmoid extends Module {
  constructor(options: ModuleOptions = {}) {
    checkOptions('HardSigmoid', options, NAME_KEY);
    super(options);
  }
  forward(x: Tensor): Tensor {
    return hardSigmoid(x);
  }
}

/** λ·elu(x, α) with SELU's fixed constants (see `selu`). */
export class SELU extends Module {
  constructor(options: ModuleOptions = {}) {
    checkOptions('SELU', options, NAME_KEY);
    super(options);
  }
  forward(x: Tensor): Tensor {
    return selu(x);
  }
}
