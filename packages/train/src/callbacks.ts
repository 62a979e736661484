import type { AnyModule } from '@ml/nn';
import { checkOptions, type Tensor, optionKeys } from '@ml/tensor';

/** Numbers logged for one batch or epoch: `loss`, `accuracy`, `val_loss`, `lr`, … */
export type Logs = Record<string, number>;

/** What a callback can see and steer while `fit` runs. */
export interface TrainingContext {
  readonly model: AnyModule;
  /** the optimizer's parameter groups; schedules change `lr` here */
  readonly paramGroups: { lr: number }[];
  readonly epochs: number;
  readonly stepsPerEpoch: number;
  /** set by a callback to end training after the current batch / epoch */
  stopTraining: boolean;
}

/** Hooks called by `fit` (Keras's Callback); override the ones you need. */
export abstract class Callback {
  onTrainBegin(_ctx: TrainingContext): void | Promise<void> {}
  onTrainEnd(_ctx: TrainingContext, _logs: Logs): void | Promise<void> {}
  onEpochBegin(_epoch: number, _ctx: TrainingContext): void | Promise<void> {}
  onEpochEnd(_epoch: number, _logs: Logs, _ctx: TrainingContext): void | Promise<void> {}
  onBatchEnd(_batch: number, _logs: Logs, _ctx: TrainingContext): void | Promise<void> {}
}

export interface LambdaHooks {
  onTrainBegin?: (ctx: TrainingContext) => void | Promise<void>;
  onTrainEnd?: (ctx: TrainingContext, logs: Logs) => void | Promise<void>;
  onEpochBegin?: (epoch: number, ctx: TrainingContext) => void | Promise<void>;
  onEpochEnd?: (epoch: number, logs: Logs, ctx: TrainingContext) => void | Promise<void>;
  onBatchEnd?: (batch: number, logs: Logs, ctx: TrainingContext) => void | Promise<void>;
}

const LAMBDA_HOOKS = optionKeys<LambdaHooks>()(['onTrainBegin', 'onTrainEnd', 'onEpochBegin', 'onEpochEnd', 'onBatchEnd']);

/** Callback from plain functions (Keras's LambdaCallback). */
export class LambdaCallback extends Callback {
  constructor(readonly hooks: LambdaHooks) {
    checkOptions('LambdaCallback', hooks, LAMBDA_HOOKS, { on_train_begin: 'onTrainBegin', on_train_end: 'onTrainEnd', on_epoch_begin: 'onEpochBegin', on_epoch_end: 'onEpochEnd', on_batch_end: 'onBatchEnd' });
    super();
  }
  override onTrainBegin(ctx: TrainingContext) {
    return this.hooks.onTrainBegin?.(ctx);
  }
  override onTrainEnd(ctx: TrainingContext, logs: Logs) {
    return this.hooks.onTrainEnd?.(ctx, logs);
  }
  override onEpochBegin(epoch: number, ctx: TrainingContext) {
    return this.hooks.onEpochBegin?.(epoch, ctx);
  }
  override onEpochEnd(epoch: number, logs: Logs, ctx: TrainingContext) {
    return this.hooks.onEpochEnd?.(epoch, logs, ctx);
  }
  override onBatchEnd(batch: number, logs: Logs, ctx: TrainingContext) {
    return this.hooks.onBatchEnd?.(batch, logs, ctx);
  }
}

export type Mode = 'min' | 'max' | 'auto';

/** @internal `auto`: maximize accuracy-like metrics, minimize the rest. */
export function resolveMode(mode: Mode, monitor: string): 'min' | 'max' {
  if (mode !== 'auto') return mode;
  return /acc|auc|precision|recall|f1|r2/.test(monitor) ? 'max' : 'min';
}

export function monitored(logs: Logs, monitor: string, who: string): number | undefined {
  const v = logs[monitor];
  if (v === undefined && !warned.has(`${who}:${monitor}`)) {
    warned.add(`${who}:${monitor}`);
    console.warn(`${who}: metric '${monitor}' is not in the logs (have ${Object.keys(logs).join(', ')}); skipping`);
  }
  return v;
}
const warned = new Set<string>();

export interface EarlyStoppingOptions {
  /** default 'val_loss' */
  monitor?: string;
  /** improvements smaller than this do not count (default 0) */
  minDelta?: number;
  /** epochs without improvement before stopping, as Keras counts them (default 0: stop at the first) */
  patience?: number;
  mode?: Mode;
  /** put back the weights of the best epoch when stopping (default false) */
  restoreBestWeights?: boolean;
  /** the first value must beat this to count as an improvement */
  baseline?: number;
}

const EARLY_STOPPING_KEYS = optionKeys<EarlyStoppingOptions>()(['monitor', 'minDelta', 'patience', 'mode', 'restoreBestWeights', 'baseline']);

/** Stop when the monitored value has not improved for `patience` epochs. */
export class EarlyStopping extends Callback {
  readonly monitor: string;
  readonly minDelta: number;
  readonly patience: number;
  readonly mode: 'min' | 'max';
  readonly restoreBestWeights: boolean;
  best = NaN;
  bestEpoch = -1;
  wait = 0;
  stoppedEpoch = -1;
  #bestWeights: Record<string, Float32Array | Float64Array | Int32Array | Uint8Array> | null = null;
  readonly #baseline: number | undefined;

  constructor(options: EarlyStoppingOptions = {}) {
    checkOptions('EarlyStopping', options, EARLY_STOPPING_KEYS, { min_delta: 'minDelta', restore_best_weights: 'restoreBestWeights' });
    super();
    this.monitor = options.monitor ?? 'val_loss';
    this.minDelta = Math.abs(options.minDelta ?? 0);
    this.patience = options.patience ?? 0;
    if (!(Number.isInteger(this.patience) && this.patience >= 0)) throw new Error(`EarlyStopping: patience must be an integer ≥ 0, got ${options.patience}`);
    this.mode = resolveMode(options.mode ?? 'auto', this.monitor);
    this.restoreBestWeights = options.restoreBestWeights ?? false;
    this.#baseline = options.baseline;
  }

  override onTrainBegin(): void {
    this.best = this.#baseline ?? (this.mode === 'min' ? Infinity : -Infinity);
    this.bestEpoch = -1;
    this.wait = 0;
    this.stoppedEpoch = -1;
    this.#bestWeights = null;
  }

  #improved(v: number): boolean {
    return this.mode === 'min' ? v < this.best - this.minDelta : v > this.best + this.minDelta;
  }

  override async onEpochEnd(epoch: number, logs: Logs, ctx: TrainingContext): Promise<void> {
    const v = monitored(logs, this.monitor, 'EarlyStopping');
    if (v === undefined) return;
    if (this.#improved(v)) {
      this.best = v;
      this.bestEpoch = epoch;
      this.wait = 0;
      if (this.restoreBestWeights) this.#bestWeights = await snapshot(ctx.model);
      return;
    }
    this.wait++;
    if (this.wait >= this.patience) {
      this.stoppedEpoch = epoch;
      ctx.stopTraining = true;
      if (this.restoreBestWeights && this.#bestWeights) restore(ctx.model, this.#bestWeights);
    }
  }
}

async function snapshot(model: AnyModule): Promise<Record<string, Float32Array | Float64Array | Int32Array | Uint8Array>> {
  const out: Record<string, Float32Array | Float64Array | Int32Array | Uint8Array> = {};
  for (const [k, t] of Object.entries(model.stateDict())) out[k] = (await t.data()).slice() as Float32Array;
  return out;
}

function restore(model: AnyModule, weights: Record<string, Float32Array | Float64Array | Int32Array | Uint8Array>): void {
  const sd = model.stateDict();
  const tensors: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(sd)) tensors[k] = fromValues(t, weights[k]);
  model.loadStateDict(tensors);
  for (const t of Object.values(tensors)) t.dispose();
}

let fromValues: (like: Tensor, v: ArrayLike<number>) => Tensor = () => {
  throw new Error('train: tensor factory not installed');
};
/** @internal set by the package entry to avoid a value import cycle */
export function setTensorFactory(f: (like: Tensor, v: ArrayLike<number>) => Tensor): void {
  fromValues = f;
}

/**
 * Change the learning rate each epoch: either a function `(epoch, lr) => newLr` (Keras's
 * LearningRateScheduler) or an @ml/optim scheduler whose `step()` is called per epoch
 * (`ReduceLROnPlateau`-like schedulers receive the monitored value).
 */
export class LearningRateScheduler extends Callback {
  constructor(
    readonly schedule: ((epoch: number, lr: number) => number) | { step(metric?: number): void },
    readonly options: { monitor?: string } = {},
  ) {
    checkOptions('LearningRateScheduler', options, ['monitor']);
    super();
  }
  override onEpochBegin(epoch: number, ctx: TrainingContext): void {
    if (typeof this.schedule !== 'function') return;
    for (const g of ctx.paramGroups) {
      const lr = this.schedule(epoch, g.lr);
      if (!(lr >= 0 && Number.isFinite(lr))) throw new Error(`LearningRateScheduler: schedule returned ${lr} for epoch ${epoch}`);
      g.lr = lr;
    }
  }
  override onEpochEnd(_epoch: number, logs: Logs): void {
    if (typeof this.schedule === 'function') return;
    const m = this.options.monitor;
    if (m) {
      const v = monitored(logs, m, 'LearningRateScheduler');
      if (v !== undefined) this.schedule.step(v);
    } else this.schedule.step();
  }
}

/** Stop as soon as a batch loss is NaN or infinite. */
export class TerminateOnNaN extends Callback {
  override onBatchEnd(batch: number, logs: Logs, ctx: TrainingContext): void {
    const loss = logs.loss;
    if (loss !== undefined && !Number.isFinite(loss)) {
      console.warn(`TerminateOnNaN: batch ${batch} has loss ${loss}; stopping`);
      ctx.stopTraining = true;
    }
  }
}

/** Formats `loss: 0.2345 - accuracy: 0.9312` as Keras prints logs. */
export function formatLogs(logs: Logs): string {
  return Object.entries(logs)
    .map(([k, v]) => `${k}: ${Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3) : v.toFixed(4)}`)
    .join(' - ');
}

/**
 * One line per epoch on the console (`Epoch 3/10 - 1.2s - loss: …`): what `verbose` 1 and
 * 2 print where there is no terminal (a page, a worker). In a page, draw progress with a
 * `LambdaCallback` instead and pass `verbose: 0`.
 */
export class EpochLogger extends Callback {
  #start = 0;
  constructor(readonly print: (line: string) => void = (line) => console.log(line)) {
    super();
  }
  override onEpochBegin(): void {
    this.#start = performance.now();
  }
  override onEpochEnd(epoch: number, logs: Logs, ctx: TrainingContext): void {
    this.print(`Epoch ${epoch + 1}/${ctx.epochs} - ${((performance.now() - this.#start) / 1000).toFixed(1)}s - ${formatLogs(logs)}`);
  }
}
