import { noGrad } from '@ml/autograd';
import { checkOptions, formatShape, full, layerNorm, mean, rsqrt, scalar, variance, type Tensor, optionKeys } from '@ml/tensor';
import { checkPositiveInt, type LayerOptions } from './linear.js';
import { Module } from './module.js';

export interface BatchNormOptions extends LayerOptions {
  numFeatures: number;
  /** added to the variance (default 1e-5) */
  eps?: number;
  /** weight of the new batch in the running averages (default 0.1); null: cumulative average */
  momentum?: number | null;
  /** learn a per-channel scale γ and shift β (default true) */
  affine?: boolean;
  /** keep running mean/var for eval mode (default true) */
  trackRunningStats?: boolean;
}

const BATCH_NORM_KEYS = optionKeys<BatchNormOptions>()(['numFeatures', 'eps', 'momentum', 'affine', 'trackRunningStats', 'dtype', 'name']);

/**
 * Batch normalization (Ioffe & Szegedy): y = (x − E[x]) / √(Var[x] + ε) · γ + β per channel.
 * In training the batch statistics are used (biased variance) and the running averages
 * are updated with the unbiased variance: r ← (1 − momentum)·r + momentum·batch.
 * In eval mode the running averages are used.
 */
abstract class BatchNormBase extends Module {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number | null;
  weight: Tensor | null = null;
  bias: Tensor | null = null;
  runningMean: Tensor | null = null;
  runningVar: Tensor | null = null;
  numBatchesTracked: Tensor | null = null;
  protected abstract readonly ndims: readonly number[];

  constructor(options: BatchNormOptions) {
    super(options);
    const kind = new.target.name;
    checkOptions(kind, options, BATCH_NORM_KEYS);
    checkPositiveInt(kind, 'numFeatures', options.numFeatures);
    this.numFeatures = options.numFeatures;
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum === undefined ? 0.1 : options.momentum;
    if (this.momentum !== null && !(this.momentum >= 0 && this.momentum <= 1)) throw new Error(`${kind}: momentum must be in [0, 1], got ${this.momentum}`);
    if (!(this.eps >= 0)) throw new Error(`${kind}: eps must be ≥ 0, got ${this.eps}`);
    const dtype = options.dtype ?? 'float32';
    const c = [options.numFeatures];
    if (options.affine ?? true) {
      this.weight = this.registerParameter('weight', full(c, 1, { dtype }));
      this.bias = this.registerParameter('bias', full(c, 0, { dtype }));
    }
    if (options.trackRunningStats ?? true) {
      this.runningMean = this.registerBuffer('running_mean', full(c, 0, { dtype }));
      this.runningVar = this.registerBuffer('running_var', full(c, 1, { dtype }));
      this.numBatchesTracked = this.registerBuffer('num_batches_tracked', full([], 0, { dtype: 'int32' }));
    }
  }

  forward(x: Tensor): Tensor {
    const kind = this.constructor.name;
    if (!this.ndims.includes(x.ndim) || x.shape[1] !== this.numFeatures) {
      throw new Error(`${kind}: expected input of ${this.ndims.map((d) => `${d}-d`).join(' or ')} shape [N, ${this.numFeatures}, …], got ${formatShape(x.shape)}`);
    }
    const dims = [0, ...Array.from({ length: x.ndim - 2 }, (_, i) => i + 2)];
    const bshape = x.shape.map((d, i) => (i === 1 ? d : 1));
    const useBatch = this.training || this.runningMean === null;
    let mu: Tensor;
    let v: Tensor;
    if (useBatch) {
      const n = x.size / this.numFeatures;
      if (this.training && n <= 1) throw new Error(`${kind}: expected more than 1 value per channel when training, got input ${formatShape(x.shape)}`);
      mu = mean(x, dims, true);
      v = variance(x, dims, { keepdim: true, correction: 0 });
      if (this.training && this.runningMean && this.runningVar && this.numBatchesTracked) this.#updateRunning(mu, v, n);
    } else {
      mu = this.runningMean!.reshape(bshape);
      v = this.runningVar!.reshape(bshape);
    }
    let y = x.sub(mu).mul(rsqrt(v.add(this.eps)));
    if (this.weight && this.bias) y = y.mul(this.weight.reshape(bshape)).add(this.bias.reshape(bshape));
    return y;
  }

  #updateRunning(mu: Tensor, v: Tensor, n: number): void {
    noGrad(() => {
      const tracked = this.numBatchesTracked!;
      tracked.assign(tracked.add(scalar(1, { dtype: 'int32' })));
      const m = this.momentum ?? 1 / tracked.item();
      const rm = this.runningMean!;
      const rv = this.runningVar!;
      const unbiased = v.detach().reshape([this.numFeatures]).mul(n / (n - 1));
      rm.assign(rm.mul(1 - m).add(mu.detach().reshape([this.numFeatures]).mul(m)));
      rv.assign(rv.mul(1 - m).add(unbiased.mul(m)));
    });
  }

  override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}, affine=${this.weight !== null}, trackRunningStats=${this.runningMean !== null}`;
  }
}

/** BatchNorm over [N, C] or [N, C, L] inputs (statistics per channel C). */
export class BatchNorm1d extends BatchNormBase {
  protected readonly ndims = [2, 3];
}

/** BatchNorm over [N, C, H, W] inputs (statistics per channel C over N, H, W). */
export class BatchNorm2d extends BatchNormBase {
  protected readonly ndims = [4];
}

export interface LayerNormOptions extends LayerOptions {
  /** trailing dims to normalize over, e.g. [dModel] */
  normalizedShape: number | readonly number[];
  eps?: number;
  /** learn γ and β of shape normalizedShape (default true) */
  elementwiseAffine?: boolean;
}

const LAYER_NORM_KEYS = optionKeys<LayerNormOptions>()(['normalizedShape', 'eps', 'elementwiseAffine', 'dtype', 'name']);

/**
 * Layer normalization (Ba et al.): each sample is normalized over its last dims,
 * y = (x − E[x]) / √(Var[x] + ε) · γ + β, with the biased variance; same in train and eval.
 * Runs as @ml/tensor's one-op `layerNorm` (one pass per row on the CPU-family backends).
 */
export class LayerNorm extends Module {
  readonly normalizedShape: readonly number[];
  readonly eps: number;
  weight: Tensor | null = null;
  bias: Tensor | null = null;

  constructor(options: LayerNormOptions) {
    super(options);
    checkOptions('LayerNorm', options, LAYER_NORM_KEYS, { epsilon: 'eps' });
    const shape = typeof options.normalizedShape === 'number' ? [options.normalizedShape] : [...options.normalizedShape];
    if (shape.length === 0) throw new Error('LayerNorm: normalizedShape must have at least one dim');
    shape.forEach((d) => checkPositiveInt('LayerNorm', 'normalizedShape', d));
    this.normalizedShape = shape;
    this.eps = options.eps ?? 1e-5;
    const dtype = options.dtype ?? 'float32';
    if (options.elementwiseAffine ?? true) {
      this.weight = this.registerParameter('weight', full(shape, 1, { dtype }));
      this.bias = this.registerParameter('bias', full(shape, 0, { dtype }));
    }
  }

  forward(x: Tensor): Tensor {
    const k = this.normalizedShape.length;
    const tail = x.shape.slice(x.ndim - k);
    if (x.ndim < k || tail.some((d, i) => d !== this.normalizedShape[i])) {
      throw new Error(`LayerNorm: input ${formatShape(x.shape)} must end in normalizedShape ${formatShape(this.normalizedShape)}`);
    }
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }

  override extraRepr(): string {
    return `[${this.normalizedShape.join(', ')}], eps=${this.eps}, elementwiseAffine=${this.weight !== null}`;
  }
}
