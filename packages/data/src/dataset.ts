import { checkOptions, formatShape, fromArray, indexSelect, isTensor, narrow, optionKeys, type Tensor, tidy } from '@ml/tensor';

/**
 * A map-style dataset (PyTorch's `Dataset`): `length` samples, sample `i` from `get(i)`.
 * `get` may return a Promise (samples read from disk or the network); the DataLoader
 * awaits it. Extend this class or pass any object with `length` and `get`.
 */
export abstract class Dataset<T> {
  abstract readonly length: number;
  abstract get(index: number): T | Promise<T>;
}

/**
 * A dataset that can hand over a whole batch at once, faster than fetching samples one by
 * one and stacking them. The DataLoader uses `getBatch` when no custom `collate` is given;
 * the result must equal the default collate of the samples at `indices`.
 */
export interface BatchedDataset<T, B> extends Dataset<T> {
  getBatch(indices: Int32Array): B;
}

/** @internal */
export function hasGetBatch<T>(d: Dataset<T>): d is BatchedDataset<T, unknown> {
  return typeof (d as { getBatch?: unknown }).getBatch === 'function';
}

/** The sample type of a dataset. */
export type SampleOf<D> = D extends Dataset<infer T> ? T : never;

/** One `Tensor` per entry of a tuple of tensors. */
export type TensorTuple<T extends readonly Tensor[]> = { -readonly [K in keyof T]: Tensor };

/** @internal */
export function checkIndex(op: string, index: number, length: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= length) {
    throw new RangeError(`${op}: index ${index} is out of range for a dataset of ${length} samples`);
  }
}

/**
 * Sample `i` is row `i` of each tensor (PyTorch's `TensorDataset`):
 * `new TensorDataset(x, y).get(3)` is `[x[3], y[3]]`. All tensors need the same size
 * along dim 0. A batch is gathered with one op per tensor, not stacked row by row.
 */
export class TensorDataset<T extends readonly Tensor[] = Tensor[]> extends Dataset<TensorTuple<T>> implements BatchedDataset<TensorTuple<T>, TensorTuple<T>> {
  readonly tensors: T;

  constructor(...tensors: T) {
    super();
    if (tensors.length === 0) throw new Error('TensorDataset: pass at least one tensor');
    for (const [i, t] of tensors.entries()) {
      if (!isTensor(t)) {
        const what = Array.isArray(t) ? 'an array (pass the tensors themselves: new TensorDataset(x, y))' : typeof t;
        throw new TypeError(`TensorDataset: argument ${i} is ${what}, not a tensor`);
      }
    }
    const n = tensors[0].ndim === 0 ? -1 : tensors[0].shape[0];
    for (const [i, t] of tensors.entries()) {
      if (t.ndim === 0 || t.shape[0] !== n) {
        throw new Error(
          `TensorDataset: every tensor needs the same size along dim 0 (the samples); tensor 0 is ${formatShape(tensors[0].shape)}, tensor ${i} is ${formatShape(t.shape)}`,
        );
      }
    }
    this.tensors = tensors;
  }

  get length(): number {
    return this.tensors[0].shape[0];
  }

  /** Row `index` of each tensor (views, no copy). */
  get(index: number): TensorTuple<T> {
    checkIndex('TensorDataset.get', index, this.length);
    return tidy(() => this.tensors.map((t) => t.select(0, index)) as TensorTuple<T>);
  }

  /** Rows `indices` of each tensor, gathered in one op per tensor. */
  getBatch(indices: Int32Array): TensorTuple<T> {
    for (const i of indices) checkIndex('TensorDataset.getBatch', i, this.length);
    return tidy(() => this.tensors.map((t) => gatherRows(t, indices)) as TensorTuple<T>);
  }
}

/**
 * Rows `indices` of `t` along dim 0: a view when they are one run of consecutive indices
 * (an unshuffled batch: no copy), else one `indexSelect` (its row gather copies whole rows;
 * a `concat` of one view per row, used before, took 0.6–0.7 ms for a shuffled batch of 64
 * MNIST images against 0.07–0.08 ms, on the cpu and wasm backends alike).
 */
function gatherRows(t: Tensor, indices: Int32Array): Tensor {
  let run = true;
  for (let k = 1; k < indices.length && run; k++) run = indices[k] === indices[k - 1] + 1;
  if (run) return narrow(t, 0, indices.length === 0 ? 0 : indices[0], indices.length);
  return indexSelect(t, 0, fromArray(indices, [indices.length], { dtype: 'int32', backend: t.backend.name }));
}

/**
 * The samples of `dataset` at `indices`, in that order (PyTorch's `Subset`), as returned
 * by `randomSplit`. Batches go through the parent's fast path when it has one.
 */
export class Subset<T> extends Dataset<T> {
  readonly dataset: Dataset<T>;
  readonly indices: Int32Array;

  constructor(dataset: Dataset<T>, indices: ArrayLike<number>) {
    super();
    const n = dataset.length;
    for (let k = 0; k < indices.length; k++) checkIndex('Subset', indices[k], n);
    this.dataset = dataset;
    this.indices = Int32Array.from(indices);
  }

  get length(): number {
    return this.indices.length;
  }

  get(index: number): T | Promise<T> {
    checkIndex('Subset.get', index, this.indices.length);
    return this.dataset.get(this.indices[index]);
  }

  /** @internal used by the DataLoader when the parent dataset gathers batches itself */
  parentIndices(indices: Int32Array): Int32Array {
    const out = new Int32Array(indices.length);
    for (let k = 0; k < indices.length; k++) {
      checkIndex('Subset.get', indices[k], this.indices.length);
      out[k] = this.indices[indices[k]];
    }
    return out;
  }
}

export interface IterableDatasetFromOptions {
  /** number of samples, when known (the loader then reports the number of batches) */
  length?: number;
}

const FROM_KEYS = optionKeys<IterableDatasetFromOptions>()(['length']);

/**
 * A dataset read sequentially (PyTorch's `IterableDataset`): streams, generators, files
 * too large to index. The DataLoader batches consecutive samples and cannot shuffle it.
 * Give `length` when the number of samples is known, so the loader can report batches.
 */
export abstract class IterableDataset<T> implements AsyncIterable<T> {
  /** number of samples if known */
  declare readonly length?: number;
  abstract [Symbol.asyncIterator](): AsyncIterator<T>;

  /** Wrap a generator function (sync or async); it is called again for every pass. */
  static from<T>(source: () => Iterable<T> | AsyncIterable<T>, options: IterableDatasetFromOptions = {}): IterableDataset<T> {
    checkOptions('IterableDataset.from', options, FROM_KEYS);
    return new GeneratorDataset(source, options.length);
  }
}

class GeneratorDataset<T> extends IterableDataset<T> {
  override readonly length?: number;
  constructor(
    private readonly source: () => Iterable<T> | AsyncIterable<T>,
    length?: number,
  ) {
    super();
    this.length = length;
  }
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    yield* this.source();
  }
}

/**
 * `fn` applied to every sample of `dataset` when it is read (a transform, as
 * torchvision's `transform=`). Tensors `fn` creates along the way are disposed; only its
 * result is kept.
 */
export class MappedDataset<T, U> extends Dataset<U> {
  constructor(
    readonly dataset: Dataset<T>,
    readonly fn: (sample: T, index: number) => U,
  ) {
    super();
  }

  get length(): number {
    return this.dataset.length;
  }

  get(index: number): U | Promise<U> {
    const sample = this.dataset.get(index);
    if (isPromiseLike(sample)) return Promise.resolve(sample).then((s) => this.apply(s, index));
    return this.apply(sample, index);
  }

  private apply(sample: T, index: number): U {
    return tidy(() => {
      const out = this.fn(sample, index);
      if (isPromiseLike(out)) throw new TypeError('MappedDataset: fn must be synchronous (return the sample, not a Promise)');
      return out;
    });
  }
}

/** @internal */
export function isPromiseLike<T>(v: T | PromiseLike<T>): v is PromiseLike<T> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}
