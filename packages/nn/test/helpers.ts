import { readFileSync } from 'node:fs';
import { gradcheck } from '@ml/autograd';
import { tensor, type NestedArray, type Tensor } from '@ml/tensor';
import type { AnyModule } from '../src/index.js';

/** Load `test/fixtures/<name>.json`. */
export function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), 'utf8')) as T;
}

export const f64 = (v: NestedArray): Tensor => tensor(v, { dtype: 'float64' });

/** Fixture state dict (nested lists) → float64 tensors, int32 for PyTorch's int64 counters. */
export function stateOf(state: Record<string, NestedArray>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(state)) out[k] = k.endsWith('num_batches_tracked') ? tensor(v, { dtype: 'int32' }) : f64(v);
  return out;
}

/**
 * gradcheck through a layer with respect to its input(s) and every parameter: the
 * parameters are fed in as gradcheck inputs via `withParameters`.
 */
export function gradcheckLayer(layer: AnyModule, inputs: Tensor[], run: (...xs: Tensor[]) => Tensor, options: { atol?: number; rtol?: number } = {}): void {
  const names = [...layer.namedParameters()].map(([k]) => k);
  const params = names.map((k) => layer.stateDict()[k].detach());
  gradcheck(
    (...all: Tensor[]) => {
      const xs = all.slice(0, inputs.length);
      const ps = all.slice(inputs.length);
      return layer.withParameters(Object.fromEntries(names.map((k, i) => [k, ps[i]])), () => run(...xs));
    },
    [...inputs, ...params],
    options,
  );
}

/** One recurrent layer's case: inputs, weights, upstream gradients, and PyTorch's outputs and gradients. */
export interface RecurrentCase {
  x: NestedArray;
  state: Record<string, NestedArray>;
  h0?: NestedArray;
  c0?: NestedArray;
  gy: NestedArray;
  ghn?: NestedArray;
  gcn?: NestedArray;
  y: NestedArray;
  hn?: NestedArray;
  cn?: NestedArray;
  gx: NestedArray;
  gh0?: NestedArray;
  gc0?: NestedArray;
  grads: Record<string, NestedArray>;
}

/** The recurrent layers' cases, recorded from PyTorch 1.13 in float64 by test/fixtures/recurrent.py. */
export const recurrentCases = fixture<{ cases: Record<string, RecurrentCase> }>('recurrent').cases;
