import { abs, type Tensor } from '@ml/tensor';
import type { AnyModule } from './module.js';
import { BatchNorm1d, BatchNorm2d, LayerNorm } from './normalization.js';

function total(params: Iterable<Tensor>, term: (p: Tensor) => Tensor, who: string): Tensor {
  let acc: Tensor | null = null;
  for (const p of params) {
    const t = term(p).sum();
    acc = acc ? acc.add(t) : t;
  }
  if (!acc) throw new Error(`${who}: no parameters given`);
  return acc;
}

/** λ·Σ|w| over the given parameters (lasso); its gradient is λ·sign(w). */
export function l1Penalty(params: Iterable<Tensor>, lambda: number): Tensor {
  return total(params, (p) => abs(p), 'l1Penalty').mul(lambda);
}

/**
 * λ·Σw² (ridge; no ½), whose gradient is 2λw. An optimizer's `weightDecay = d` adds d·w
 * to the gradient, so it equals this penalty with λ = d/2.
 */
export function l2Penalty(params: Iterable<Tensor>, lambda: number): Tensor {
  return total(params, (p) => p.square(), 'l2Penalty').mul(lambda);
}

/** l1·Σ|w| + l2·Σw² */
export function elasticNetPenalty(params: Iterable<Tensor>, l1: number, l2: number): Tensor {
  const list = [...params];
  return l1Penalty(list, l1).add(l2Penalty(list, l2));
}

/**
 * The weight parameters of a model, for penalties that should skip biases and the
 * scale/shift of normalization layers (BatchNorm, LayerNorm).
 */
export function weightsOnly(model: AnyModule): Tensor[] {
  const out: Tensor[] = [];
  for (const [, m] of model.namedModules()) {
    if (m instanceof BatchNorm1d || m instanceof BatchNorm2d || m instanceof LayerNorm) continue;
    for (const [name, p] of m.namedParameters({ recurse: false })) if (!name.startsWith('bias')) out.push(p);
  }
  return out;
}
