import { maximum, optionKeys, sqrt, type Tensor } from '@ml/tensor';
import { Optimizer, checkedOptions, defined, type GroupOptions, type ParamGroup, type ParamState, type Params } from './optimizer.js';
import { checkAdamLike, moments, type AdamOptions } from './adam.js';

/**
 * RAdam (Liu et al., "On the variance of the adaptive learning rate"), PyTorch's form.
 * With ρ∞ = 2/(1 − β₂) − 1 and ρₜ = ρ∞ − 2tβ₂ᵗ/(1 − β₂ᵗ):
 *   while ρₜ ≤ 5 the step is SGD with momentum: θ ← θ − η·m̂;
 *   after, θ ← θ − η·m̂·rₜ·√(1 − β₂ᵗ)/(√v + ε), rₜ = √((ρₜ−4)(ρₜ−2)ρ∞ / ((ρ∞−4)(ρ∞−2)ρₜ)).
 * `weightDecay` adds λθ to the gradient.
 */
const RADAM_KEYS = optionKeys<Omit<AdamOptions, 'amsgrad'>>()(['lr', 'betas', 'eps', 'weightDecay', 'maximize']);

export class RAdam extends Optimizer<AdamOptions> {
  constructor(params: Params<AdamOptions>, options: Partial<Omit<AdamOptions, 'amsgrad'>> = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, ...checkedOptions(new.target.name, options, RADAM_KEYS) });
  }
  protected override validate(g: AdamOptions): void {
    super.validate(g);
    checkAdamLike('RAdam', g);
  }
  protected update(p: Tensor, grad: Tensor, state: ParamState, g: ParamGroup<AdamOptions>): Tensor {
    const [b1, b2] = g.betas;
    let d = g.maximize ? grad.neg() : grad;
    if (g.weightDecay !== 0) d = d.add(p.mul(g.weightDecay));
    const { m, v, t } = moments(d, state, g.betas);
    const mHat = m.div(1 - b1 ** t);
    const rhoInf = 2 / (1 - b2) - 1;
    const rhoT = rhoInf - (2 * t * b2 ** t) / (1 - b2 ** t);
    if (rhoT <= 5) return p.sub(mHat.mul(g.lr));
    const rect = Math.sqrt(((rhoT - 4) * (rhoT - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rhoT));
    const adaptive = sqrt(v).add(g.eps).pow(-1).mul(Math.sqrt(1 - b2 ** t));
    return p.sub(mHat.mul(adaptive).mul(g.lr * rect));
  }
}

/** each AdaBound group's rate when it was added (its final rate scales with lr / this) */
const initialLr = new WeakMap<object, number>();

export interface BoundOptions extends GroupOptions {
  betas: [number, number];
  /** the SGD learning rate the bounds converge to (scaled with lr by schedules) */
  finalLr: number;
  /** how fast the bounds close: lower ηf(1 − 1/(γt + 1)), upper ηf(1 + 1/(γt)) */
  gamma: number;
  eps: number;
  weightDecay: number;
  amsbound: boolean;
}

/**
 * AdaBound (Luo et al., "Adaptive gradient methods with dynamic bound of learning rate"):
 * Adam whose per-element step size η·√(1−β₂ᵗ)/(1−β₁ᵗ)/(√v + ε) is clipped to
 * [ηf(1 − 1/(γt+1)), ηf(1 + 1/(γt))], so it starts as Adam and ends as SGD with rate ηf.
 * ηf follows schedules: ηf = finalLr · lr / initial lr. AMSBound uses the running max of v.
 */
const BOUND_KEYS = optionKeys<BoundOptions>()(['lr', 'betas', 'finalLr', 'gamma', 'eps', 'weightDecay', 'amsbound']);

export class AdaBound extends Optimizer<BoundOptions> {
  constructor(params: Params<BoundOptions>, options: Partial<BoundOptions> = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], finalLr: 0.1, gamma: 1e-3, eps: 1e-8, weightDecay: 0, amsbound: false, ...checkedOptions(new.target.name, options, BOUND_KEYS) });
  }
  override addParamGroup(group: Partial<BoundOptions> & { params: Iterable<Tensor> }): void {
    super.addParamGroup(group);
    const added = this.paramGroups[this.paramGroups.length - 1];
    initialLr.set(added, added.lr);
  }
  protected override validate(g: BoundOptions): void {
    super.validate(g);
    const name = this.constructor.name;
    checkAdamLike(name, g);
    if (!(g.finalLr > 0)) throw new Error(`${name}: invalid finalLr ${g.finalLr} (must be > 0)`);
    if (!(g.gamma > 0)) throw new Error(`${name}: invalid gamma ${g.gamma} (must be > 0)`);
  }
  protected update(p: Tensor, grad: Tensor, state: ParamState, g: ParamGroup<BoundOptions>): Tensor {
    const [b1, b2] = g.betas;
    const d = g.weightDecay !== 0 ? grad.add(p.mul(g.weightDecay)) : grad;
    const { m, v, t } = moments(d, state, g.betas);
    let vUse = v;
    if (g.amsbound) {
      const prev = state.maxExpAvgSq as Tensor | undefined;
      vUse = prev ? maximum(prev, v) : v.add(0);
      state.maxExpAvgSq = vUse;
    }
    const stepSize = (g.lr * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t);
    const finalLr = (g.finalLr * g.lr) / (initialLr.get(g) ?? g.lr);
    const lower = finalLr * (1 - 1 / (g.gamma * t + 1));
    const upper = finalLr * (1 + 1 / (g.gamma * t));
    const rate = sqrt(vUse).add(g.eps).pow(-1).mul(stepSize).clamp(lower, upper);
    return p.sub(rate.mul(m));
  }
}

/** AdaBound with the AMSGrad fix (`amsbound: true`). */
export class AMSBound extends AdaBound {
  constructor(params: Params<BoundOptions>, options: Partial<BoundOptions> = {}) {
    super(params, { ...defined(options), amsbound: true });
  }
}

export interface SWATSOptions extends GroupOptions {
  betas: [number, number];
  eps: number;
  weightDecay: number;
  nesterov: boolean;
}

/**
 * SWATS (Keskar & Socher, "Improving generalization performance by switching from Adam
 * to SGD"): Adam until the SGD learning rate implied by Adam's steps settles, then SGD
 * with momentum β₁ at that rate. Per parameter tensor, after each Adam step p:
 *   γ = pᵀp / (−pᵀg);  λ ← β₂λ + (1 − β₂)γ;  switch when t > 1 and |λ/(1 − β₂ᵗ) − γ| < ε,
 * then θ ← θ − (1 − β₁)·Λ·b with b ← β₁b + g and Λ = λ/(1 − β₂ᵗ).
 * `state.phase` is 'adam' or 'sgd' and `state.sgdLr` the chosen rate.
 */
const SWATS_KEYS = optionKeys<SWATSOptions>()(['lr', 'betas', 'eps', 'weightDecay', 'nesterov']);

export class SWATS extends Optimizer<SWATSOptions> {
  constructor(params: Params<SWATSOptions>, options: Partial<SWATSOptions> = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-9, weightDecay: 0, nesterov: false, ...checkedOptions(new.target.name, options, SWATS_KEYS) });
  }
  protected override validate(g: SWATSOptions): void {
    super.validate(g);
    checkAdamLike('SWATS', g);
  }
  /** whether every parameter has switched to SGD */
  get switched(): boolean {
    return this.paramGroups.every((g) => g.params.every((p) => this.state.get(p)?.sgdLr !== undefined));
  }
  protected update(p: Tensor, grad: Tensor, state: ParamState, g: ParamGroup<SWATSOptions>): Tensor {
    const [b1, b2] = g.betas;
    const d = g.weightDecay !== 0 ? grad.add(p.mul(g.weightDecay)) : grad;
    if (state.sgdLr !== undefined) {
      const prev = state.momentumBuffer as Tensor | undefined;
      const buf = prev ? prev.mul(b1).add(d) : d.add(0);
      state.momentumBuffer = buf;
      const dir = g.nesterov ? d.add(buf.mul(b1)) : buf;
      return p.sub(dir.mul((1 - b1) * (state.sgdLr as number)));
    }
    const { m, v, t } = moments(d, state, g.betas);
    // Adam's step with bias-corrected moments: p = −η·m̂/(√v̂ + ε)
    const step = m.div(sqrt(v).div(Math.sqrt(1 - b2 ** t)).add(g.eps)).mul(-g.lr / (1 - b1 ** t));
    const flat = step.reshape([-1]);
    const pg = flat.dot(d.reshape([-1])).item();
    if (pg !== 0) {
      const gamma = flat.dot(flat).item() / -pg;
      const lam = b2 * ((state.lambda as number | undefined) ?? 0) + (1 - b2) * gamma;
      state.lambda = lam;
      const corrected = lam / (1 - b2 ** t);
      if (t > 1 && corrected > 0 && Math.abs(corrected - gamma) < g.eps) state.sgdLr = corrected;
    }
    return p.add(step);
  }
}
