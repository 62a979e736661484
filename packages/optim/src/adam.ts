import { maximum, optionKeys, sqrt, zeros, type Tensor, type TypedArray } from '@ml/tensor';
import { flushTiny, fromData, hostData, type AdamStep } from '@ml/tensor/backend';
import { Optimizer, checkRange, checkedOptions, defined, type GroupOptions, type ParamGroup, type ParamState, type Params } from './optimizer.js';

export interface AdamOptions extends GroupOptions {
  betas: [number, number];
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
  maximize: boolean;
}

/** Checks shared by the Adam family's options. */
export function checkAdamLike(name: string, g: { betas: [number, number]; eps: number; weightDecay: number }): void {
  checkRange(name, 'beta1', g.betas[0], 0, 1);
  checkRange(name, 'beta2', g.betas[1], 0, 1);
  if (!(g.eps >= 0)) throw new Error(`${name}: invalid eps ${g.eps} (must be ≥ 0)`);
  if (!(g.weightDecay >= 0)) throw new Error(`${name}: invalid weightDecay ${g.weightDecay} (must be ≥ 0)`);
}

/** Adam's first and second moments of `d`, updated in `state`; returns them and the step count. */
export function moments(d: Tensor, state: ParamState, [b1, b2]: [number, number]): { m: Tensor; v: Tensor; t: number } {
  const t = ((state.step as number | undefined) ?? 0) + 1;
  state.step = t;
  const m0 = state.expAvg as Tensor | undefined;
  const v0 = state.expAvgSq as Tensor | undefined;
  const m = m0 ? m0.mul(b1).add(d.mul(1 - b1)) : d.mul(1 - b1);
  const v = v0 ? v0.mul(b2).add(d.square().mul(1 - b2)) : d.square().mul(1 - b2);
  state.expAvg = m;
  state.expAvgSq = v;
  return { m, v, t };
}

/**
 * Parameters with fewer elements take the op-by-op path (the fused JavaScript loop's setup
 * costs more), unless the backend has its own fused kernel (far cheaper than a dozen ops).
 */
const FUSE_MIN = 1024;

/**
 * Adam (Kingma & Ba), PyTorch's form:
 *   m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²;  (AMSGrad: v̂ ← max(v̂, v))
 *   θ ← θ − η · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε)
 * `weightDecay` adds λθ to g (L2); AdamW decouples it: θ ← θ(1 − ηλ) first.
 */
const ADAM_KEYS = optionKeys<AdamOptions>()(['lr', 'betas', 'eps', 'weightDecay', 'amsgrad', 'maximize']);

export class Adam extends Optimizer<AdamOptions> {
  protected readonly decoupled: boolean = false;
  constructor(params: Params<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, ...checkedOptions(new.target.name, options, ADAM_KEYS) });
  }
  protected override validate(g: AdamOptions): void {
    super.validate(g);
    checkAdamLike(this.constructor.name, g);
  }
  protected update(p: Tensor, grad: Tensor, state: ParamState, g: ParamGroup<AdamOptions>): Tensor {
    const fusedStep = p.backend.adamUpdate !== undefined;
    const host = p.backend.hostArray !== undefined;
    if ((host || fusedStep) && (p.dtype === 'float32' || p.dtype === 'float64') && (p.size >= FUSE_MIN || fusedStep)) {
      const next = this.#fused(p, grad, state, g);
      if (next !== null) return next;
    }
    const [b1, b2] = g.betas;
    let d = g.maximize ? grad.neg() : grad;
    let theta = p;
    if (g.weightDecay !== 0) {
      if (this.decoupled) theta = p.mul(1 - g.lr * g.weightDecay);
      else d = d.add(p.mul(g.weightDecay));
    }
    const { m, v, t } = moments(d, state, g.betas);
    let vUse = v;
    if (g.amsgrad) {
      const prev = state.maxExpAvgSq as Tensor | undefined;
      vUse = prev ? maximum(prev, v) : v.add(0);
      state.maxExpAvgSq = vUse;
    }
    const bc1 = 1 - b1 ** t;
    const bc2 = 1 - b2 ** t;
    const denom = sqrt(vUse).div(Math.sqrt(bc2)).add(g.eps);
    return theta.sub(m.div(denom).mul(g.lr / bc1));
  }

  /**
   * The same update in one pass over the elements, for backends whose memory the host reads
   * directly (cpu, wasm): a dozen tensor ops, each a full pass and an allocation, become one
   * loop. The arithmetic is the op-by-op formula's, in the same order.
   */
  #fused(p: Tensor, grad: Tensor, state: ParamState, g: ParamGroup<AdamOptions>): Tensor | null {
    const [b1, b2] = g.betas;
    const n = p.size;
    // the moments are the optimizer's own buffers: updated in place (as PyTorch does)
    const moment = (key: string): Tensor => {
      if (state[key] === undefined) state[key] = zeros(p.shape, { dtype: p.dtype, backend: p.backend.name });
      return state[key] as Tensor;
    };
    const [mT, vT] = [moment('expAvg'), moment('expAvgSq')];
    const vmaxT = g.amsgrad ? moment('maxExpAvgSq') : null;
    const t = ((state.step as number | undefined) ?? 0) + 1;
    const sbc2 = Math.sqrt(1 - b2 ** t);
    const stepSize = g.lr / (1 - b1 ** t);
    const wd = g.weightDecay;
    const decay = this.decoupled ? 1 - g.lr * wd : 1;
    const l2 = this.decoupled ? 0 : wd;
    const sign = g.maximize ? -1 : 1;
    // a backend's own fused step (the wasm backend's SIMD loop, a WebGPU kernel), when it has one (no AMSGrad)
    const step: AdamStep = { b1, b2, sbc2, eps: g.eps, stepSize, decay, l2, sign };
    const fromKernel = vmaxT === null && grad.isContiguous && grad.dtype === p.dtype && p.isContiguous ? fusedAdam(p, grad, mT, vT, step) : null;
    if (fromKernel !== null) {
      state.step = t;
      return fromKernel;
    }
    if (p.backend.hostArray === undefined) return null; // a device backend's kernel declined
    const [P, G, m, v] = [hostData(p), hostData(grad), hostData(mT), hostData(vT)];
    const vmax = vmaxT === null ? null : hostData(vmaxT);
    if (P === null || G === null || m === null || v === null || (vmaxT !== null && vmax === null)) return null;
    const next = zeros(p.shape, { dtype: p.dtype, backend: p.backend.name });
    const out = hostData(next) as TypedArray; // a fresh tensor on the same host-memory backend
    state.step = t;
    const eps = g.eps; // hoisted: a property load per element costs more than the arithmetic
    for (let i = 0; i < n; i++) {
      const d = l2 === 0 ? sign * G[i] : sign * G[i] + l2 * P[i];
      // moments under 2⁻¹⁰⁰ kept as +0: a gradient that stops (a pixel no later image lights)
      // leaves m shrinking ×b1 a step through the subnormal floats otherwise (see flushTiny)
      const mi = flushTiny(b1 * m[i] + (1 - b1) * d);
      const vi = flushTiny(b2 * v[i] + (1 - b2) * (d * d));
      m[i] = mi;
      v[i] = vi;
      let vu = vi;
      if (vmax !== null) {
        vu = vmax[i] > vi ? vmax[i] : vi;
        vmax[i] = vu;
      }
      out[i] = P[i] * decay - (mi / (Math.sqrt(vu) / sbc2 + eps)) * stepSize;
    }
    return next;
  }
}

/** Adam with decoupled weight decay (Loshchilov & Hutter); default weightDecay 0.01. */
export class AdamW extends Adam {
  protected override readonly decoupled = true;
  constructor(params: Params<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super(params, { weightDecay: 1e-2, ...defined(options) });
  }
}

/** Adam with the AMSGrad fix (Reddi et al.): the denominator uses the running max of v. */
export class AMSGrad extends Adam {
  constructor(params: Params<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super(params, { ...defined(options), amsgrad: true });
  }
}

/** The backend's fused Adam step (an optional method of the backend contract) on p, or null when it has none or declines. */
function fusedAdam(p: Tensor, grad: Tensor, m: Tensor, v: Tensor, step: AdamStep): Tensor | null {
  const b = p.backend;
  const data = b.adamUpdate?.(p.view_(), grad.view_(), m.view_(), v.view_(), step) ?? null;
  return data === null ? null : fromData(b, data, p.shape, p.dtype);
}
