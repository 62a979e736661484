/** The callbacks that need Node: files (CSVLogger, ModelCheckpoint) and a terminal (ProgressBar). */
import { appendFile, writeFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { removeStaleTemps } from '@ml/tensor/node';
import { SingleBar } from 'cli-progress';
import { checkOptions, optionKeys } from '@ml/tensor';
import { Callback, formatLogs, monitored, resolveMode, type Logs, type Mode, type TrainingContext } from './callbacks.js';

/** Append one CSV row per epoch (epoch, then the logs in a fixed column order). */
export class CSVLogger extends Callback {
  #columns: string[] | null = null;
  constructor(readonly path: string, readonly options: { append?: boolean } = {}) {
    checkOptions('CSVLogger', options, ['append']);
    super();
  }
  override async onTrainBegin(): Promise<void> {
    this.#columns = null;
    if (!this.options.append) await writeFile(this.path, '');
  }
  override async onEpochEnd(epoch: number, logs: Logs): Promise<void> {
    let head = '';
    if (!this.#columns) {
      this.#columns = Object.keys(logs).sort();
      if (!this.options.append) head = `epoch,${this.#columns.join(',')}\n`;
    }
    await appendFile(this.path, `${head}${epoch},${this.#columns.map((c) => logs[c] ?? '').join(',')}\n`);
  }
}

export interface ModelCheckpointOptions {
  /** monitored value for saveBestOnly (default 'val_loss') */
  monitor?: string;
  /** only save when the monitored value improves (default false: every epoch) */
  saveBestOnly?: boolean;
  mode?: Mode;
  /** print a line when saving (default false) */
  verbose?: boolean;
}

const CHECKPOINT_KEYS = optionKeys<ModelCheckpointOptions>()(['monitor', 'saveBestOnly', 'mode', 'verbose']);

/**
 * Save the model's weights (safetensors) at the end of an epoch. `path` may contain
 * `{epoch}`; the file is written atomically and durably (a temp file `<file>.tmp-<pid>-<n>`
 * flushed to disk, renamed over the file, the folder flushed), so a crash while saving
 * keeps the previous checkpoint loadable. After each save, temps that killed processes
 * left for any file of `path`'s pattern are removed (those of running processes are not).
 */
export class ModelCheckpoint extends Callback {
  readonly monitor: string;
  readonly mode: 'min' | 'max';
  best = NaN;
  /** the file names `path` can produce */
  readonly #pattern: RegExp;
  constructor(readonly path: string, readonly options: ModelCheckpointOptions = {}) {
    checkOptions('ModelCheckpoint', options, CHECKPOINT_KEYS, { save_best_only: 'saveBestOnly', filepath: 'path' });
    super();
    this.#pattern = new RegExp(`^${basename(path).split('{epoch}').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('\\d+')}$`);
    this.monitor = options.monitor ?? 'val_loss';
    this.mode = resolveMode(options.mode ?? 'auto', this.monitor);
  }
  override onTrainBegin(): void {
    this.best = this.mode === 'min' ? Infinity : -Infinity;
  }
  override async onEpochEnd(epoch: number, logs: Logs, ctx: TrainingContext): Promise<void> {
    if (this.options.saveBestOnly) {
      const v = monitored(logs, this.monitor, 'ModelCheckpoint');
      if (v === undefined) return;
      if (!(this.mode === 'min' ? v < this.best : v > this.best)) return;
      this.best = v;
    }
    const file = this.path.replace('{epoch}', String(epoch + 1));
    await ctx.model.saveWeights(file, { epoch: String(epoch + 1) });
    await removeStaleTemps(dirname(this.path), (name) => this.#pattern.test(name));
    if (this.options.verbose) console.log(`ModelCheckpoint: saved ${file}`);
  }
}

/** Where ProgressBar writes: a terminal's stream (`process.stdout`) or anything with `write`. */
export interface TextStream {
  write(text: string): unknown;
  /** a terminal: draw the bar (else one line per epoch) */
  isTTY?: boolean;
}

/**
 * Terminal progress (Keras's verbose=1): a bar per epoch with step/steps, ETA and the
 * running loss and metrics, drawn by `cli-progress`. When the output is not a terminal
 * (CI logs, pipes) it prints one line per epoch instead.
 */
export class ProgressBar extends Callback {
  #bar: SingleBar | null = null;
  #start = 0;
  constructor(readonly stream: TextStream = process.stdout) {
    super();
  }
  override onEpochBegin(epoch: number, ctx: TrainingContext): void {
    this.#start = performance.now();
    if (!this.stream.isTTY) return;
    this.#bar = new SingleBar({
      format: `Epoch ${epoch + 1}/${ctx.epochs} [{bar}] {value}/{total} - ETA {eta_formatted} - {logs}`,
      barCompleteChar: '=',
      barIncompleteChar: '.',
      barsize: 30,
      hideCursor: true,
      clearOnComplete: true,
      stream: this.stream as NodeJS.WritableStream,
      etaBuffer: 50,
    });
    this.#bar.start(ctx.stepsPerEpoch, 0, { logs: '' });
  }
  override onBatchEnd(batch: number, logs: Logs): void {
    this.#bar?.update(batch + 1, { logs: formatLogs(logs) });
  }
  override onEpochEnd(epoch: number, logs: Logs, ctx: TrainingContext): void {
    this.#bar?.stop();
    this.#bar = null;
    const secs = (performance.now() - this.#start) / 1000;
    this.stream.write(`Epoch ${epoch + 1}/${ctx.epochs} - ${secs.toFixed(1)}s - ${formatLogs(logs)}\n`);
  }
  override onTrainEnd(): void {
    this.#bar?.stop();
    this.#bar = null;
  }
}
