import { argmax, checkOptions, closest, formatShape, isFloat, type Tensor, optionKeys } from '@ml/tensor';

/**
 * A metric accumulates over the batches of an epoch: `update` with each batch's
 * predictions and targets, `result` at the end, `reset` before the next epoch.
 * `update` reads the batch's values (await-able on every backend).
 */
export interface Metric {
  /** the key in logs and History (`accuracy`, `val_accuracy`, …) */
  readonly name: string;
  update(pred: Tensor, target: Tensor): Promise<void>;
  result(): number;
  reset(): void;
}

async function values(t: Tensor): Promise<Float64Array> {
  return Float64Array.from(await t.data());
}

/** The class index of each row's largest value, read back; the argmax tensor is freed (a GPU keeps no finalizer). */
async function rowArgmax(t: Tensor): Promise<Float64Array> {
  const a = argmax(t, 1);
  try {
    return await values(a);
  } finally {
    a.dispose();
  }
}

function sameCount(metric: string, pred: Tensor, target: Tensor): void {
  if (pred.shape[0] !== target.shape[0]) {
    throw new Error(`${metric}: predictions ${formatShape(pred.shape)} and targets ${formatShape(target.shape)} have different batch sizes`);
  }
}

/** Class predictions [N] from scores [N, C] (argmax over dim 1) or from probabilities/logits of one class. */
async function predictedClasses(pred: Tensor, threshold: number): Promise<Float64Array> {
  if (pred.ndim >= 2 && pred.shape[1] > 1) return rowArgmax(pred);
  const p = await values(pred);
  return p.map((v) => (v > threshold ? 1 : 0));
}

/** Target classes [N] from indices [N] or one-hot/probabilities [N, C]. */
async function targetClasses(target: Tensor): Promise<Float64Array> {
  if (isFloat(target.dtype) && target.ndim >= 2 && target.shape[1] > 1) return rowArgmax(target);
  return values(target);
}

abstract class Ratio implements Metric {
  abstract readonly name: string;
  protected hits = 0;
  protected total = 0;
  abstract update(pred: Tensor, target: Tensor): Promise<void>;
  result(): number {
    return this.total === 0 ? 0 : this.hits / this.total;
  }
  reset(): void {
    this.hits = 0;
    this.total = 0;
  }
}

export interface AccuracyOptions {
  /** the key in the logs (default 'accuracy' / 'binary_accuracy') */
  name?: string;
  /** a single score per sample above it counts as class 1 (default 0.5; 0 for logits) */
  threshold?: number;
}
const ACCURACY_KEYS = optionKeys<AccuracyOptions>()(['name', 'threshold']);

/**
 * Fraction of correct predictions. Picks the rule from the shapes, as Keras's
 * 'accuracy': scores [N, C] are compared by argmax with class indices or with one-hot
 * targets; a single score per sample is thresholded (0.5 for probabilities, 0 for logits).
 */
export class Accuracy extends Ratio {
  readonly name: string;
  readonly threshold: number;
  constructor(options: AccuracyOptions = {}) {
    checkOptions('Accuracy', options, ACCURACY_KEYS);
    super();
    this.name = options.name ?? 'accuracy';
    this.threshold = options.threshold ?? 0.5;
  }
  async update(pred: Tensor, target: Tensor): Promise<void> {
    sameCount(this.name, pred, target);
    const p = await predictedClasses(pred, this.threshold);
    const t = await targetClasses(target);
    if (p.length !== t.length) throw new Error(`${this.name}: ${p.length} predictions for ${t.length} targets (predictions ${formatShape(pred.shape)}, targets ${formatShape(target.shape)})`);
    for (let i = 0; i < p.length; i++) if (p[i] === t[i]) this.hits++;
    this.total += p.length;
  }
}

/** Binary accuracy: score > threshold (default 0.5) vs target ∈ {0, 1}. */
export class BinaryAccuracy extends Ratio {
  readonly name: string;
  readonly threshold: number;
  constructor(options: AccuracyOptions = {}) {
    checkOptions('BinaryAccuracy', options, ACCURACY_KEYS);
    super();
    this.name = options.name ?? 'binary_accuracy';
    this.threshold = options.threshold ?? 0.5;
  }
  async update(pred: Tensor, target: Tensor): Promise<void> {
    sameCount(this.name, pred, target);
    const p = await values(pred);
    const t = await values(target);
    if (p.length !== t.length) throw new Error(`${this.name}: predictions ${formatShape(pred.shape)} and targets ${formatShape(target.shape)} differ`);
    for (let i = 0; i < p.length; i++) if ((p[i] > this.threshold ? 1 : 0) === t[i]) this.hits++;
    this.total += p.length;
  }
}

/** Target among the k highest scores (top-5 accuracy by default). */
export class TopKAccuracy extends Ratio {
  readonly name: string;
  constructor(readonly k = 5, name?: string) {
    super();
    this.name = name ?? `top_${k}_accuracy`;
  }
  async update(pred: Tensor, target: Tensor): Promise<void> {
    sameCount(this.name, pred, target);
    if (pred.ndim !== 2) throw new Error(`${this.name}: expected scores [N, C], got ${formatShape(pred.shape)}`);
    const [n, c] = pred.shape;
    const p = await values(pred);
    const t = await targetClasses(target);
    for (let i = 0; i < n; i++) {
      const s = p[i * c + t[i]];
      let higher = 0;
      for (let j = 0; j < c; j++) if (p[i * c + j] > s) higher++;
      if (higher < this.k) this.hits++;
    }
    this.total += n;
  }
}

/** Running means of per-element errors: MAE, MSE, RMSE. */
abstract class ErrorMean implements Metric {
  abstract readonly name: string;
  protected sum = 0;
  protected count = 0;
  protected abstract err(d: number): number;
  async update(pred: Tensor, target: Tensor): Promise<void> {
    const p = await values(pred);
    const t = await values(target);
    if (p.length !== t.length) throw new Error(`${this.name}: predictions ${formatShape(pred.shape)} and targets ${formatShape(target.shape)} differ in size`);
    for (let i = 0; i < p.length; i++) this.sum += this.err(p[i] - t[i]);
    this.count += p.length;
  }
  result(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }
  reset(): void {
    this.sum = 0;
    this.count = 0;
  }
}

export class MeanAbsoluteError extends ErrorMean {
  readonly name = 'mae';
  protected err(d: number): number {
    return Math.abs(d);
  }
}

export class MeanSquaredError extends ErrorMean {
  readonly name: string = 'mse';
  protected err(d: number): number {
    return d * d;
  }
}

export class RootMeanSquaredError extends MeanSquaredError {
  override readonly name = 'rmse';
  override result(): number {
    return Math.sqrt(super.result());
  }
}

/** Coefficient of determination R² = 1 − SS_res / SS_tot over all targets seen. */
export class R2Score implements Metric {
  readonly name = 'r2';
  #p: number[] = [];
  #t: number[] = [];
  async update(pred: Tensor, target: Tensor): Promise<void> {
    const p = await values(pred);
    const t = await values(target);
    if (p.length !== t.length) throw new Error(`r2: predictions ${formatShape(pred.shape)} and targets ${formatShape(target.shape)} differ in size`);
    this.#p.push(...p);
    this.#t.push(...t);
  }
  result(): number {
    const n = this.#t.length;
    if (n === 0) return 0;
    const mean = this.#t.reduce((a, b) => a + b, 0) / n;
    let res = 0;
    let tot = 0;
    for (let i = 0; i < n; i++) {
      res += (this.#t[i] - this.#p[i]) ** 2;
      tot += (this.#t[i] - mean) ** 2;
    }
    return tot === 0 ? 0 : 1 - res / tot;
  }
  reset(): void {
    this.#p = [];
    this.#t = [];
  }
}

/** Counts of (target, predicted) pairs; row = true class, column = predicted class. */
export class ConfusionMatrix implements Metric {
  readonly name = 'confusion_matrix';
  matrix: number[][];
  constructor(readonly numClasses: number, readonly threshold = 0.5) {
    this.matrix = ConfusionMatrix.#empty(numClasses);
  }
  static #empty(k: number): number[][] {
    return Array.from({ length: k }, () => new Array<number>(k).fill(0));
  }
  async update(pred: Tensor, target: Tensor): Promise<void> {
    sameCount(this.name, pred, target);
    const p = await predictedClasses(pred, this.threshold);
    const t = await targetClasses(target);
    for (let i = 0; i < p.length; i++) {
      const ti = t[i];
      const pi = p[i];
      if (!(ti >= 0 && ti < this.numClasses && pi >= 0 && pi < this.numClasses)) {
        throw new Error(`confusion_matrix: class ${ti >= 0 && ti < this.numClasses ? pi : ti} is outside [0, ${this.numClasses})`);
      }
      this.matrix[ti][pi]++;
    }
  }
  /** Accuracy (the trace over the total), so the matrix can sit in a metrics list. */
  result(): number {
    let diag = 0;
    let all = 0;
    this.matrix.forEach((row, i) => row.forEach((v, j) => ((all += v), i === j && (diag += v))));
    return all === 0 ? 0 : diag / all;
  }
  reset(): void {
    this.matrix = ConfusionMatrix.#empty(this.numClasses);
  }
}

export type Average = 'binary' | 'macro' | 'micro';

export interface PrecisionRecallOptions {
  /** number of classes (default 2) */
  numClasses?: number;
  /** 'binary' (default for 2 classes) scores class 1, 'macro' (default otherwise) averages over classes, 'micro' pools */
  average?: Average;
}
const PR_KEYS = optionKeys<PrecisionRecallOptions>()(['numClasses', 'average']);

/** Precision, recall and F1 from a confusion matrix; `binary` scores class 1, `macro` averages over classes. */
abstract class PrecisionRecallBase implements Metric {
  abstract readonly name: string;
  protected readonly cm: ConfusionMatrix;
  constructor(numClasses: number, readonly average: Average) {
    this.cm = new ConfusionMatrix(numClasses);
  }
  update(pred: Tensor, target: Tensor): Promise<void> {
    return this.cm.update(pred, target);
  }
  reset(): void {
    this.cm.reset();
  }
  protected scores(c: number): { tp: number; fp: number; fn: number } {
    const m = this.cm.matrix;
    const tp = m[c][c];
    let fp = 0;
    let fn = 0;
    for (let i = 0; i < m.length; i++) {
      if (i === c) continue;
      fp += m[i][c];
      fn += m[c][i];
    }
    return { tp, fp, fn };
  }
  protected abstract score(s: { tp: number; fp: number; fn: number }): number;
  result(): number {
    const k = this.cm.numClasses;
    if (this.average === 'binary') return this.score(this.scores(1));
    if (this.average === 'micro') {
      const tot = { tp: 0, fp: 0, fn: 0 };
      for (let c = 0; c < k; c++) {
        const s = this.scores(c);
        tot.tp += s.tp;
        tot.fp += s.fp;
        tot.fn += s.fn;
      }
      return this.score(tot);
    }
    let sum = 0;
    for (let c = 0; c < k; c++) sum += this.score(this.scores(c));
    return sum / k;
  }
}

const safeDiv = (a: number, b: number) => (b === 0 ? 0 : a / b);

/** TP / (TP + FP) */
export class Precision extends PrecisionRecallBase {
  readonly name = 'precision';
  constructor(options: PrecisionRecallOptions = {}) {
    checkOptions('Precision', options, PR_KEYS, { num_classes: 'numClasses' });
    super(options.numClasses ?? 2, options.average ?? (options.numClasses && options.numClasses > 2 ? 'macro' : 'binary'));
  }
  protected score(s: { tp: number; fp: number }): number {
    return safeDiv(s.tp, s.tp + s.fp);
  }
}

/** TP / (TP + FN) */
export class Recall extends PrecisionRecallBase {
  readonly name = 'recall';
  constructor(options: PrecisionRecallOptions = {}) {
    checkOptions('Recall', options, PR_KEYS, { num_classes: 'numClasses' });
    super(options.numClasses ?? 2, options.average ?? (options.numClasses && options.numClasses > 2 ? 'macro' : 'binary'));
  }
  protected score(s: { tp: number; fn: number }): number {
    return safeDiv(s.tp, s.tp + s.fn);
  }
}

/** Harmonic mean of precision and recall: 2TP / (2TP + FP + FN) */
export class F1Score extends PrecisionRecallBase {
  readonly name = 'f1';
  constructor(options: PrecisionRecallOptions = {}) {
    checkOptions('F1Score', options, PR_KEYS, { num_classes: 'numClasses' });
    super(options.numClasses ?? 2, options.average ?? (options.numClasses && options.numClasses > 2 ? 'macro' : 'binary'));
  }
  protected score(s: { tp: number; fp: number; fn: number }): number {
    return safeDiv(2 * s.tp, 2 * s.tp + s.fp + s.fn);
  }
}

export type MetricName =
  | 'accuracy'
  | 'acc'
  | 'binary_accuracy'
  | 'categorical_accuracy'
  | 'sparse_categorical_accuracy'
  | 'top_k_accuracy'
  | 'mae'
  | 'mse'
  | 'rmse'
  | 'r2'
  | 'precision'
  | 'recall'
  | 'f1'
  | 'mean_absolute_error'
  | 'mean_squared_error'
  | 'root_mean_squared_error';

const METRIC_NAMES = [
  'accuracy', 'acc', 'binary_accuracy', 'categorical_accuracy', 'sparse_categorical_accuracy', 'top_k_accuracy',
  'mae', 'mse', 'rmse', 'r2', 'precision', 'recall', 'f1', 'mean_absolute_error', 'mean_squared_error', 'root_mean_squared_error',
] as const satisfies readonly MetricName[];
// every MetricName is in the list: a name missing there fails to compile here
type Unlisted = Exclude<MetricName, (typeof METRIC_NAMES)[number]>;
export const ALL_METRICS_LISTED: [Unlisted] extends [never] ? true : never = true;

/** `Binary_Accuracy`, `BinaryAccuracy` → `binaryaccuracy`: one key per spelling of a name */
const squash = (name: string): string => name.toLowerCase().replace(/_/g, '');

/**
 * A metric name in its canonical spelling: Keras's names in any case and with or without
 * underscores ('ACC', 'BinaryAccuracy'); an unknown name throws, naming the closest.
 */
export function metricName(spec: string, op = 'getMetric'): MetricName {
  const found = METRIC_NAMES.find((n) => squash(n) === squash(String(spec)));
  if (found !== undefined) return found;
  const near = closest(String(spec).toLowerCase(), METRIC_NAMES);
  throw new Error(`${op}: unknown metric '${String(spec)}'${near.length > 0 ? `; did you mean '${near[0]}'?` : ''} (known: ${METRIC_NAMES.join(', ')}, in any case)`);
}

/** A metric from its Keras name (any case, 'acc' = 'accuracy'); `fromLogits` sets the accuracy threshold to 0. */
export function getMetric(spec: Metric | MetricName, options: { fromLogits?: boolean } = {}): Metric {
  checkOptions('getMetric', options, ['fromLogits'], { from_logits: 'fromLogits' });
  if (typeof spec !== 'string') return spec;
  const threshold = options.fromLogits === true ? 0 : 0.5;
  switch (metricName(spec)) {
    case 'accuracy':
      return new Accuracy({ name: 'accuracy', threshold });
    case 'acc':
      return new Accuracy({ name: 'acc', threshold });
    case 'categorical_accuracy':
      return new Accuracy({ name: 'categorical_accuracy', threshold });
    case 'sparse_categorical_accuracy':
      return new Accuracy({ name: 'sparse_categorical_accuracy', threshold });
    case 'binary_accuracy':
      return new BinaryAccuracy({ threshold });
    case 'top_k_accuracy':
      return new TopKAccuracy(5, 'top_k_accuracy');
    case 'mae':
    case 'mean_absolute_error':
      return new MeanAbsoluteError();
    case 'mse':
    case 'mean_squared_error':
      return new MeanSquaredError();
    case 'rmse':
    case 'root_mean_squared_error':
      return new RootMeanSquaredError();
    case 'r2':
      return new R2Score();
    case 'precision':
      return new Precision();
    case 'recall':
      return new Recall();
    case 'f1':
      return new F1Score();
  }
}
