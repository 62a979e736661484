import { broadcastShapes, fmt, ShapeError } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { mul } from './elementwise.js';
import { expand, reshape, squeeze, unsqueeze } from './layout.js';
import { castTo, prim } from './prim.js';
import { sum } from './reduce.js';
import { promoteTypes } from '../dtype.js';

/** The batched primitive: [B,M,K] × [B,K,N] → [B,M,N]. */
function bmm(a: Tensor, b: Tensor): Tensor {
  const [B, M] = a.shape;
  const N = b.shape[2];
  return prim('matmul', [a, b], {}, [B, M, N], a.dtype, (be, [va, vb]) => be.matmul(va, vb));
}

/** View/copy a [...batch, R, C] operand as [B, R, C] for the primitive. */
function as3d(t: Tensor, batch: readonly number[], B: number): Tensor {
  const [r, c] = t.shape.slice(-2);
  if (t.ndim === 2) return expand(unsqueeze(t, 0), [B, r, c]);
  return reshape(expand(t, [...batch, r, c]), [B, r, c]);
}

/**
 * Matrix product with NumPy's rules: 1-D operands are promoted (and the added dim
 * removed), batch dims broadcast.
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.ndim === 0 || b.ndim === 0) {
    throw new ShapeError(`matmul: both operands need at least 1 dim, got ${fmt(a.shape)} x ${fmt(b.shape)}`);
  }
  const dt = promoteTypes(a.dtype, b.dtype);
  if (dt === 'bool') throw new TypeError('matmul: bool tensors are not supported; cast to a numeric dtype first');
  const x = castTo(a.ndim === 1 ? unsqueeze(a, 0) : a, dt);
  const y = castTo(b.ndim === 1 ? unsqueeze(b, -1) : b, dt);
  const K = x.shape[x.ndim - 1];
  if (y.shape[y.ndim - 2] !== K) {
    throw new ShapeError(`matmul: ${fmt(a.shape)} x ${fmt(b.shape)} — inner dims ${K} and ${y.shape[y.ndim - 2]} differ`);
  }
  const M = x.shape[x.ndim - 2];
  const N = y.shape[y.ndim - 1];
  const batch = broadcastShapes('matmul', x.shape.slice(0, -2), y.shape.slice(0, -2));
  const B = batch.reduce((p, d) => p * d, 1);
  let out: Tensor;
  if (y.ndim === 2 && x.ndim > 2 && x.isContiguous) {
    // [..., M, K] x [K, N]: one big [1, B·M, K] x [1, K, N] product, no broadcast copies
    out = reshape(bmm(reshape(x, [1, B * M, K]), unsqueeze(y, 0)), [...batch, M, N]);
  } else {
    out = reshape(bmm(as3d(x, batch, B), as3d(y, batch, B)), [...batch, M, N]);
  }
  if (a.ndim === 1) out = squeeze(out, -2);
  if (b.ndim === 1) out = squeeze(out, -1);
  return out;
}

/** Inner product of two 1-D tensors. */
export function dot(a: Tensor, b: Tensor): Tensor {
  if (a.ndim !== 1 || b.ndim !== 1 || a.shape[0] !== b.shape[0]) {
    throw new ShapeError(`dot: expected two 1-D tensors of equal length, got ${fmt(a.shape)} and ${fmt(b.shape)}`);
  }
  return sum(mul(a, b));
}

/** Outer product of two 1-D tensors: [n] ⊗ [m] → [n, m]. */
export function outer(a: Tensor, b: Tensor): Tensor {
  if (a.ndim !== 1 || b.ndim !== 1) throw new ShapeError(`outer: expected two 1-D tensors, got ${fmt(a.shape)} and ${fmt(b.shape)}`);
  return mul(unsqueeze(a, 1), unsqueeze(b, 0));
}

