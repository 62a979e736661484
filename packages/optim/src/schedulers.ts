import type { Optimizer } from './optimizer.js';

/**
 * Base of the learning-rate schedules (PyTorch's LRScheduler): construction sets the
 * epoch-0 rate, each `step()` advances one epoch (or one batch for per-step schedules)
 * and writes the new rate into every parameter group.
 */
export abstract class LRScheduler {
  lastEpoch = 0;
  readonly baseLrs: number[];
  constructor(readonly optimizer: Optimizer) {
    this.baseLrs = optimizer.paramGroups.map((g) => g.lr);
  }
  /** called at the end of each subclass constructor, once its options are set */
  protected start(): void {
    this.#apply();
  }
  /** the rate for group `i` at epoch `t` */
  protected abstract lrAt(t: number, base: number): number;
  #apply(): void {
    this.optimizer.paramGroups.forEach((g, i) => {
      g.lr = this.lrAt(this.lastEpoch, this.baseLrs[i]);
    });
  }
  step(): void {
    this.lastEpoch++;
    this.#apply();
  }
  getLastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }
  stateDict(): { lastEpoch: number; baseLrs: number[] } {
    return { lastEpoch: this.lastEpoch, baseLrs: [...this.baseLrs] };
  }
  loadStateDict(sd: { lastEpoch: number; baseLrs: number[] }): void {
    this.lastEpoch = sd.lastEpoch;
    this.baseLrs.splice(0, this.baseLrs.length, ...sd.baseLrs);
    this.#apply();
  }
}

/** η_t = η₀ · γ^⌊t / stepSize⌋ */
export class StepLR extends LRScheduler {
  constructor(optimizer: Optimizer, readonly options: { stepSize: number; gamma?: number }) {
    if (!(Number.isInteger(options.stepSize) && options.stepSize > 0)) throw new Error(`StepLR: stepSize must be a positive integer, got ${options.stepSize}`);
    super(optimizer);
    this.start();
  }
  protected lrAt(t: number, base: number): number {
    return base * (this.options.gamma ?? 0.1) ** Math.floor(t / this.options.stepSize);
  }
}

/** η_t = η₀ · γ^(number of milestones ≤ t) */
export class MultiStepLR extends LRScheduler {
  constructor(optimizer: Optimizer, readonly options: { milestones: number[]; gamma?: number }) {
    super(optimizer);
    this.start();
  }
  protected lrAt(t: number, base: number): number {
    return base * (this.options.gamma ?? 0.1) ** this.options.milestones.filter((m) => m <= t).length;
  }
}

/** η_t = η₀ · γ^t */
export class ExponentialLR extends LRScheduler {
  constructor(optimizer: Optimizer, readonly options: { gamma: number }) {
    if (!(options.gamma > 0)) throw new Error(`ExponentialLR: gamma must be > 0, got ${options.gamma}`);
    super(optimizer);
    this.start();
  }
  protected lrAt(t: number, base: number): number {
    return base * this.options.gamma ** t;
  }
}

/** η_t = η_min + ½(η₀ − η_min)(1 + cos(π·t / T_max)) */
export class CosineAnnealingLR extends LRScheduler {
  constructor(optimizer: Optimizer, readonly options: { tMax: number; etaMin?: number }) {
    if (!(options.tMax > 0)) throw new Error(`CosineAnnealingLR: tMax must be > 0, got ${options.tMax}`);
    super(optimizer);
    this.start();
  }
  protected lrAt(t: number, base: number): number {
    const min = this.options.etaMin ?? 0;
    return min + 0.5 * (base - min) * (1 + Math.cos((Math.PI * t) / this.options.tMax));
  }
}

/** SGDR (Loshchilov & Hutter): cosine annealing restarted after T₀, T₀·T_mult, … epochs. */
export class CosineAnnealingWarmRestarts extends LRScheduler {
  constructor(optimizer: Optimizer, readonly options: { t0: number; tMult?: number; etaMin?: number }) {
    if (!(Number.isInteger(options.t0) && options.t0 > 0)) throw new Error(`CosineAnnealingWarmRestarts: t0 must be a positive integer, got ${options.t0}`);
    if (!(Number.isInteger(options.tMult ?? 1) && (options.tMult ?? 1) >= 1)) throw new Error(`CosineAnnealingWarmRestarts: tMult must be an integer ≥ 1`);
    super(optimizer);
    this.start();
  }
  protected lrAt(t: number, base: number): number {
    let ti = this.options.t0;
    let tc = t;
    while (tc >= ti) {
      tc -= ti;
      ti *= this.options.tMult ?? 1;
    }
    const min = this.options.etaMin ?? 0;
    return min + 0.5 * (base - min) * (1 + Math.cos((Math.PI * tc) / ti));
  }
}
