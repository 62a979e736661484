/**
 * Layer normalization as one op. As a composite it is a mean, a variance, a subtraction, a
 * product with rsqrt, a scale and a shift, each a graph node and a pass over the tensor;
 * as one op it is one pass per row forward (keeping each row's mean and 1/σ) and one pass
 * backward. The composite stays the reference and the path for second derivatives.
 */
import { defineOp } from '../op.js';
import { fmt, ShapeError } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { add, mul, rsqrt, sub } from './elementwise.js';
import { clone, concat, narrow, reshape } from './layout.js';
import { assertFloat, runOp } from './prim.js';
import { mean, sum, variance } from './reduce.js';

/** layerNorm's attributes: the normalized (trailing) shape, ε, and which of weight and bias follow x in the inputs. */
interface LayerNormAttrs {
  normalizedShape: readonly number[];
  eps: number;
  hasWeight: boolean;
  hasBias: boolean;
}

/**
 * layerNorm, inputs [x, weight?, bias?]. Its gradient: ∂x, ∂weight and ∂bias from
 * layerNormBackward (one pass), whose flat output [R·D | D | D] is cut into the three
 * (views, no copies).
 */
const layerNormOp = defineOp<LayerNormAttrs>({
  name: 'layerNorm',
  grad: (dy, n, needs) => {
    const { normalizedShape, eps, hasWeight, hasBias } = n.attrs;
    const x = n.inputs[0];
    const weight = hasWeight ? n.inputs[1] : null;
    const g = layerNormBackward(x, weight, dy, normalizedShape, eps, n.saved);
    const D = sizeOfShape(normalizedShape);
    const part = (at: number, len: number, shape: readonly number[]) => reshape(narrow(g, 0, at, len), shape);
    // ∂weight and ∂bias as copies: a parameter's .grad viewing g would keep all of g (∂x too) alive
    const small = (at: number) => clone(part(at, D, normalizedShape));
    const out: (Tensor | null)[] = [needs[0] ? part(0, x.size, x.shape) : null];
    if (hasWeight) out.push(needs[1] ? small(x.size) : null);
    if (hasBias) out.push(needs[out.length] ? small(x.size + D) : null);
    return out;
  },
  fused: (b, [x, ...rest], a, save) => {
    const weight = a.hasWeight ? rest[0] : null;
    const bias = a.hasBias ? rest[rest.length - 1] : null;
    return b.layerNorm?.(x, weight, bias, sizeOfShape(a.normalizedShape), a.eps, save) ?? null;
  },
});

/**
 * The gradients of layerNorm as one flat tensor [R·D | D | D] = [∂x | ∂weight | ∂bias],
 * inputs [x, weight?, dy] (∂weight and ∂bias as if weight were all ones when there is
 * none); differentiated through its composite. `saved` is what the forward kernel kept
 * (each row's mean and 1/σ).
 */
const layerNormBackwardOp = defineOp<Omit<LayerNormAttrs, 'hasBias'> & { saved: readonly Tensor[] }>({
  name: 'layerNormBackward',
  fused: (b, inputs, a) => {
    const [x, weight, dy] = a.hasWeight ? inputs : [inputs[0], null, inputs[1]];
    return b.layerNormBackward?.(x, weight, dy, sizeOfShape(a.normalizedShape), a.eps, a.saved.map((t) => t.view_())) ?? null;
  },
});

const sizeOfShape = (s: readonly number[]): number => s.reduce((p, d) => p * d, 1);

/** The normalized shape as an array, checked against x (its trailing dims). */
function checkLayerNorm(op: string, x: Tensor, normalizedShape: number | readonly number[], weight: Tensor | null, bias: Tensor | null): number[] {
  assertFloat(op, x);
  const shape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
  if (shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new ShapeError(`${op}: normalizedShape must be one or more positive integers, got ${fmt(shape)}`);
  }
  const k = shape.length;
  if (x.ndim < k || x.shape.slice(x.ndim - k).some((d, i) => d !== shape[i])) {
    throw new ShapeError(`${op}: input ${fmt(x.shape)} must end in normalizedShape ${fmt(shape)}`);
  }
  for (const [name, t] of [['weight', weight], ['bias', bias]] as const) {
    if (t === null) continue;
    if (t.ndim !== k || t.shape.some((d, i) => d !== shape[i])) throw new ShapeError(`${op}: ${name} must have normalizedShape ${fmt(shape)}, got ${fmt(t.shape)}`);
    if (t.dtype !== x.dtype) throw new TypeError(`${op}: ${name} is ${t.dtype} but x is ${x.dtype}; cast one first`);
  }
  return shape;
}

/** The trailing dims layerNorm normalizes over. */
const normDims = (x: Tensor, k: number): number[] => Array.from({ length: k }, (_, i) => x.ndim - k + i);

/** x̂ = (x − E[x]) / √(Var[x] + ε) over the trailing k dims, as the composites compute it. */
function normalized(x: Tensor, k: number, eps: number): { xhat: Tensor; rstd: Tensor } {
  const dims = normDims(x, k);
  const rstd = rsqrt(add(variance(x, dims, { keepdim: true, correction: 0 }), eps));
  return { xhat: mul(sub(x, mean(x, dims, true)), rstd), rstd };
}

/**
 * Layer normalization (Ba et al.; PyTorch's `F.layer_norm`): each sample is normalized
 * over its trailing dims `normalizedShape`, y = (x − E[x]) / √(Var[x] + ε) · weight + bias,
 * with the biased variance. `weight` and `bias` (shape normalizedShape) may be null. One
 * fused pass per row on the CPU-family backends (statistics in double), a composite elsewhere.
 */
export function layerNorm(x: Tensor, normalizedShape: number | readonly number[], weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5): Tensor {
  const shape = checkLayerNorm('layerNorm', x, normalizedShape, weight, bias);
  if (!(eps >= 0)) throw new RangeError(`layerNorm: eps must be ≥ 0, got ${eps}`);
  const inputs = [x, ...(weight !== null ? [weight] : []), ...(bias !== null ? [bias] : [])];
  const attrs = { normalizedShape: shape, eps, hasWeight: weight !== null, hasBias: bias !== null };
  return runOp(layerNormOp, inputs, attrs, { shape: x.shape, dtype: x.dtype }, () => {
    let y = normalized(x, shape.length, eps).xhat;
    if (weight !== null) y = mul(y, weight);
    if (bias !== null) y = add(y, bias);
    return y;
  });
}

/**
 * The backward pass of {@link layerNorm} for dy (x's shape): one flat tensor
 * [R·D | D | D] = [∂x | ∂weight | ∂bias] (R rows of D = size of normalizedShape), with
 * x̂ the normalized rows, g = dy·weight and 1/σ = rstd:
 *   ∂x = rstd·(g − mean(g) − x̂·mean(g·x̂)),  ∂weight = Σ_rows dy·x̂,  ∂bias = Σ_rows dy.
 * `saved` is what the forward kernel kept (each row's mean and rstd, [R, 2] float64).
 */
export function layerNormBackward(
  x: Tensor,
  weight: Tensor | null,
  dy: Tensor,
  normalizedShape: number | readonly number[],
  eps = 1e-5,
  saved: readonly Tensor[] = [],
): Tensor {
  const shape = checkLayerNorm('layerNormBackward', x, normalizedShape, weight, null);
  if (dy.ndim !== x.ndim || dy.shape.some((d, i) => d !== x.shape[i])) {
    throw new ShapeError(`layerNormBackward: dy must have x's shape ${fmt(x.shape)}, got ${fmt(dy.shape)}`);
  }
  if (dy.dtype !== x.dtype) throw new TypeError(`layerNormBackward: dy is ${dy.dtype} but x is ${x.dtype}`);
  const D = sizeOfShape(shape);
  const inputs = weight !== null ? [x, weight, dy] : [x, dy];
  const attrs = { normalizedShape: shape, eps, hasWeight: weight !== null, saved };
  return runOp(layerNormBackwardOp, inputs, attrs, { shape: [x.size + 2 * D], dtype: x.dtype }, () => {
    const k = shape.length;
    const dims = normDims(x, k);
    const rows = Array.from({ length: x.ndim - k }, (_, i) => i);
    const { xhat, rstd } = normalized(x, k, eps);
    const g = weight !== null ? mul(dy, weight) : dy;
    const dx = mul(rstd, sub(sub(g, mean(g, dims, true)), mul(xhat, mean(mul(g, xhat), dims, true))));
    const dw = rows.length > 0 ? sum(mul(dy, xhat), rows) : mul(dy, xhat);
    const db = rows.length > 0 ? sum(dy, rows) : dy;
    return concat([reshape(dx, [x.size]), reshape(dw, [D]), reshape(db, [D])], 0);
  });
}
