import { cast, checkOptions, type DType, formatShape, isFloat, optionKeys, type Tensor, tensor } from '@ml/tensor';

/** A function from one sample (or part of one) to another, applied when it is read. */
export type Transform<A, B> = (x: A) => B;

/**
 * Chain transforms left to right (torchvision's `Compose`):
 * `compose(toFloat, normalize(0.1307, 0.3081))(x)` is `normalize(…)(toFloat(x))`.
 */
export function compose<A>(): Transform<A, A>;
export function compose<A, B>(f1: Transform<A, B>): Transform<A, B>;
export function compose<A, B, C>(f1: Transform<A, B>, f2: Transform<B, C>): Transform<A, C>;
export function compose<A, B, C, D>(f1: Transform<A, B>, f2: Transform<B, C>, f3: Transform<C, D>): Transform<A, D>;
export function compose<A, B, C, D, E>(f1: Transform<A, B>, f2: Transform<B, C>, f3: Transform<C, D>, f4: Transform<D, E>): Transform<A, E>;
export function compose<A, B, C, D, E, F>(
  f1: Transform<A, B>,
  f2: Transform<B, C>,
  f3: Transform<C, D>,
  f4: Transform<D, E>,
  f5: Transform<E, F>,
): Transform<A, F>;
export function compose(...fns: Transform<unknown, unknown>[]): Transform<unknown, unknown>;
export function compose(...fns: Transform<unknown, unknown>[]): Transform<unknown, unknown> {
  for (const [i, f] of fns.entries()) if (typeof f !== 'function') throw new TypeError(`compose: transform ${i} is not a function`);
  return (x) => fns.reduce((v, f) => f(v), x);
}

/** A transform from any function (torchvision's `Lambda`), for readability in a `compose` chain. */
export function lambda<A, B>(fn: (x: A) => B): Transform<A, B> {
  if (typeof fn !== 'function') throw new TypeError('lambda: expected a function');
  return fn;
}

/** Cast to float32 (integer pixels or labels to floats). */
export function toFloat(x: Tensor): Tensor {
  return x.dtype === 'float32' ? x : cast(x, 'float32');
}

/** Cast to a dtype, as a transform. */
export function toDType(dtype: DType): Transform<Tensor, Tensor> {
  return (x) => cast(x, dtype);
}

export interface NormalizeOptions {
  /** the channel dim of the samples the transform sees (default 0: [C, H, W] images, [F] feature vectors) */
  dim?: number;
}

const NORMALIZE_KEYS = optionKeys<NormalizeOptions>()(['dim']);

/**
 * (x − mean) / std per channel (torchvision's `Normalize`): one number for all values, or
 * one per channel along `dim`. MNIST: `normalize(0.1307, 0.3081)`; RGB:
 * `normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])`.
 */
export function normalize(mean: number | readonly number[], std: number | readonly number[], options: NormalizeOptions = {}): Transform<Tensor, Tensor> {
  checkOptions('normalize', options, NORMALIZE_KEYS, { axis: 'dim' });
  const means = typeof mean === 'number' ? [mean] : [...mean];
  const stds = typeof std === 'number' ? [std] : [...std];
  if (means.length === 0 || stds.length === 0) throw new RangeError('normalize: mean and std must not be empty');
  if (typeof mean !== 'number' && typeof std !== 'number' && means.length !== stds.length) {
    throw new RangeError(`normalize: ${means.length} means but ${stds.length} stds`);
  }
  for (const s of stds) if (!(s > 0) || !Number.isFinite(s)) throw new RangeError(`normalize: std must be positive and finite, got ${s}`);
  for (const m of means) if (!Number.isFinite(m)) throw new RangeError(`normalize: mean must be finite, got ${m}`);
  const channels = Math.max(means.length, stds.length);
  const dim = options.dim ?? 0;
  return (x) => {
    const src = isFloat(x.dtype) ? x : cast(x, 'float32');
    if (channels === 1) return src.sub(means[0]).div(stds[0]);
    const d = dim < 0 ? dim + x.ndim : dim;
    if (d < 0 || d >= x.ndim || x.shape[d] !== channels) {
      throw new RangeError(`normalize: ${channels} channel values for dim ${dim} of a tensor ${formatShape(x.shape)}`);
    }
    // [C] → [C, 1, ..., 1] (after `d` leading dims) so it broadcasts along the channel dim
    const shape = x.shape.map((n, i) => (i === d ? n : 1));
    const perChannel = (v: number[]) => Array.from({ length: channels }, (_, i) => (v.length === 1 ? v[0] : v[i]));
    const m = tensor(perChannel(means), { dtype: src.dtype, backend: src.backend.name }).reshape(shape);
    const s = tensor(perChannel(stds), { dtype: src.dtype, backend: src.backend.name }).reshape(shape);
    return src.sub(m).div(s);
  };
}
