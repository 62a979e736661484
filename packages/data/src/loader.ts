import { checkOptions, formatShape, fromArray, isTensor, optionKeys, stack, type Tensor, tidy } from '@ml/tensor';
import { type Dataset, hasGetBatch, isPromiseLike, IterableDataset, Subset } from './dataset.js';
import { resolveSeed, Rng } from './random.js';
import { isRecord } from './table.js';

/**
 * What the default collate makes of a sample type: tensors are stacked along a new dim 0,
 * numbers and booleans become 1-D tensors, typed arrays rows of a 2-D tensor, strings
 * stay a list, and tuples and objects are collated field by field.
 */
export type Collated<T> = T extends Tensor | number | boolean | Float32Array | Float64Array | Int32Array
  ? Tensor
  : T extends string
    ? string[]
    : T extends readonly unknown[]
      ? { -readonly [K in keyof T]: Collated<T[K]> }
      : T extends object
        ? { -readonly [K in keyof T]: Collated<T[K]> }
        : never;

export interface DataLoaderOptions<T, B> {
  /** samples per batch (default 1) */
  batchSize?: number;
  /** a new random order every epoch (default false) */
  shuffle?: boolean;
  /**
   * seed of the shuffles: epoch e uses the order drawn from (seed, e), the same in every
   * run. Without it each epoch draws its seed from @ml/tensor's generator (`manualSeed`).
   */
  seed?: number;
  /** drop the last batch when it is smaller than batchSize (default false) */
  dropLast?: boolean;
  /** samples → batch; default `defaultCollate` */
  collate?: (samples: T[]) => B;
  /** batches loaded ahead of the one being consumed (default 2; 0 loads on demand) */
  prefetch?: number;
}

const DATA_LOADER_KEYS = optionKeys<DataLoaderOptions<unknown, unknown>>()(['batchSize', 'shuffle', 'seed', 'dropLast', 'collate', 'prefetch']);
/** PyTorch's names that spelling alone does not lead to ours */
const DATA_LOADER_ALIASES = { collate_fn: 'collate', collateFn: 'collate', prefetch_factor: 'prefetch', prefetchFactor: 'prefetch' };

const INT32_MAX = 2 ** 31 - 1;

/**
 * Batch a list of samples (PyTorch's `default_collate`): tensors of one shape and dtype
 * are stacked to [B, ...]; numbers become a [B] tensor, int32 when every one is an
 * integer (class labels) and float32 otherwise; booleans a bool tensor; Float32Array,
 * Float64Array and Int32Array rows a [B, n] tensor of their dtype; strings stay a list;
 * tuples and plain objects are collated field by field. Tensors made on the way are disposed.
 */
export function defaultCollate<T>(samples: readonly T[]): Collated<T> {
  if (samples.length === 0) throw new Error('collate: no samples to batch');
  return tidy(() => collateField(samples, '')) as Collated<T>;
}

function describe(v: unknown): string {
  if (isTensor(v)) return `a tensor ${formatShape(v.shape)} (${v.dtype})`;
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function mismatch(path: string, k: number, first: unknown, v: unknown): Error {
  return new TypeError(
    `collate: sample ${k}${path} is ${describe(v)} but sample 0${path} is ${describe(first)}; samples must match to be batched (pass a collate function to pad or combine them)`,
  );
}

function collateField(values: readonly unknown[], path: string): unknown {
  const first = values[0];
  if (isTensor(first)) {
    values.forEach((v, k) => {
      if (!isTensor(v) || v.dtype !== first.dtype || v.ndim !== first.ndim || v.shape.some((d, i) => d !== first.shape[i])) {
        throw mismatch(path, k, first, v);
      }
    });
    return stack(values as Tensor[]);
  }
  if (typeof first === 'number' || typeof first === 'boolean') {
    values.forEach((v, k) => {
      if (typeof v !== typeof first) throw mismatch(path, k, first, v);
    });
    if (typeof first === 'boolean') return fromArray(values as boolean[], [values.length], { dtype: 'bool' });
    const nums = values as number[];
    const ints = nums.every((v) => Number.isInteger(v) && Math.abs(v) <= INT32_MAX);
    return fromArray(nums, [nums.length], { dtype: ints ? 'int32' : 'float32' });
  }
  if (typeof first === 'string') {
    values.forEach((v, k) => {
      if (typeof v !== 'string') throw mismatch(path, k, first, v);
    });
    return [...(values as string[])];
  }
  if (first instanceof Float32Array || first instanceof Float64Array || first instanceof Int32Array) {
    const n = first.length;
    const Ctor = first.constructor as Float32ArrayConstructor | Float64ArrayConstructor | Int32ArrayConstructor;
    const out = new Ctor(values.length * n);
    values.forEach((v, k) => {
      if (!(v instanceof Ctor) || v.length !== n) throw mismatch(path, k, first, v);
      out.set(v, k * n);
    });
    const dtype = first instanceof Float32Array ? 'float32' : first instanceof Float64Array ? 'float64' : 'int32';
    return fromArray(out, [values.length, n], { dtype });
  }
  if (Array.isArray(first)) {
    values.forEach((v, k) => {
      if (!Array.isArray(v) || v.length !== first.length) throw mismatch(path, k, first, v);
    });
    return first.map((_, i) => collateField(values.map((v) => (v as unknown[])[i]), `${path}[${i}]`));
  }
  if (isRecord(first)) {
    const keys = Object.keys(first);
    values.forEach((v, k) => {
      if (typeof v !== 'object' || v === null || Object.keys(v).length !== keys.length || keys.some((key) => !Object.hasOwn(v, key))) {
        throw new TypeError(`collate: sample ${k} has keys {${v && typeof v === 'object' ? Object.keys(v).join(', ') : ''}}, sample 0 has {${keys.join(', ')}}`);
      }
    });
    // a plain object (tidy keeps the tensors it finds in those), its fields made as own
    // properties: any name, __proto__ included, is a field of the batch
    return Object.fromEntries(keys.map((key) => [key, collateField(values.map((v) => (v as Record<string, unknown>)[key]), `${path}.${key}`)]));
  }
  throw new TypeError(`collate: cannot batch sample 0${path}, ${describe(first)}; pass a collate function to the DataLoader`);
}

/** Dispose every tensor in a batch (arrays and plain objects are searched). */
function disposeBatch(b: unknown): void {
  if (isTensor(b)) b.dispose();
  else if (Array.isArray(b)) b.forEach(disposeBatch);
  else if (isRecord(b)) Object.values(b).forEach(disposeBatch);
}

function positiveInt(op: string, name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${op}: ${name} must be a positive integer, got ${v}`);
  return v;
}

/**
 * Batches of a dataset (PyTorch's `DataLoader`), as an async iterable:
 *
 * ```ts
 * const loader = new DataLoader(new TensorDataset(x, y), { batchSize: 64, shuffle: true, seed: 0 });
 * for (let epoch = 0; epoch < 3; epoch++) for await (const [xb, yb] of loader) { ... }
 * ```
 *
 * Every pass over the loader is one epoch with its own order. Each batch is new tensors
 * that belong to the consumer (dispose them, or let `tidy` do it). While one batch is
 * consumed the next `prefetch` are loaded, so an async dataset's reads overlap training.
 */
export class DataLoader<T, B = Collated<T>> implements AsyncIterable<B> {
  readonly dataset: Dataset<T> | IterableDataset<T>;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly prefetch: number;
  readonly seed: number | undefined;
  private readonly collate: ((samples: T[]) => B) | undefined;
  private nextEpoch = 0;

  constructor(dataset: Dataset<T> | IterableDataset<T>, options: DataLoaderOptions<T, B> = {}) {
    checkOptions('DataLoader', options, DATA_LOADER_KEYS, DATA_LOADER_ALIASES);
    this.dataset = dataset;
    this.batchSize = positiveInt('DataLoader', 'batchSize', options.batchSize ?? 1);
    this.shuffle = options.shuffle ?? false;
    this.dropLast = options.dropLast ?? false;
    this.prefetch = options.prefetch ?? 2;
    if (!Number.isInteger(this.prefetch) || this.prefetch < 0) throw new RangeError(`DataLoader: prefetch must be a non-negative integer, got ${options.prefetch}`);
    this.seed = options.seed === undefined ? undefined : resolveSeed(options.seed, 'DataLoader');
    this.collate = options.collate;
    if (dataset instanceof IterableDataset && this.shuffle) {
      throw new Error('DataLoader: an IterableDataset is read in order and cannot be shuffled; shuffle its source, or use a map-style Dataset');
    }
  }

  /** Number of batches per epoch (NaN for an IterableDataset of unknown length). */
  get length(): number {
    const n = this.dataset.length ?? NaN;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The epoch the next pass will be (0 for the first). */
  get epoch(): number {
    return this.nextEpoch;
  }

  /** Set the epoch of the next pass, e.g. when resuming training (its shuffle follows the seed). */
  setEpoch(epoch: number): void {
    if (!Number.isInteger(epoch) || epoch < 0) throw new RangeError(`DataLoader.setEpoch: epoch must be a non-negative integer, got ${epoch}`);
    this.nextEpoch = epoch;
  }

  /** The sample order of `epoch`: 0..n-1, or a permutation when shuffling. */
  order(epoch: number): Int32Array {
    const n = (this.dataset as Dataset<T>).length;
    if (!this.shuffle) return Int32Array.from({ length: n }, (_, i) => i);
    const seed = this.seed ?? resolveSeed(undefined, 'DataLoader');
    return new Rng(seed, epoch).permutation(n);
  }

  [Symbol.asyncIterator](): AsyncIterator<B> {
    const epoch = this.nextEpoch++;
    return this.dataset instanceof IterableDataset ? this.iterate(this.dataset) : this.batches(this.dataset, this.order(epoch));
  }

  private collateSamples(samples: T[]): B {
    if (this.collate) return tidy(() => this.collate!(samples));
    return defaultCollate(samples) as B;
  }

  /** The batch of samples `indices`: the dataset's own gather when it has one, else get + collate. */
  private async loadBatch(dataset: Dataset<T>, indices: Int32Array): Promise<B> {
    if (!this.collate) {
      let d: Dataset<T> = dataset;
      let idx = indices;
      while (d instanceof Subset) {
        idx = d.parentIndices(idx);
        d = d.dataset;
      }
      if (hasGetBatch(d)) return d.getBatch(idx) as B;
    }
    const read = (i: number): T | Promise<T> => {
      try {
        const s = dataset.get(i);
        return isPromiseLike(s) ? Promise.resolve(s).catch((e: unknown) => Promise.reject(sampleError(i, e))) : s;
      } catch (e) {
        throw sampleError(i, e);
      }
    };
    const raw = Array.from(indices, read);
    const samples = raw.some(isPromiseLike) ? await Promise.all(raw) : (raw as T[]);
    return this.collateSamples(samples);
  }

  private async *batches(dataset: Dataset<T>, order: Int32Array): AsyncGenerator<B> {
    const nb = this.length;
    const pending: Promise<B>[] = [];
    let next = 0;
    const start = (): void => {
      const lo = next * this.batchSize;
      const p = this.loadBatch(dataset, order.subarray(lo, Math.min(lo + this.batchSize, order.length)));
      // a batch that fails while another is awaited must not count as an unhandled rejection
      p.catch(() => {});
      pending.push(p);
      next++;
    };
    try {
      while (next < nb || pending.length > 0) {
        if (pending.length === 0) start();
        const current = pending.shift()!;
        while (pending.length < this.prefetch && next < nb) start();
        yield await current;
      }
    } finally {
      // the consumer stopped early: batches loaded ahead are nobody's, free them
      for (const p of pending) p.then(disposeBatch, () => {});
    }
  }

  private async *iterate(dataset: IterableDataset<T>): AsyncGenerator<B> {
    const source = dataset[Symbol.asyncIterator]();
    const size = this.batchSize;
    const produce = async (): Promise<IteratorResult<B, undefined>> => {
      const buf: T[] = [];
      while (buf.length < size) {
        const r = await source.next();
        if (r.done) break;
        buf.push(r.value);
      }
      if (buf.length === 0 || (buf.length < size && this.dropLast)) return { done: true, value: undefined };
      return { done: false, value: this.collateSamples(buf) };
    };
    // batches come off one source in order, so each is chained after the previous one
    const pending: Promise<IteratorResult<B, undefined>>[] = [];
    let tail: Promise<unknown> = Promise.resolve();
    let exhausted = false;
    const start = (): void => {
      const p = tail.then(produce);
      p.catch(() => {});
      tail = p.then(
        (r) => {
          if (r.done) exhausted = true;
        },
        () => {
          exhausted = true;
        },
      );
      pending.push(p);
    };
    try {
      while (true) {
        if (pending.length === 0) start();
        const current = pending.shift()!;
        while (pending.length < this.prefetch && !exhausted) start();
        const r = await current;
        if (r.done) return;
        yield r.value;
      }
    } finally {
      for (const p of pending) p.then((r) => !r.done && disposeBatch(r.value), () => {});
      await source.return?.();
    }
  }
}

function sampleError(index: number, e: unknown): Error {
  const msg = e instanceof Error ? e.message : String(e);
  return new Error(`DataLoader: reading sample ${index} failed: ${msg}`, { cause: e });
}
