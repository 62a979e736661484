import { checkOptions, isTensor, optionKeys, type Tensor } from '@ml/tensor';
import { type Dataset, Subset } from './dataset.js';
import { resolveSeed, Rng } from './random.js';

export interface SplitOptions {
  /** seed of the shuffle; without it drawn from @ml/tensor's generator (`manualSeed`) */
  seed?: number;
}

const SPLIT_KEYS = optionKeys<SplitOptions>()(['seed']);
/** scikit-learn's name for the seed */
const SEED_ALIASES = { random_state: 'seed', randomState: 'seed' };

/** Sizes from fractions (floor each, then hand the remainder out one by one from the first) or counts. */
function splitSizes(op: string, n: number, lengths: readonly number[]): number[] {
  if (lengths.length === 0) throw new RangeError(`${op}: lengths must not be empty`);
  const total = lengths.reduce((a, b) => a + b, 0);
  const fractions = lengths.every((v) => v >= 0 && v <= 1) && Math.abs(total - 1) < 1e-6 && !(total === n && lengths.every(Number.isInteger));
  if (fractions) {
    const sizes = lengths.map((f) => Math.floor(n * f));
    let rest = n - sizes.reduce((a, b) => a + b, 0);
    for (let i = 0; rest > 0; i = (i + 1) % sizes.length, rest--) sizes[i]++;
    return sizes;
  }
  if (!lengths.every((v) => Number.isInteger(v) && v >= 0) || total !== n) {
    throw new RangeError(`${op}: lengths ${JSON.stringify(lengths)} must be fractions summing to 1 or counts summing to the dataset's ${n} samples`);
  }
  return [...lengths];
}

/**
 * Split a dataset into non-overlapping random subsets (PyTorch's `random_split`):
 * `randomSplit(ds, [0.8, 0.2], { seed: 0 })` or with counts `[800, 200]`. Fractions are
 * floored and the samples left over go one each to the first subsets.
 */
export function randomSplit<T>(dataset: Dataset<T>, lengths: readonly number[], options: SplitOptions = {}): Subset<T>[] {
  checkOptions('randomSplit', options, SPLIT_KEYS, { ...SEED_ALIASES, generator: 'seed' });
  const n = dataset.length;
  const sizes = splitSizes('randomSplit', n, lengths);
  const perm = new Rng(resolveSeed(options.seed, 'randomSplit')).permutation(n);
  let at = 0;
  return sizes.map((s) => {
    const part = new Subset(dataset, perm.subarray(at, at + s));
    at += s;
    return part;
  });
}

export interface TrainValidationOptions extends SplitOptions {
  /** share of samples held out for validation (default 0.2) */
  validationFraction?: number;
  /** shuffle before splitting (default true); false keeps the last samples for validation, as Keras's validationSplit */
  shuffle?: boolean;
  /** class labels, one per sample: split each class in the same proportion (stratified) */
  stratify?: Labels;
}

const TRAIN_VALIDATION_KEYS = optionKeys<TrainValidationOptions>()(['seed', 'validationFraction', 'shuffle', 'stratify']);

/**
 * Hold out part of a dataset for validation (scikit-learn's `train_test_split`):
 * `{ train, validation }` subsets, shuffled (seeded) by default, optionally stratified.
 */
export function trainValidationSplit<T>(dataset: Dataset<T>, options: TrainValidationOptions = {}): { train: Subset<T>; validation: Subset<T> } {
  checkOptions('trainValidationSplit', options, TRAIN_VALIDATION_KEYS, {
    ...SEED_ALIASES,
    test_size: 'validationFraction',
    testSize: 'validationFraction',
    validation_split: 'validationFraction',
    validationSplit: 'validationFraction',
  });
  const n = dataset.length;
  const fraction = options.validationFraction ?? 0.2;
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`trainValidationSplit: validationFraction must be in (0, 1), got ${fraction}`);
  const nVal = Math.round(n * fraction);
  if (nVal === 0 || nVal === n) throw new RangeError(`trainValidationSplit: validationFraction ${fraction} of ${n} samples leaves an empty set`);
  const shuffle = options.shuffle ?? true;
  let validation: number[];
  if (options.stratify !== undefined) {
    const labels = labelArray('trainValidationSplit', options.stratify);
    if (labels.length !== n) throw new RangeError(`trainValidationSplit: stratify has ${labels.length} labels for ${n} samples`);
    const rng = shuffle ? new Rng(resolveSeed(options.seed, 'trainValidationSplit')) : null;
    // each class gives round(share) of its samples, with the rounding carried over so the total is nVal
    validation = [];
    let carried = 0;
    for (const members of classMembers(labels, rng).values()) {
      const want = members.length * fraction + carried;
      const take = Math.min(members.length, Math.round(want));
      carried = want - take;
      validation.push(...members.slice(members.length - take));
    }
  } else {
    const order = shuffle ? new Rng(resolveSeed(options.seed, 'trainValidationSplit')).permutation(n) : Int32Array.from({ length: n }, (_, i) => i);
    validation = Array.from(order.subarray(n - nVal));
  }
  const inVal = new Uint8Array(n);
  for (const i of validation) inVal[i] = 1;
  const train: number[] = [];
  for (let i = 0; i < n; i++) if (!inVal[i]) train.push(i);
  validation.sort((a, b) => a - b);
  return { train: new Subset(dataset, train), validation: new Subset(dataset, validation) };
}

/** Class labels for stratification: numbers (or strings) per sample, or a 1-D tensor. */
export type Labels = readonly (number | string)[] | Int32Array | Tensor;

function labelArray(op: string, labels: Labels): readonly (number | string)[] | Int32Array | Float32Array | Float64Array | Uint8Array {
  if (isTensor(labels)) {
    if (labels.ndim !== 1) throw new RangeError(`${op}: labels must be a 1-D tensor, got shape [${labels.shape.join(',')}]`);
    return labels.dataSync();
  }
  return labels;
}

/** Sample indices per class, in first-seen class order; shuffled within each class when `rng` is given. */
function classMembers(labels: ArrayLike<number | string>, rng: Rng | null): Map<number | string, number[]> {
  const byClass = new Map<number | string, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i];
    let list = byClass.get(c);
    if (!list) byClass.set(c, (list = []));
    list.push(i);
  }
  if (rng) for (const list of byClass.values()) rng.shuffle(list);
  return byClass;
}

/** One fold of a cross-validation: sample indices to train on and to validate on (both ascending). */
export interface Fold {
  train: Int32Array;
  validation: Int32Array;
}

export interface KFoldOptions extends SplitOptions {
  /** shuffle before assigning folds (default false: fold 0 holds the first samples) */
  shuffle?: boolean;
}

const K_FOLD_KEYS = optionKeys<KFoldOptions>()(['seed', 'shuffle']);

function checkK(op: string, n: number, k: number): void {
  if (!Number.isInteger(k) || k < 2) throw new RangeError(`${op}: k must be an integer >= 2, got ${k}`);
  if (k > n) throw new RangeError(`${op}: k = ${k} folds need at least ${k} samples, got ${n}`);
}

function foldsFrom(n: number, k: number, foldOf: Int32Array): Fold[] {
  const folds: Fold[] = [];
  for (let f = 0; f < k; f++) {
    const validation: number[] = [];
    const train: number[] = [];
    for (let i = 0; i < n; i++) (foldOf[i] === f ? validation : train).push(i);
    folds.push({ train: Int32Array.from(train), validation: Int32Array.from(validation) });
  }
  return folds;
}

/**
 * K-fold cross-validation indices (scikit-learn's `KFold`): n samples in k folds of
 * ⌊n/k⌋ or ⌈n/k⌉ (the first n mod k folds are one larger); every sample is in exactly
 * one validation fold and in the training part of the other k − 1.
 */
export function kFold(n: number, k: number, options: KFoldOptions = {}): Fold[] {
  checkOptions('kFold', options, K_FOLD_KEYS, SEED_ALIASES);
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`kFold: n must be a non-negative integer, got ${n}`);
  checkK('kFold', n, k);
  const order = options.shuffle ? new Rng(resolveSeed(options.seed, 'kFold')).permutation(n) : Int32Array.from({ length: n }, (_, i) => i);
  const foldOf = new Int32Array(n);
  let at = 0;
  for (let f = 0; f < k; f++) {
    const size = Math.floor(n / k) + (f < n % k ? 1 : 0);
    for (let j = 0; j < size; j++) foldOf[order[at++]] = f;
  }
  return foldsFrom(n, k, foldOf);
}

/**
 * Stratified k-fold (scikit-learn's `StratifiedKFold`): each class is dealt round-robin
 * over the folds, continuing where the previous class stopped, so every fold holds
 * ⌊n_c/k⌋ or ⌈n_c/k⌉ samples of each class c (class proportions within one sample) and
 * fold sizes differ by at most one.
 */
export function stratifiedKFold(labels: Labels, k: number, options: KFoldOptions = {}): Fold[] {
  checkOptions('stratifiedKFold', options, K_FOLD_KEYS, SEED_ALIASES);
  const y = labelArray('stratifiedKFold', labels);
  const n = y.length;
  checkK('stratifiedKFold', n, k);
  const rng = options.shuffle ? new Rng(resolveSeed(options.seed, 'stratifiedKFold')) : null;
  const foldOf = new Int32Array(n);
  let f = 0;
  for (const members of classMembers(y, rng).values()) {
    for (const i of members) {
      foldOf[i] = f;
      f = (f + 1) % k;
    }
  }
  return foldsFrom(n, k, foldOf);
}
