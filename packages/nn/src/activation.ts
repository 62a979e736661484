import { elu, gelu, leakyRelu, logSoftmax, relu, sigmoid, softmax, softplus, silu, tanh, type Tensor } from '@ml/tensor';
import { Module, type ModuleOptions } from './module.js';

/** max(0, x) */
export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

/** max(0, x) + negativeSlope · min(0, x) */
export class LeakyReLU extends Module {
  readonly negativeSlope: number;
  constructor(options: ModuleOptions & { negativeSlope?: number } = {}) {
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
    super(options);
    this.approximate = options.approximate ?? 'none';
  }
  forward(x: Tensor): Tensor {
    return gelu(x, this.approximate);
  }
}

/** 1 / (1 + e⁻ˣ) */
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return sigmoid(x);
  }
}

export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return tanh(x);
  }
}

/** x · σ(x) */
export class SiLU extends Module {
  forward(x: Tensor): Tensor {
    return silu(x);
  }
}

/** (1/β) · log(1 + e^{βx}) */
export class Softplus extends Module {
  readonly beta: number;
  constructor(options: ModuleOptions & { beta?: number } = {}) {
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
