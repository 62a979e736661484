import { optionKeys, sqrt, type Tensor } from '@ml/tensor';
import { Optimizer, checkedOptions, type GroupOptions, type ParamGroup, type ParamState, type Params } from './optimizer.js';

export interface AdagradOptions extends GroupOptions {
  lrDecay: number;
  weightDecay: number;
  initialAccumulatorValue: number;
  eps: number;
}

/**
 * Adagrad (Duchi et al.): s ← s + g²;  θ ← θ − η_t · g / (√s + ε), with
 * η_t = η / (1 + (t − 1)·lrDecay).
 */
const ADAGRAD_KEYS = optionKeys<AdagradOptions>()(['lr', 'lrDecay', 'weightDecay', 'initialAccumulatorValue', 'eps']);

export class Adagrad extends Optimizer<AdagradOptions> {
  constructor(params: Params<AdagradOptions>, options: Partial<AdagradOptions> = {}) {
    super(params, { lr: 0.01, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10, ...checkedOptions(new.target.name, options, ADAGRAD_KEYS) });
  }
  protected override validate(g: AdagradOptions): void {
    super.validate(g);
    for (const k of ['lrDecay', 'weightDecay', 'initialAccumulatorValue', 'eps'] as const) {
      if (!(g[k] >= 0)) throw new Error(`Adagrad: invalid ${k} ${g[k]} (must be ≥ 0)`);
    }
  }
  protected update(p: Tensor, grad: Tensor, state: ParamState, g: ParamGroup<AdagradOptions>): Tensor {
    const t = ((state.step as number | undefined) ?? 0) + 1;
    state.step = t;
    const d = g.weightDecay !== 0 ? grad.add(p.mul(g.weightDecay)) : grad;
    const prev = state.sum as Tensor | undefined;
    const s = prev ? prev.add(d.square()) : d.square().add(g.initialAccumulatorValue);
    state.sum = s;
    const lr = g.lr / (1 + (t - 1) * g.lrDecay);
    return p.sub(d.div(sqrt(s).add(g.eps)).mul(lr));
  }
}

export interface RMSpropOptions extends GroupOptions {
  alpha: number;
  eps: number;
  weightDecay: number;
  momentum: number;
  centered: boolean;
}

/**
 * RMSProp (Hinton), PyTorch's form: v ← αv + (1 − α)g²; centered: ḡ ← αḡ + (1 − α)g and
 * the denominator is √(v − ḡ²) + ε, else √v + ε; with momentum: b ← μb + g/denom,
 * θ ← θ − ηb; without: θ ← θ − η·g/denom.
 */
const RMSPROP_KEYS = optionKeys<RMSpropOptions>()(['lr', 'alpha', 'eps', 'weightDecay', 'momentum', 'centered']);

export class RMSprop extends Optimizer<RMSpropOptions> {
  constructor(params: Params<RMSpropOptions>, options: Partial<RMSpropOptions> = {}) {
    super(params, { lr: 0.01, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, ...checkedOptions(new.target.name, options, RMSPROP_KEYS) });
  }
  protected override validate(g: RMSpropOptions): void {
    super.validate(g);
    for (const k of ['alpha', 'eps', 'weightDecay', 'momentum'] as const) {
      if (!(g[k] >= 0)) throw new Error(`RMSprop: invalid ${k} ${g[k]} (must be ≥ 0)`);
    }
  }
  protected update(p: Tensor, grad: Tensor, state: ParamState, g: ParamGroup<RMSpropOptions>): Tensor {
    const d = g.weightDecay !== 0 ? grad.add(p.mul(g.weightDecay)) : grad;
    const v0 = state.squareAvg as Tensor | undefined;
    const v = (v0 ? v0.mul(g.alpha) : d.mul(0)).add(d.square().mul(1 - g.alpha));
    state.squareAvg = v;
    let avg = v;
    if (g.centered) {
      const m0 = state.gradAvg as Tensor | undefined;
      const m = (m0 ? m0.mul(g.alpha) : d.mul(0)).add(d.mul(1 - g.alpha));
      state.gradAvg = m;
      avg = v.sub(m.square());
    }
    const denom = sqrt(avg).add(g.eps);
    if (g.momentum > 0) {
      const b0 = state.momentumBuffer as Tensor | undefined;
      const b = (b0 ? b0.mul(g.momentum) : d.mul(0)).add(d.div(denom));
      state.momentumBuffer = b;
      return p.sub(b.mul(g.lr));
    }
    return p.sub(d.div(denom).mul(g.lr));
  }
}
