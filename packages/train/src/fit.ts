/** Keras's `fit`, `evaluate` and `predict` over tensors, plain arrays or batches (`compile` is in compile.ts). */
import { noGrad } from '@ml/autograd';
import { build, isBuilt, type AnyModule, type LossFn, type LossName } from '@ml/nn';
import {
  checkOptions, concat, formatShape, fromArray, indexSelect, isTensor, manualSeed, randperm, tensor, tidy, toBackend,
  type NestedArray, type Tensor, type TypedArray, optionKeys,
} from '@ml/tensor';
import { TerminateOnNaN, type Callback, type Logs, type TrainingContext } from './callbacks.js';
import { platform } from './platform.js';
import { AUTO_YIELD_MS, isYieldEvery, yielder, type YieldEvery } from './yield.js';
import { type Compiled, ensureOptimizer, getCompiled } from './compile.js';
export {
  compile, compileLossNameOf, compileSpecOf, isLossName, optimizerIfMade, optimizerOf,
  type CompileOptions, type LossObject, type LossSpec, type OptimizerName,
} from './compile.js';

export type { LossFn, LossName };

/** Plain numbers as Keras takes NumPy arrays: nested arrays (`[[1, 2], [3, 4]]`) or a typed array. */
export type Numbers = NestedArray[] | TypedArray;

/** Whether `v` is plain numbers (not tensors, not batches): a typed array, or an array whose first leaf is a number or boolean. */
function isNumbers(v: unknown): v is Numbers {
  if (ArrayBuffer.isView(v)) return true;
  let probe: unknown = v;
  while (Array.isArray(probe)) {
    if (probe.length === 0) return probe === v ? false : true;
    probe = probe[0];
  }
  return probe !== v && (typeof probe === 'number' || typeof probe === 'boolean');
}

function numbersToTensor(op: string, what: string, v: unknown, labels: boolean): Tensor {
  if (!isNumbers(v)) throw new TypeError(`${op}: ${what} must be a Tensor or nested arrays of numbers, got ${describeData(v)}`);
  const flat: ArrayLike<unknown> = ArrayBuffer.isView(v) ? (v as TypedArray) : (v as unknown[]).flat(Infinity);
  const ints = labels && Array.from(flat).every((n) => Number.isInteger(n));
  try {
    return tensor(v as NestedArray | TypedArray, ints ? { dtype: 'int32' } : {});
  } catch (e) {
    throw new TypeError(`${op}: ${what}: ${(e as Error).message}`);
  }
}

function describeData(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return v.length === 0 ? 'an empty array' : `an array of ${describeData(v[0])}`;
  return typeof v === 'object' ? (v.constructor?.name ?? 'an object') : `a ${typeof v}`;
}

/**
 * fit / evaluate given plain arrays (`fit(model, [[0, 1], [1, 0]], [1, 0])`): run `f` on them
 * as tensors (the targets of an index loss, cross_entropy or sparse_…, as int32 when they are
 * integers), freed afterwards.
 */
async function withTensors<R>(op: string, c: Compiled, x: Numbers, y: unknown, f: (x: Tensor, y: Tensor) => Promise<R>): Promise<R> {
  if (!isTensor(y) && !isNumbers(y)) throw new TypeError(`${op}: with x as plain arrays, pass y (a Tensor or nested arrays) as the next argument, got ${describeData(y)}`);
  const labels = c.indexTargets;
  const xt = numbersToTensor(op, 'x', x, false);
  let yt: Tensor | null = null;
  try {
    yt = isTensor(y) ? y : numbersToTensor(op, 'y', y, labels);
    return await f(xt, yt);
  } finally {
    xt.dispose();
    if (yt !== null && yt !== y) yt.dispose();
  }
}

/**
 * Build a lazy model on its first batch of `data` (one sample batch through
 * `build`). Returns the batches to iterate in the first epoch: the same iterator,
 * with the batch it took put back in front, so one-shot iterables lose nothing.
 */
async function buildOnFirstBatch(op: string, model: AnyModule, data: Batches): Promise<Batches> {
  if (Array.isArray(data)) {
    if (data.length === 0) throw new Error(`${op}: the data produced no batches`);
    build(model, (data as readonly (readonly [Tensor, Tensor])[])[0][0]);
    return data;
  }
  const it = Symbol.asyncIterator in data ? (data as AsyncIterable<readonly [Tensor, Tensor]>)[Symbol.asyncIterator]() : (data as Iterable<readonly [Tensor, Tensor]>)[Symbol.iterator]();
  const first = await it.next();
  if (first.done === true) throw new Error(`${op}: the data produced no batches`);
  build(model, first.value[0]);
  async function* again(): AsyncGenerator<readonly [Tensor, Tensor]> {
    yield first.value;
    for (let r = await it.next(); r.done !== true; r = await it.next()) yield r.value;
  }
  return again();
}

/** Batches of (x, y): any iterable or async iterable of pairs, e.g. an @ml/data DataLoader. */
export type Batches = Iterable<readonly [Tensor, Tensor]> | AsyncIterable<readonly [Tensor, Tensor]>;

export interface FitOptions {
  epochs?: number;
  /** with tensors: samples per step (default 32) */
  batchSize?: number;
  /** with tensors: reshuffle each epoch (default true) */
  shuffle?: boolean;
  /** seed of the shuffles (default: the global generator) */
  seed?: number;
  /** hold out the last fraction of (x, y) for validation, before shuffling, as Keras */
  validationSplit?: number;
  validationData?: readonly [Tensor, Tensor] | Batches;
  callbacks?: Callback[];
  /**
   * 0 silent; 1 (default) and 2 report each epoch: under Node a progress bar (1) or a
   * line per epoch (2) on the terminal (`ProgressBar`), elsewhere a `console.log` line per
   * epoch. A page draws its own progress with a callback and passes 0.
   */
  verbose?: 0 | 1 | 2;
  /**
   * Stop training from outside (a Stop button, a worker's message): when it aborts, `fit`
   * finishes the batch in flight, calls the callbacks' `onTrainEnd` and rejects with
   * `signal.reason` (`controller.abort()` gives a DOMException named 'AbortError'), as
   * `fetch` does; the model keeps the weights of the batches done. An already aborted
   * signal rejects before training starts. To end early and get the History, set
   * `ctx.stopTraining` in a callback instead.
   */
  signal?: AbortSignal;
  /**
   * Yield to the event loop (a macrotask) between batches, so that a page stays responsive
   * and its events (a click on Stop, timers, messages) run while `fit` trains: after every
   * n batches, 0 never, or `'auto'`: after a batch that ends 8 ms or more after the last
   * yield (about one frame's budget; small batches pay nothing per batch). Default
   * `'auto'` from the browser entry (pages, workers), 0 from the Node entry.
   */
  yieldEvery?: YieldEvery;
  /** epoch to start counting from, when resuming (default 0) */
  initialEpoch?: number;
}

/** What `fit` returns: per-epoch logs by name, as Keras's History (`history.history.val_loss`). */
export class History {
  readonly epoch: number[] = [];
  readonly history: Record<string, number[]> = {};
  add(epoch: number, logs: Logs): void {
    this.epoch.push(epoch);
    for (const [k, v] of Object.entries(logs)) (this.history[k] ??= []).push(v);
  }
}

function checkPair(op: string, x: Tensor, y: Tensor): void {
  if (x.shape[0] !== y.shape[0]) {
    throw new Error(`${op}: x ${formatShape(x.shape)} and y ${formatShape(y.shape)} have different numbers of samples`);
  }
}

/** Slices of (x, y) in batches; a permutation of sample indices when `order` is given. */
function* tensorBatches(x: Tensor, y: Tensor, batchSize: number, order: Int32Array | null): Generator<[Tensor, Tensor]> {
  const n = x.shape[0];
  for (let start = 0; start < n; start += batchSize) {
    const len = Math.min(batchSize, n - start);
    if (order) {
      const sub = order.subarray(start, start + len);
      yield tidy(() => {
        const idx = fromArray(sub, [len], { dtype: 'int32', backend: x.backend.name });
        return [indexSelect(x, 0, idx), indexSelect(y, 0, idx)] as [Tensor, Tensor];
      });
    } else {
      yield [x.narrow(0, start, len), y.narrow(0, start, len)];
    }
  }
}

/** The backend of the model's parameters (null for a model without any). */
function modelBackend(model: AnyModule): string | null {
  const p = model.parameters()[0];
  return p === undefined ? null : p.backend.name;
}

/**
 * A batch on the model's backend, as Keras moves data to the model's device: a copy when
 * it is elsewhere (a dataset kept on the cpu backend, a model on a GPU), else itself.
 */
async function onBackend(t: Tensor, name: string | null): Promise<Tensor> {
  return name === null || t.backend.name === name ? t : toBackend(t, name);
}

function batchCount(b: Batches): number {
  const len = (b as { length?: unknown }).length;
  return typeof len === 'number' ? len : NaN;
}

/** Split off the last `fraction` of samples. */
function splitTail(x: Tensor, y: Tensor, fraction: number): { train: [Tensor, Tensor]; val: [Tensor, Tensor] } {
  if (!(fraction > 0 && fraction < 1)) throw new Error(`fit: validationSplit must be in (0, 1), got ${fraction}`);
  const n = x.shape[0];
  const nVal = Math.floor(n * fraction);
  if (nVal === 0 || nVal === n) throw new Error(`fit: validationSplit ${fraction} of ${n} samples leaves an empty set`);
  return { train: [x.narrow(0, 0, n - nVal), y.narrow(0, 0, n - nVal)], val: [x.narrow(0, n - nVal, nVal), y.narrow(0, n - nVal, nVal)] };
}

/**
 * Training diverged: the loss of a batch was NaN or infinite (a learning rate too high,
 * non-finite inputs or targets, a log of 0). `fit` stops there and throws it; `history`
 * holds the epochs completed before.
 */
export class DivergenceError extends Error {
  override name = 'DivergenceError';
  constructor(
    readonly epoch: number,
    readonly batch: number,
    readonly loss: number,
    readonly history: History,
  ) {
    super(
      `fit: the loss became ${loss} at epoch ${epoch + 1}, batch ${batch + 1}; training stopped (the weights are no longer finite). ` +
        'Lower the learning rate, or check the inputs and targets for NaN or infinite values.',
    );
  }
}

/**
 * Train `model` (Keras's `model.fit`): for each epoch, for each batch, forward, loss,
 * backward, optimizer step; then validation. Returns the History. Between batches it
 * yields to the event loop (`yieldEvery`) and checks `signal`: an abort stops training and
 * rejects with the signal's reason. A batch whose loss is NaN or infinite stops training
 * with a DivergenceError (or quietly, returning the History, when a TerminateOnNaN
 * callback is given). Either pass tensors `fit(model, x, y, options)` or batches
 * `fit(model, loader, options)`.
 */
/** The keys FitOptions has: anything else (a typo, Keras's `batch_size`) is an error, not ignored. */
const FIT_OPTIONS = optionKeys<FitOptions>()(['epochs', 'batchSize', 'shuffle', 'seed', 'validationSplit', 'validationData', 'callbacks', 'verbose', 'signal', 'yieldEvery', 'initialEpoch']);
const BATCH_OPTIONS = ['batchSize'] as const;

export async function fit(model: AnyModule, x: Tensor | Batches | Numbers, yOrOptions?: Tensor | Numbers | FitOptions, maybeOptions?: FitOptions): Promise<History> {
  const c = getCompiled(model, 'fit');
  checkOptions('fit', isTensor(x) || isNumbers(x) ? maybeOptions : yOrOptions, FIT_OPTIONS);
  if (isNumbers(x)) return withTensors('fit', c, x, yOrOptions, (xt, yt) => fit(model, xt, yt, maybeOptions));
  if (isNumbers(yOrOptions)) throw new TypeError('fit: y is plain arrays but x is not; pass both as tensors or both as arrays');
  const tensors = isTensor(x);
  const options = (tensors ? maybeOptions : (yOrOptions as FitOptions | undefined)) ?? {};
  const epochs = options.epochs ?? 1;
  if (!(Number.isInteger(epochs) && epochs >= 1)) throw new Error(`fit: epochs must be a positive integer, got ${epochs}`);
  const batchSize = options.batchSize ?? 32;
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new Error(`fit: batchSize must be a positive integer, got ${batchSize}`);
  const verbose = options.verbose ?? 1;
  const yieldEvery = options.yieldEvery ?? platform.yieldEvery;
  if (!isYieldEvery(yieldEvery)) throw new Error(`fit: yieldEvery must be an integer ≥ 0 or 'auto' (every ${AUTO_YIELD_MS} ms), got ${String(yieldEvery)}`);
  const pause = yielder(yieldEvery);
  const signal = options.signal;
  signal?.throwIfAborted();

  let trainX: Tensor | null = null;
  let trainY: Tensor | null = null;
  let validation: readonly [Tensor, Tensor] | Batches | undefined = options.validationData;
  if (tensors) {
    const y = yOrOptions as Tensor;
    if (!isTensor(y)) throw new Error('fit: with a tensor x, pass y as the second argument');
    checkPair('fit', x, y);
    if (options.validationSplit !== undefined) {
      if (validation) throw new Error('fit: pass validationSplit or validationData, not both');
      const s = splitTail(x, y, options.validationSplit);
      [trainX, trainY] = s.train;
      validation = s.val;
    } else {
      trainX = x;
      trainY = y;
    }
  } else if (options.validationSplit !== undefined) {
    throw new Error('fit: validationSplit needs tensors (x, y); with batches pass validationData');
  }

  // a lazy model: its weights, then its optimizer, from the first batch
  let firstEpoch: Batches | null = null;
  if (!isBuilt(model)) {
    if (trainX) build(model, trainX.narrow(0, 0, Math.min(batchSize, trainX.shape[0])));
    else firstEpoch = await buildOnFirstBatch('fit', model, x as Batches);
  }
  const optimizer = ensureOptimizer(c, model);

  const history = new History();
  const callbacks = [...(options.callbacks ?? [])];
  const progress = verbose > 0 ? platform.progress(verbose === 2 ? 2 : 1) : null;
  if (progress) callbacks.push(progress);
  const stepsPerEpoch = trainX ? Math.ceil(trainX.shape[0] / batchSize) : batchCount(x as Batches);
  const ctx: TrainingContext = { model, paramGroups: optimizer.paramGroups, epochs, stepsPerEpoch, stopTraining: false };
  if (options.seed !== undefined) manualSeed(options.seed);
  const shuffle = options.shuffle ?? true;
  const start = options.initialEpoch ?? 0;
  let last: Logs = {};

  const device = modelBackend(model);
  for (const cb of callbacks) await cb.onTrainBegin(ctx);
  for (let epoch = start; epoch < epochs && !ctx.stopTraining && !signal?.aborted; epoch++) {
    model.train();
    for (const cb of callbacks) await cb.onEpochBegin(epoch, ctx);
    const metrics = c.metrics();
    let lossSum = 0;
    let seen = 0;
    let batch = 0;
    let batches: Batches;
    if (trainX && trainY) {
      let order: Int32Array | null = null;
      if (shuffle) {
        const perm = randperm(trainX.shape[0]);
        order = Int32Array.from(await perm.data());
        perm.dispose();
      }
      batches = tensorBatches(trainX, trainY, batchSize, order);
    } else {
      batches = firstEpoch ?? (x as Batches);
      firstEpoch = null;
    }
    for await (const [xs, ys] of batches) {
      checkPair('fit', xs, ys);
      const [xb, yb] = [await onBackend(xs, device), await onBackend(ys, device)];
      const { loss, pred } = tidy(() => {
        optimizer.zeroGrad();
        const p = model.forward(xb as never) as unknown as Tensor;
        const l = c.loss(p, yb);
        if (l.size !== 1) throw new Error(`fit: the loss must be a scalar, got ${formatShape(l.shape)} (use reduction 'mean' or 'sum')`);
        l.backward();
        optimizer.step();
        return { loss: l.detach(), pred: p.detach() };
      });
      const n = xb.shape[0];
      const lv = (await loss.data())[0];
      for (const m of metrics) await m.update(pred, yb);
      loss.dispose();
      pred.dispose();
      if (xb !== xs) xb.dispose();
      if (yb !== ys) yb.dispose();
      if (trainX) {
        if (xs !== trainX) xs.dispose();
        if (ys !== trainY) ys.dispose();
      }
      if (!Number.isFinite(lv) && !callbacks.some((cb) => cb instanceof TerminateOnNaN)) {
        // the optimizer has stepped on non-finite gradients: the weights are lost, so say so
        // here instead of training on (and printing) NaN for the remaining epochs (with
        // Keras's TerminateOnNaN the user asked for a quiet stop instead: it gets the batch)
        for (const cb of callbacks) await cb.onTrainEnd(ctx, last);
        throw new DivergenceError(epoch, batch, lv, history);
      }
      lossSum += lv * n;
      seen += n;
      const logs: Logs = { loss: lossSum / seen };
      for (const m of metrics) logs[m.name] = m.result();
      for (const cb of callbacks) await cb.onBatchEnd(batch, { ...logs, loss: lv }, ctx);
      batch++;
      const turn = pause();
      if (turn) await turn;
      if (ctx.stopTraining || signal?.aborted) break;
    }
    if (signal?.aborted) break; // the epoch is incomplete: no epoch logs, no validation
    if (seen === 0) throw new Error('fit: the training data produced no batches');
    const logs: Logs = { loss: lossSum / seen };
    for (const m of metrics) logs[m.name] = m.result();
    if (validation) {
      const pair = Array.isArray(validation) && validation.length === 2 && isTensor(validation[0]) ? (validation as unknown as readonly [Tensor, Tensor]) : null;
      const v = pair ? await evaluate(model, pair[0], pair[1], { batchSize }) : await evaluate(model, validation as Batches);
      for (const [k, val] of Object.entries(v)) logs[`val_${k}`] = val;
    }
    history.add(epoch, logs);
    last = logs;
    for (const cb of callbacks) await cb.onEpochEnd(epoch, logs, ctx);
  }
  for (const cb of callbacks) await cb.onTrainEnd(ctx, last);
  if (trainX && trainX !== x) {
    trainX.dispose();
    trainY?.dispose();
    if (validation && options.validationSplit !== undefined) for (const t of validation as [Tensor, Tensor]) t.dispose();
  }
  signal?.throwIfAborted();
  return history;
}

/**
 * What `evaluate` returns: the loss and metrics by name (`score.loss`, `score.accuracy`), and
 * also by position as Keras's list (`score[0]` the loss, `score[1]` the first metric, …;
 * `const [loss, accuracy] = score`). The positions are not enumerable, so `Object.entries`
 * and JSON see the names only.
 */
export type Evaluation = Logs & { readonly [index: number]: number; readonly length: number; [Symbol.iterator](): IterableIterator<number> };

function evaluation(logs: Logs): Evaluation {
  const values = Object.values(logs);
  const hidden = (value: unknown): PropertyDescriptor => ({ value, enumerable: false });
  Object.defineProperties(logs, {
    ...Object.fromEntries(values.map((v, i) => [i, hidden(v)])),
    length: hidden(values.length),
    [Symbol.iterator]: hidden(() => values[Symbol.iterator]()),
  });
  return logs as Evaluation;
}

/** Loss and metrics over a dataset, in eval mode without gradients (Keras's `evaluate`): by name and, as Keras's list, by position. */
export async function evaluate(model: AnyModule, x: Tensor | Batches | Numbers, yOrOptions?: Tensor | Numbers | { batchSize?: number }, maybeOptions: { batchSize?: number } = {}): Promise<Evaluation> {
  const c = getCompiled(model, 'evaluate');
  checkOptions('evaluate', isTensor(x) || isNumbers(x) ? maybeOptions : yOrOptions, BATCH_OPTIONS);
  if (isNumbers(x)) return withTensors('evaluate', c, x, yOrOptions, (xt, yt) => evaluate(model, xt, yt, maybeOptions));
  if (isNumbers(yOrOptions)) throw new TypeError('evaluate: y is plain arrays but x is not; pass both as tensors or both as arrays');
  const tensors = isTensor(x);
  const options = (tensors ? maybeOptions : (yOrOptions as { batchSize?: number } | undefined)) ?? {};
  let data: Batches | null = tensors ? null : (x as Batches);
  if (!isBuilt(model)) {
    if (tensors) build(model, (x as Tensor).narrow(0, 0, Math.min(options.batchSize ?? 32, (x as Tensor).shape[0])));
    else data = await buildOnFirstBatch('evaluate', model, x as Batches);
  }
  const wasTraining = model.training;
  model.eval();
  const metrics = c.metrics();
  let lossSum = 0;
  let seen = 0;
  try {
    const batches: Batches = tensors ? tensorBatches(x, yOrOptions as Tensor, options.batchSize ?? 32, null) : data!;
    if (tensors) checkPair('evaluate', x, yOrOptions as Tensor);
    const device = modelBackend(model);
    const pause = yielder(platform.yieldEvery);
    for await (const [xs, ys] of batches) {
      const turn = pause();
      if (turn) await turn;
      const [xb, yb] = [await onBackend(xs, device), await onBackend(ys, device)];
      const { loss, pred } = tidy(() =>
        noGrad(() => {
          const p = model.forward(xb as never) as unknown as Tensor;
          return { loss: c.loss(p, yb), pred: p };
        }),
      );
      lossSum += (await loss.data())[0] * xb.shape[0];
      seen += xb.shape[0];
      for (const m of metrics) await m.update(pred, yb);
      loss.dispose();
      pred.dispose();
      if (xb !== xs) xb.dispose();
      if (yb !== ys) yb.dispose();
      if (tensors) {
        if (xs !== x) xs.dispose();
        if (ys !== yOrOptions) ys.dispose();
      }
    }
  } finally {
    model.train(wasTraining);
  }
  if (seen === 0) throw new Error('evaluate: no samples');
  const logs: Logs = { loss: lossSum / seen };
  for (const m of metrics) logs[m.name] = m.result();
  return evaluation(logs);
}

/** Model outputs for all samples, computed in batches, eval mode, no gradients (Keras's `predict`). */
export async function predict(model: AnyModule, x: Tensor | Numbers, options: { batchSize?: number } = {}): Promise<Tensor> {
  checkOptions('predict', options, BATCH_OPTIONS);
  if (!isTensor(x)) {
    const xt = numbersToTensor('predict', 'x', x, false);
    try {
      return await predict(model, xt, options);
    } finally {
      xt.dispose();
    }
  }
  const batchSize = options.batchSize ?? 32;
  if (!isBuilt(model) && x.shape[0] > 0) build(model, x.narrow(0, 0, Math.min(batchSize, x.shape[0])));
  const wasTraining = model.training;
  model.eval();
  const outs: Tensor[] = [];
  try {
    const n = x.shape[0];
    const device = modelBackend(model);
    const pause = yielder(platform.yieldEvery);
    for (let start = 0; start < n; start += batchSize) {
      const len = Math.min(batchSize, n - start);
      const slice: Tensor = x.narrow(0, start, len);
      const xb = await onBackend(slice, device);
      outs.push(tidy(() => noGrad(() => model.forward(xb as never) as unknown as Tensor)));
      if (xb !== slice) xb.dispose();
      // narrow over the whole batch is x itself: the caller's tensor is not ours to dispose
      if (slice !== x) slice.dispose();
      // between batches: a page's events run (the browser entry), else only pending promises
      await (pause() ?? Promise.resolve());
    }
  } finally {
    model.train(wasTraining);
  }
  if (outs.length === 1) return outs[0];
  const all = concat(outs, 0);
  for (const t of outs) t.dispose();
  return all;
}
