import { checkOptions, optionKeys } from '@ml/tensor';
import type { Optimizer } from './optimizer.js';

export interface ReduceLROnPlateauOptions {
  /** 'min' for a loss, 'max' for an accuracy (default 'min') */
  mode?: 'min' | 'max';
  /** multiply the rate by this on a plateau (default 0.1) */
  factor?: number;
  /** epochs without improvement before reducing (default 10) */
  patience?: number;
  /** the least change that counts as improvement (default 1e-4) */
  threshold?: number;
  /** 'rel': better than best·(1 ∓ threshold); 'abs': better than best ∓ threshold */
  thresholdMode?: 'rel' | 'abs';
  /** epochs to wait after a reduction before counting again (default 0) */
  cooldown?: number;
  /** a floor for the rate, one number or one per group (default 0) */
  minLr?: number | number[];
  /** reductions smaller than this are skipped (default 1e-8) */
  eps?: number;
}

const PLATEAU_KEYS = optionKeys<ReduceLROnPlateauOptions>()(['mode', 'factor', 'patience', 'threshold', 'thresholdMode', 'cooldown', 'minLr', 'eps']);

/**
 * Cut the learning rate when a metric stops improving (PyTorch's ReduceLROnPlateau,
 * Keras's ReduceLROnPlateau callback): call `step(metric)` once per epoch; after more
 * than `patience` epochs without improvement each group's rate becomes
 * max(lr·factor, minLr), then `cooldown` epochs pass before bad epochs count again.
 */
export class ReduceLROnPlateau {
  readonly mode: 'min' | 'max';
  readonly factor: number;
  readonly patience: number;
  readonly threshold: number;
  readonly thresholdMode: 'rel' | 'abs';
  readonly cooldown: number;
  readonly minLrs: number[];
  readonly eps: number;
  best: number;
  numBadEpochs = 0;
  cooldownCounter = 0;
  lastEpoch = 0;

  constructor(
    readonly optimizer: Optimizer,
    options: ReduceLROnPlateauOptions = {},
  ) {
    checkOptions('ReduceLROnPlateau', options, PLATEAU_KEYS);
    this.mode = options.mode ?? 'min';
    this.factor = options.factor ?? 0.1;
    this.patience = options.patience ?? 10;
    this.threshold = options.threshold ?? 1e-4;
    this.thresholdMode = options.thresholdMode ?? 'rel';
    this.cooldown = options.cooldown ?? 0;
    this.eps = options.eps ?? 1e-8;
    const n = optimizer.paramGroups.length;
    const minLr = options.minLr ?? 0;
    this.minLrs = Array.isArray(minLr) ? [...minLr] : Array.from({ length: n }, () => minLr);
    if (this.mode !== 'min' && this.mode !== 'max') throw new Error(`ReduceLROnPlateau: mode must be 'min' or 'max', got '${String(this.mode)}'`);
    if (!(this.factor > 0 && this.factor < 1)) throw new Error(`ReduceLROnPlateau: factor must be in (0, 1), got ${this.factor}`);
    if (!(Number.isInteger(this.patience) && this.patience >= 0)) throw new Error(`ReduceLROnPlateau: patience must be an integer ≥ 0, got ${this.patience}`);
    if (!(Number.isInteger(this.cooldown) && this.cooldown >= 0)) throw new Error(`ReduceLROnPlateau: cooldown must be an integer ≥ 0, got ${this.cooldown}`);
    if (this.thresholdMode !== 'rel' && this.thresholdMode !== 'abs') throw new Error(`ReduceLROnPlateau: thresholdMode must be 'rel' or 'abs'`);
    if (this.minLrs.length !== n) throw new Error(`ReduceLROnPlateau: ${this.minLrs.length} minLr values for ${n} parameter groups`);
    this.best = this.mode === 'min' ? Infinity : -Infinity;
  }

  /** whether `a` improves on the best value so far by more than the threshold */
  isBetter(a: number): boolean {
    const { best, threshold: th } = this;
    if (this.mode === 'min') return this.thresholdMode === 'rel' ? a < best * (1 - th) : a < best - th;
    return this.thresholdMode === 'rel' ? a > best * (1 + th) : a > best + th;
  }

  /** Record this epoch's metric; returns true when the rate was reduced. */
  step(metric: number): boolean {
    if (!Number.isFinite(metric)) throw new Error(`ReduceLROnPlateau.step: the metric is ${metric}`);
    this.lastEpoch++;
    if (this.isBetter(metric)) {
      this.best = metric;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs++;
    }
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.numBadEpochs = 0;
    }
    if (this.numBadEpochs <= this.patience) return false;
    let reduced = false;
    this.optimizer.paramGroups.forEach((g, i) => {
      const next = Math.max(g.lr * this.factor, this.minLrs[i]);
      if (g.lr - next > this.eps) {
        g.lr = next;
        reduced = true;
      }
    });
    this.cooldownCounter = this.cooldown;
    this.numBadEpochs = 0;
    return reduced;
  }

  getLastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  stateDict(): { best: number; numBadEpochs: number; cooldownCounter: number; lastEpoch: number } {
    return { best: this.best, numBadEpochs: this.numBadEpochs, cooldownCounter: this.cooldownCounter, lastEpoch: this.lastEpoch };
  }

  loadStateDict(sd: { best: number; numBadEpochs: number; cooldownCounter: number; lastEpoch: number }): void {
    Object.assign(this, sd);
  }
}
