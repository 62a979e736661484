import { checkOptions, optionKeys } from '@ml/tensor';
import type { Optimizer } from './optimizer.js';

/** Write a cycled momentum: `momentum` for SGD/RMSprop groups that use it, β₁ for Adam-like ones. */
function setMomentum(g: Record<string, unknown>, m: number): void {
  if (Array.isArray(g.betas)) g.betas = [m, g.betas[1]];
  else if (typeof g.momentum === 'number' && g.momentum > 0) g.momentum = m;
}

function hasMomentum(o: Optimizer): boolean {
  return o.paramGroups.some((g) => {
    const r = g as unknown as Record<string, unknown>;
    return Array.isArray(r.betas) || (typeof r.momentum === 'number' && r.momentum > 0);
  });
}

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
  /** The rate at epoch (or step) `t` of a group whose initial rate is `base`; pure, so schedules compose. */
  abstract lrAt(t: number, base: number, group: number): number;
  /** Schedules that cycle momentum (one-cycle, cyclic) return it here; β₁ for Adam-like optimizers. */
  protected momentumAt(_t: number): number | undefined {
    return undefined;
  }
  #apply(): void {
    const momentum = this.momentumAt(this.lastEpoch);
    this.optimizer.paramGroups.forEach((g, i) => {
      g.lr = this.lrAt(this.lastEpoch, this.baseLrs[i], i);
      if (momentum !== undefined) setMomentum(g as unknown as Record<string, unknown>, momentum);
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
    checkOptions('StepLR', options, KEYS.StepLR);
    if (!(Number.isInteger(options.stepSize) && options.stepSize > 0)) throw new Error(`StepLR: stepSize must be a positive integer, got ${options.stepSize}`);
    super(optimizer);
    this.start();
  }
  lrAt(t: number, base: number): number {
    return base * (this.options.gamma ?? 0.1) ** Math.floor(t / this.options.stepSize);
  }
}

/** η_t = η₀ · γ^(number of milestones ≤ t) */
export class MultiStepLR extends LRScheduler {
  constructor(optimizer: Optimizer, readonly options: { milestones: number[]; gamma?: number }) {
    checkOptions('MultiStepLR', options, KEYS.MultiStepLR);
    super(optimizer);
    this.start();
  }
  lrAt(t: number, base: number): number {
    return base * (this.options.gamma ?? 0.1) ** this.options.milestones.filter((m) => m <= t).length;
  }
}

/** η_t = η₀ · γ^t */
export class ExponentialLR extends LRScheduler {
  constructor(optimizer: Optimizer, readonly options: { gamma: number }) {
    checkOptions('ExponentialLR', options, KEYS.ExponentialLR);
    if (!(options.gamma > 0)) throw new Error(`ExponentialLR: gamma must be > 0, got ${options.gamma}`);
    super(optimizer);
    this.start();
  }
  lrAt(t: number, base: number): number {
    return base * this.options.gamma ** t;
  }
}

/** η_t = η_min + ½(η₀ − η_min)(1 + cos(π·t / T_max)) */
export class CosineAnnealingLR extends LRScheduler {
  constructor(optimizer: Optimizer, readonly options: { tMax: number; etaMin?: number }) {
    checkOptions('CosineAnnealingLR', options, KEYS.CosineAnnealingLR);
    if (!(options.tMax > 0)) throw new Error(`CosineAnnealingLR: tMax must be > 0, got ${options.tMax}`);
    super(optimizer);
    this.start();
  }
  lrAt(t: number, base: number): number {
    const min = this.options.etaMin ?? 0;
    return min + 0.5 * (base - min) * (1 + Math.cos((Math.PI * t) / this.options.tMax));
  }
}

/** SGDR (Loshchilov & Hutter): cosine annealing restarted after T₀, T₀·T_mult, … epochs. */
export class CosineAnnealingWarmRestarts extends LRScheduler {
  constructor(optimizer: Optimizer, readonly options: { t0: number; tMult?: number; etaMin?: number }) {
    checkOptions('CosineAnnealingWarmRestarts', options, KEYS.CosineAnnealingWarmRestarts);
    if (!(Number.isInteger(options.t0) && options.t0 > 0)) throw new Error(`CosineAnnealingWarmRestarts: t0 must be a positive integer, got ${options.t0}`);
    if (!(Number.isInteger(options.tMult ?? 1) && (options.tMult ?? 1) >= 1)) throw new Error(`CosineAnnealingWarmRestarts: tMult must be an integer ≥ 1`);
    super(optimizer);
    this.start();
  }
  lrAt(t: number, base: number): number {
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

/** η_t = η₀ · f(t) for a function f of the epoch (PyTorch's LambdaLR). */
export class LambdaLR extends LRScheduler {
  constructor(
    optimizer: Optimizer,
    readonly lambda: (epoch: number) => number,
  ) {
    super(optimizer);
    this.start();
  }
  lrAt(t: number, base: number): number {
    const f = this.lambda(t);
    if (!Number.isFinite(f)) throw new Error(`LambdaLR: the factor at epoch ${t} is ${f}`);
    return base * f;
  }
}

/** η_t = η₀ · (s + (e − s)·min(t, T)/T): the factor goes linearly from `startFactor` to `endFactor` over `totalIters`. */
export class LinearLR extends LRScheduler {
  readonly startFactor: number;
  readonly endFactor: number;
  readonly totalIters: number;
  constructor(optimizer: Optimizer, options: { startFactor?: number; endFactor?: number; totalIters?: number } = {}) {
    checkOptions('LinearLR', options, KEYS.LinearLR);
    const startFactor = options.startFactor ?? 1 / 3;
    const endFactor = options.endFactor ?? 1;
    const totalIters = options.totalIters ?? 5;
    if (!(startFactor > 0 && startFactor <= 1)) throw new Error(`LinearLR: startFactor must be in (0, 1], got ${startFactor}`);
    if (!(endFactor >= 0 && endFactor <= 1)) throw new Error(`LinearLR: endFactor must be in [0, 1], got ${endFactor}`);
    if (!(Number.isInteger(totalIters) && totalIters > 0)) throw new Error(`LinearLR: totalIters must be a positive integer, got ${totalIters}`);
    super(optimizer);
    this.startFactor = startFactor;
    this.endFactor = endFactor;
    this.totalIters = totalIters;
    this.start();
  }
  lrAt(t: number, base: number): number {
    return base * (this.startFactor + ((this.endFactor - this.startFactor) * Math.min(t, this.totalIters)) / this.totalIters);
  }
}

/**
 * Linear warm-up in front of any schedule: for t < W the rate rises linearly from
 * `startFactor`·η₀ to η₀ (reaching η₀ at t = W), then `then` runs from its own epoch 0
 * (t − W). Without `then` the rate stays at η₀.
 *
 *   const opt = new Adam(model.parameters(), { lr: 1e-3 });
 *   const sched = new LinearWarmup(opt, { warmupSteps: 500, then: new CosineAnnealingLR(opt, { tMax: 9500 }) });
 */
export class LinearWarmup extends LRScheduler {
  readonly warmupSteps: number;
  readonly startFactor: number;
  readonly then: LRScheduler | undefined;
  constructor(optimizer: Optimizer, options: { warmupSteps: number; startFactor?: number; then?: LRScheduler }) {
    checkOptions('LinearWarmup', options, KEYS.LinearWarmup);
    const { warmupSteps, startFactor = 0 } = options;
    if (!(Number.isInteger(warmupSteps) && warmupSteps > 0)) throw new Error(`LinearWarmup: warmupSteps must be a positive integer, got ${warmupSteps}`);
    if (!(startFactor >= 0 && startFactor <= 1)) throw new Error(`LinearWarmup: startFactor must be in [0, 1], got ${startFactor}`);
    if (options.then && options.then.optimizer !== optimizer) throw new Error('LinearWarmup: `then` schedules a different optimizer');
    super(optimizer);
    this.warmupSteps = warmupSteps;
    this.startFactor = startFactor;
    this.then = options.then;
    // the inner schedule already moved the rate; start from the initial rates it saw
    if (this.then) this.baseLrs.splice(0, this.baseLrs.length, ...this.then.baseLrs);
    this.start();
  }
  lrAt(t: number, base: number, group: number): number {
    if (t < this.warmupSteps) return base * (this.startFactor + ((1 - this.startFactor) * t) / this.warmupSteps);
    return this.then ? this.then.lrAt(t - this.warmupSteps, base, group) : base;
  }
}

/** Run schedules one after another: `schedulers[i]` from epoch `milestones[i-1]`, counting from its own 0. */
export class SequentialLR extends LRScheduler {
  constructor(
    optimizer: Optimizer,
    readonly schedulers: LRScheduler[],
    readonly milestones: number[],
  ) {
    if (schedulers.length === 0) throw new Error('SequentialLR: needs at least one schedule');
    if (milestones.length !== schedulers.length - 1) {
      throw new Error(`SequentialLR: ${schedulers.length} schedules need ${schedulers.length - 1} milestones, got ${milestones.length}`);
    }
    if (milestones.some((m, i) => !(m > (milestones[i - 1] ?? 0)))) throw new Error(`SequentialLR: milestones must increase, got [${milestones.join(', ')}]`);
    if (schedulers.some((s) => s.optimizer !== optimizer)) throw new Error('SequentialLR: every schedule must drive the same optimizer');
    super(optimizer);
    this.baseLrs.splice(0, this.baseLrs.length, ...schedulers[0].baseLrs);
    this.start();
  }
  lrAt(t: number, base: number, group: number): number {
    let i = 0;
    while (i < this.milestones.length && t >= this.milestones[i]) i++;
    return this.schedulers[i].lrAt(t - (i === 0 ? 0 : this.milestones[i - 1]), base, group);
  }
}

export interface OneCycleOptions {
  /** peak rate (one number, or one per group) */
  maxLr: number | number[];
  /** total steps; or give `epochs` and `stepsPerEpoch` */
  totalSteps?: number;
  epochs?: number;
  stepsPerEpoch?: number;
  /** fraction of the cycle spent rising (default 0.3) */
  pctStart?: number;
  annealStrategy?: 'cos' | 'linear';
  /** initial rate = maxLr / divFactor (default 25) */
  divFactor?: number;
  /** final rate = initial / finalDivFactor (default 1e4) */
  finalDivFactor?: number;
  /** fast.ai's three phases: up, back down to the initial rate, then to the final rate */
  threePhase?: boolean;
  /** cycle momentum (or β₁) inversely between maxMomentum and baseMomentum (default true when the optimizer has one) */
  cycleMomentum?: boolean;
  baseMomentum?: number;
  maxMomentum?: number;
}

/**
 * The 1cycle policy (Smith & Topor, "Super-convergence"), PyTorch's OneCycleLR: per batch,
 * the rate rises from maxLr/divFactor to maxLr over the first pctStart of the steps,
 * then anneals to maxLr/(divFactor·finalDivFactor); momentum moves the opposite way.
 * The peak is at step pctStart·T − 1; `step()` past T throws.
 */
export class OneCycleLR extends LRScheduler {
  readonly totalSteps: number;
  readonly #phases: { end: number; startLr: 'initial' | 'max' | 'min'; endLr: 'initial' | 'max' | 'min'; startM: 'max' | 'base'; endM: 'max' | 'base' }[];
  readonly #o: Required<Omit<OneCycleOptions, 'totalSteps' | 'epochs' | 'stepsPerEpoch' | 'maxLr'>>;
  readonly #maxLrs: number[];
  constructor(optimizer: Optimizer, options: OneCycleOptions) {
    checkOptions('OneCycleLR', options, KEYS.OneCycleLR);
    const total = options.totalSteps ?? (options.epochs !== undefined && options.stepsPerEpoch !== undefined ? options.epochs * options.stepsPerEpoch : NaN);
    if (!(Number.isInteger(total) && total > 0)) throw new Error('OneCycleLR: give totalSteps, or epochs and stepsPerEpoch, as positive integers');
    const pctStart = options.pctStart ?? 0.3;
    if (!(pctStart > 0 && pctStart < 1)) throw new Error(`OneCycleLR: pctStart must be in (0, 1), got ${pctStart}`);
    const maxLrs = Array.isArray(options.maxLr) ? options.maxLr : optimizer.paramGroups.map(() => options.maxLr as number);
    if (maxLrs.length !== optimizer.paramGroups.length) throw new Error(`OneCycleLR: ${maxLrs.length} maxLr values for ${optimizer.paramGroups.length} parameter groups`);
    if (maxLrs.some((v) => !(v > 0))) throw new Error(`OneCycleLR: maxLr must be > 0, got ${maxLrs.join(', ')}`);
    super(optimizer);
    this.totalSteps = total;
    this.#maxLrs = maxLrs;
    this.#o = {
      pctStart,
      annealStrategy: options.annealStrategy ?? 'cos',
      divFactor: options.divFactor ?? 25,
      finalDivFactor: options.finalDivFactor ?? 1e4,
      threePhase: options.threePhase ?? false,
      cycleMomentum: options.cycleMomentum ?? hasMomentum(optimizer),
      baseMomentum: options.baseMomentum ?? 0.85,
      maxMomentum: options.maxMomentum ?? 0.95,
    };
    this.#phases = this.#o.threePhase
      ? [
          { end: pctStart * total - 1, startLr: 'initial', endLr: 'max', startM: 'max', endM: 'base' },
          { end: 2 * pctStart * total - 2, startLr: 'max', endLr: 'initial', startM: 'base', endM: 'max' },
          { end: total - 1, startLr: 'initial', endLr: 'min', startM: 'max', endM: 'max' },
        ]
      : [
          { end: pctStart * total - 1, startLr: 'initial', endLr: 'max', startM: 'max', endM: 'base' },
          { end: total - 1, startLr: 'max', endLr: 'min', startM: 'base', endM: 'max' },
        ];
    // the schedule's own rates replace the optimizer's: base = maxLr / divFactor
    this.baseLrs.splice(0, this.baseLrs.length, ...maxLrs.map((m) => m / this.#o.divFactor));
    this.start();
  }
  #anneal(a: number, b: number, pct: number): number {
    return this.#o.annealStrategy === 'cos' ? b + ((a - b) / 2) * (Math.cos(Math.PI * pct) + 1) : (b - a) * pct + a;
  }
  #at(t: number, value: (k: 'initial' | 'max' | 'min' | 'base') => number, key: 'Lr' | 'M'): number {
    if (t > this.totalSteps) throw new Error(`OneCycleLR: stepped ${t} times, past totalSteps = ${this.totalSteps}`);
    let start = 0;
    for (let i = 0; i < this.#phases.length; i++) {
      const ph = this.#phases[i];
      if (t <= ph.end || i === this.#phases.length - 1) {
        const pct = (t - start) / (ph.end - start);
        return key === 'Lr' ? this.#anneal(value(ph.startLr), value(ph.endLr), pct) : this.#anneal(value(ph.startM), value(ph.endM), pct);
      }
      start = ph.end;
    }
    return NaN;
  }
  lrAt(t: number, base: number): number {
    const initial = base;
    const max = base * this.#o.divFactor;
    const min = initial / this.#o.finalDivFactor;
    return this.#at(t, (k) => (k === 'initial' ? initial : k === 'max' ? max : min), 'Lr');
  }
  protected override momentumAt(t: number): number | undefined {
    if (!this.#o.cycleMomentum) return undefined;
    return this.#at(t, (k) => (k === 'max' ? this.#o.maxMomentum : this.#o.baseMomentum), 'M');
  }
  /** the peak rates, per group */
  get maxLrs(): number[] {
    return [...this.#maxLrs];
  }
}

export interface CyclicOptions {
  baseLr: number | number[];
  maxLr: number | number[];
  /** steps in the rising half (default 2000) */
  stepSizeUp?: number;
  /** steps in the falling half (default stepSizeUp) */
  stepSizeDown?: number;
  /** triangular: constant amplitude; triangular2: halved each cycle; exp_range: scaled by gamma^step */
  mode?: 'triangular' | 'triangular2' | 'exp_range';
  gamma?: number;
  cycleMomentum?: boolean;
  baseMomentum?: number;
  maxMomentum?: number;
}

/**
 * Cyclical learning rates (Smith, "Cyclical learning rates for training neural networks"),
 * PyTorch's CyclicLR, stepped per batch: with cycle length C = up + down,
 * c = ⌊1 + t/C⌋, x = 1 + t/C − c, s = x/r if x ≤ r else (x − 1)/(r − 1) (r = up/C),
 * η = base + (max − base)·s·scale (scale 1, 1/2^(c−1), or γᵗ).
 */
export class CyclicLR extends LRScheduler {
  readonly #o: Required<Omit<CyclicOptions, 'baseLr' | 'maxLr' | 'stepSizeDown'>> & { stepSizeDown: number };
  readonly #maxLrs: number[];
  constructor(optimizer: Optimizer, options: CyclicOptions) {
    checkOptions('CyclicLR', options, KEYS.CyclicLR);
    const n = optimizer.paramGroups.length;
    const each = (v: number | number[], what: string): number[] => {
      const a = Array.isArray(v) ? v : Array.from({ length: n }, () => v);
      if (a.length !== n) throw new Error(`CyclicLR: ${a.length} ${what} values for ${n} parameter groups`);
      if (a.some((x) => !(x >= 0))) throw new Error(`CyclicLR: ${what} must be ≥ 0, got ${a.join(', ')}`);
      return a;
    };
    const base = each(options.baseLr, 'baseLr');
    const max = each(options.maxLr, 'maxLr');
    const up = options.stepSizeUp ?? 2000;
    const down = options.stepSizeDown ?? up;
    if (!(up > 0 && down > 0)) throw new Error(`CyclicLR: stepSizeUp and stepSizeDown must be > 0, got ${up} and ${down}`);
    super(optimizer);
    this.#maxLrs = max;
    this.#o = {
      stepSizeUp: up,
      stepSizeDown: down,
      mode: options.mode ?? 'triangular',
      gamma: options.gamma ?? 1,
      cycleMomentum: options.cycleMomentum ?? hasMomentum(optimizer),
      baseMomentum: options.baseMomentum ?? 0.8,
      maxMomentum: options.maxMomentum ?? 0.9,
    };
    this.baseLrs.splice(0, this.baseLrs.length, ...base);
    this.start();
  }
  /** the position in the cycle in [0, 1] (0 at base, 1 at the peak) and the amplitude scale */
  #shape(t: number): { s: number; scale: number } {
    const size = this.#o.stepSizeUp + this.#o.stepSizeDown;
    const ratio = this.#o.stepSizeUp / size;
    const cycle = Math.floor(1 + t / size);
    const x = 1 + t / size - cycle;
    const s = x <= ratio ? x / ratio : (x - 1) / (ratio - 1);
    const scale = this.#o.mode === 'triangular' ? 1 : this.#o.mode === 'triangular2' ? 1 / 2 ** (cycle - 1) : this.#o.gamma ** t;
    return { s, scale };
  }
  lrAt(t: number, base: number, group: number): number {
    const max = this.#maxLrs[group] ?? this.#maxLrs[0];
    const { s, scale } = this.#shape(t);
    return base + (max - base) * s * scale;
  }
  protected override momentumAt(t: number): number | undefined {
    if (!this.#o.cycleMomentum) return undefined;
    const { s, scale } = this.#shape(t);
    return this.#o.maxMomentum - (this.#o.maxMomentum - this.#o.baseMomentum) * s * scale;
  }
}

/** A scheduler's options type: its constructor's second parameter. */
type OptionsOf<C extends abstract new (optimizer: Optimizer, options: never) => LRScheduler> = NonNullable<ConstructorParameters<C>[1]>;

/** Each scheduler's option keys (read when one is constructed, after this module has loaded). */
const KEYS = {
  StepLR: optionKeys<OptionsOf<typeof StepLR>>()(['stepSize', 'gamma']),
  MultiStepLR: optionKeys<OptionsOf<typeof MultiStepLR>>()(['milestones', 'gamma']),
  ExponentialLR: optionKeys<OptionsOf<typeof ExponentialLR>>()(['gamma']),
  CosineAnnealingLR: optionKeys<OptionsOf<typeof CosineAnnealingLR>>()(['tMax', 'etaMin']),
  CosineAnnealingWarmRestarts: optionKeys<OptionsOf<typeof CosineAnnealingWarmRestarts>>()(['t0', 'tMult', 'etaMin']),
  LinearLR: optionKeys<OptionsOf<typeof LinearLR>>()(['startFactor', 'endFactor', 'totalIters']),
  LinearWarmup: optionKeys<OptionsOf<typeof LinearWarmup>>()(['warmupSteps', 'startFactor', 'then']),
  OneCycleLR: optionKeys<OptionsOf<typeof OneCycleLR>>()(['maxLr', 'totalSteps', 'epochs', 'stepsPerEpoch', 'pctStart', 'annealStrategy', 'divFactor', 'finalDivFactor', 'threePhase', 'cycleMomentum', 'baseMomentum', 'maxMomentum']),
  CyclicLR: optionKeys<OptionsOf<typeof CyclicLR>>()(['baseLr', 'maxLr', 'stepSizeUp', 'stepSizeDown', 'mode', 'gamma', 'cycleMomentum', 'baseMomentum', 'maxMomentum']),
};
