import { optionKeys, type Tensor } from '@ml/tensor';
import { Optimizer, checkRange, checkedOptions, type GroupOptions, type ParamGroup, type ParamState, type Params } from './optimizer.js';

export interface SGDOptions extends GroupOptions {
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  maximize: boolean;
}

/**
 * Stochastic gradient descent (PyTorch's update):
 *   g ← ∇ + λθ;  b ← μb + (1 − τ)g (b = g on the first step);
 *   g ← g + μb (Nesterov) or b;  θ ← θ − ηg
 */
const SGD_KEYS = optionKeys<SGDOptions>()(['lr', 'momentum', 'dampening', 'weightDecay', 'nesterov', 'maximize']);

export class SGD extends Optimizer<SGDOptions> {
  constructor(params: Params<SGDOptions>, options: Partial<SGDOptions> = {}) {
    super(params, { lr: 0.01, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, ...checkedOptions(new.target.name, options, SGD_KEYS) });
  }
  protected override validate(g: SGDOptions): void {
    super.validate(g);
    if (!(g.momentum >= 0)) throw new Error(`SGD: invalid momentum ${g.momentum} (must be ≥ 0)`);
    checkRange('SGD', 'dampening', g.dampening, 0, 1, false);
    if (!(g.weightDecay >= 0)) throw new Error(`SGD: invalid weightDecay ${g.weightDecay} (must be ≥ 0)`);
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) throw new Error('SGD: nesterov needs momentum > 0 and dampening 0');
  }
  protected update(p: Tensor, grad: Tensor, state: ParamState, g: ParamGroup<SGDOptions>): Tensor {
    let d = g.maximize ? grad.neg() : grad;
    if (g.weightDecay !== 0) d = d.add(p.mul(g.weightDecay));
    if (g.momentum !== 0) {
      const prev = state.momentumBuffer as Tensor | undefined;
      const buf = prev ? prev.mul(g.momentum).add(d.mul(1 - g.dampening)) : d.add(0);
      state.momentumBuffer = buf;
      d = g.nesterov ? d.add(buf.mul(g.momentum)) : buf;
    }
    return p.sub(d.mul(g.lr));
  }
}
