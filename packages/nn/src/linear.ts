import { flatten, matmul, reshape, sizeOf, formatShape, type DType, type Tensor } from '@ml/tensor';
import { fanInUniform, getInitializer, type Initializer, type InitializerName } from './init.js';
import { Module, type ModuleOptions } from './module.js';

/** Options shared by layers that own weights. */
export interface LayerOptions extends ModuleOptions {
  /** dtype of the parameters (default float32) */
  dtype?: DType;
}

export function checkPositiveInt(layer: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${layer}: ${name} must be a positive integer, got ${v}`);
}

/** Create a parameter tensor with `initializer` (or `fallback`), honouring the layer's dtype. */
export function makeWeight(shape: readonly number[], spec: Initializer | InitializerName | undefined, fallback: Initializer, dtype: DType | undefined): Tensor {
  return (spec ? getInitializer(spec) : fallback)(shape, { dtype: dtype ?? 'float32' });
}

export interface LinearOptions extends LayerOptions {
  inFeatures: number;
  outFeatures: number;
  /** add a learned bias (default true) */
  bias?: boolean;
  /** default: PyTorch's U(−1/√in, 1/√in) */
  weightInit?: Initializer | InitializerName;
  biasInit?: Initializer | InitializerName;
}

/** y = x Wᵀ + b, with W of shape [outFeatures, inFeatures] (PyTorch's layout). Keras: Dense. */
export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  weight: Tensor;
  bias: Tensor | null = null;

  constructor(options: LinearOptions) {
    super(options);
    checkPositiveInt('Linear', 'inFeatures', options.inFeatures);
    checkPositiveInt('Linear', 'outFeatures', options.outFeatures);
    this.inFeatures = options.inFeatures;
    this.outFeatures = options.outFeatures;
    const u = fanInUniform(options.inFeatures);
    this.weight = this.registerParameter('weight', makeWeight([options.outFeatures, options.inFeatures], options.weightInit, u, options.dtype));
    if (options.bias ?? true) this.bias = this.registerParameter('bias', makeWeight([options.outFeatures], options.biasInit, u, options.dtype));
  }

  forward(x: Tensor): Tensor {
    if (x.ndim < 1 || x.shape[x.ndim - 1] !== this.inFeatures) {
      throw new Error(`Linear: input ${formatShape(x.shape)} must end in inFeatures=${this.inFeatures} (weight ${formatShape(this.weight.shape)})`);
    }
    const y = matmul(x, this.weight.T);
    return this.bias ? y.add(this.bias) : y;
  }

  override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}

/** Keras's name for Linear: `new Dense({ inFeatures: 784, outFeatures: 128 })`. */
export class Dense extends Linear {}

/** Returns its input. */
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

/** Flatten dims startDim..endDim (default: all but the batch dim). */
export class Flatten extends Module {
  readonly startDim: number;
  readonly endDim: number;
  constructor(options: ModuleOptions & { startDim?: number; endDim?: number } = {}) {
    super(options);
    this.startDim = options.startDim ?? 1;
    this.endDim = options.endDim ?? -1;
  }
  forward(x: Tensor): Tensor {
    return flatten(x, this.startDim, this.endDim);
  }
  override extraRepr(): string {
    return `startDim=${this.startDim}, endDim=${this.endDim}`;
  }
}

/** Reshape each sample to `shape` (the batch dim is kept), as Keras's Reshape; one entry may be −1. */
export class Reshape extends Module {
  readonly shape: readonly number[];
  constructor(options: ModuleOptions & { shape: readonly number[] }) {
    super(options);
    this.shape = [...options.shape];
  }
  forward(x: Tensor): Tensor {
    const per = sizeOf(x.shape.slice(1));
    const known = this.shape.filter((d) => d !== -1);
    if (this.shape.filter((d) => d === -1).length > 1 || (per % Math.max(1, sizeOf(known)) !== 0) ||
        (!this.shape.includes(-1) && sizeOf(known) !== per)) {
      throw new Error(`Reshape: cannot reshape input ${formatShape(x.shape)} to [batch, ${this.shape.join(', ')}]`);
    }
    return reshape(x, [x.shape[0], ...this.shape]);
  }
  override extraRepr(): string {
    return `shape=[${this.shape.join(', ')}]`;
  }
}
