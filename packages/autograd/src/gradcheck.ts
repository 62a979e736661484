import { cast, checkOptions, concat, formatShape, fromArray, isFloat, optionKeys, tidy, type Tensor } from '@ml/tensor';
import { vjp } from './functional.js';

export interface GradcheckOptions {
  /** finite-difference step (default 1e-6) */
  eps?: number;
  /** absolute tolerance (default 1e-5) */
  atol?: number;
  /** relative tolerance (default 1e-3) */
  rtol?: number;
  /** throw on mismatch (default true); otherwise return the report */
  raiseException?: boolean;
}

const GRADCHECK_KEYS = optionKeys<GradcheckOptions>()(['eps', 'atol', 'rtol', 'raiseException']);

export interface GradcheckResult {
  ok: boolean;
  /** largest |analytic − numeric| over all Jacobian entries */
  maxAbsError: number;
  /** where the worst entry is, readable */
  worst: string;
}

function valuesOf(t: Tensor): Float64Array {
  return Float64Array.from(t.dataSync());
}

/**
 * Compare the Jacobian from the tape with central finite differences, in float64 on
 * the CPU backend: (f(x + εeᵢ) − f(x − εeᵢ)) / 2ε against vᵀJ for each unit v.
 * Inputs are copied to float64; integer inputs are passed through and not checked.
 */
export function gradcheck(f: (...xs: Tensor[]) => Tensor, inputs: readonly Tensor[], options: GradcheckOptions = {}): GradcheckResult {
  checkOptions('gradcheck', options, GRADCHECK_KEYS);
  const eps = options.eps ?? 1e-6;
  const atol = options.atol ?? 1e-5;
  const rtol = options.rtol ?? 1e-3;
  return tidy(() => {
    const base = inputs.map((x) => Float64Array.from(x.dataSync()));
    const make = (vals: Float64Array[]) =>
      inputs.map((x, i) => (isFloat(x.dtype) ? fromArray(vals[i], x.shape, { dtype: 'float64', backend: 'cpu' }) : x));
    const evalAt = (vals: Float64Array[]) => tidy(() => valuesOf(cast(f(...make(vals)), 'float64')));
    const y0 = tidy(() => f(...make(base)));
    const outShape = y0.shape;
    const nOut = y0.size;
    const checked = inputs.map((x) => isFloat(x.dtype));
    if (!checked.some(Boolean)) throw new Error('gradcheck: no floating-point inputs to check');

    // numeric Jacobian columns: numeric[i][k][j] = ∂y_j/∂x_i[k]
    const numeric = base.map((vals, i) => {
      if (!checked[i]) return [];
      const cols: Float64Array[] = [];
      for (let k = 0; k < vals.length; k++) {
        const plus = base.map((b) => b.slice());
        const minus = base.map((b) => b.slice());
        plus[i][k] += eps;
        minus[i][k] -= eps;
        const yp = evalAt(plus);
        const ym = evalAt(minus);
        cols.push(yp.map((v, j) => (v - ym[j]) / (2 * eps)));
      }
      return cols;
    });

    let maxAbsError = 0;
    let worst = '';
    let ok = true;
    for (let j = 0; j < nOut; j++) {
      const e = new Float64Array(nOut);
      e[j] = 1;
      const seed = fromArray(e, outShape, { dtype: 'float64', backend: 'cpu' });
      const { grads } = tidy(() => vjp((...xs) => cast(f(...xs), 'float64'), make(base), seed));
      grads.forEach((g, i) => {
        if (!checked[i]) return;
        const analytic = valuesOf(g);
        for (let k = 0; k < analytic.length; k++) {
          const a = analytic[k];
          const n = numeric[i][k][j];
          const err = Math.abs(a - n);
          const bad = !(err <= atol + rtol * Math.abs(n));
          if (err > maxAbsError || (bad && ok) || Number.isNaN(err)) {
            maxAbsError = Number.isNaN(err) ? Infinity : Math.max(maxAbsError, err);
            worst = `input ${i} ${formatShape(inputs[i].shape)} element ${k}, output element ${j}: analytic ${a}, numeric ${n}`;
          }
          if (bad) ok = false;
        }
      });
    }
    const result = { ok, maxAbsError, worst };
    if (!ok && (options.raiseException ?? true)) {
      throw new Error(`gradcheck: Jacobian mismatch (atol ${atol}, rtol ${rtol}) at ${worst}`);
    }
    return result;
  });
}

/**
 * Second-order check: the gradient computation itself is differentiated and compared
 * with finite differences, i.e. gradcheck of x ↦ vᵀ ∂f/∂x for a fixed random-ish v.
 */
export function gradgradcheck(f: (...xs: Tensor[]) => Tensor, inputs: readonly Tensor[], options: GradcheckOptions = {}): GradcheckResult {
  checkOptions('gradgradcheck', options, GRADCHECK_KEYS);
  const y = tidy(() => f(...inputs.map((x) => (isFloat(x.dtype) ? cast(x, 'float64') : x))));
  // a fixed, non-uniform cotangent so that no structure hides an error
  const v = Float64Array.from({ length: y.size }, (_, i) => 0.5 + ((i * 7919) % 13) / 13);
  const vt = fromArray(v, y.shape, { dtype: 'float64', backend: 'cpu' });
  y.dispose();
  const floatIdx = inputs.map((x, i) => (isFloat(x.dtype) ? i : -1)).filter((i) => i >= 0);
  const g = (...xs: Tensor[]) => {
    const { grads } = vjp((...zs) => cast(f(...zs), 'float64'), xs, vt);
    return concatFlat(floatIdx.map((i) => grads[i]));
  };
  try {
    return gradcheck(g, inputs, options);
  } finally {
    vt.dispose();
  }
}

function concatFlat(ts: Tensor[]): Tensor {
  return concat(ts.map((t) => t.reshape([-1])), 0);
}
