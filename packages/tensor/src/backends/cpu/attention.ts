/**
 * Scaled dot-product attention on the host: per batch·head row block, S = Q·Kᵀ and O = P·V
 * are single batched products on the backend's matmul primitive (one call over every
 * batch·head); the scale, the masks and the softmax are one pass over each row of S in
 * double. The backward pass is four more batched products around one pass for ∂S:
 *   ∂V = Pᵀ∂O,  ∂P = ∂O Vᵀ,  ∂S = P ⊙ (∂P − rowsum(∂P ⊙ P)),  ∂Q = ∂S K·scale,  ∂K = ∂Sᵀ Q·scale.
 */
import type { DataId, SaveForBackward, View } from '../../backend.js';
import type { DType, TypedArray } from '../../dtype.js';
import type { ArrayAllocator } from './allocator.js';
import { dataValues, indexMap, isFloatDtype, vals, wrap } from './views.js';

/** What the attention kernels run on the backend: its matmul and copy primitives, and dispose. */
export interface AttentionSteps {
  matmul(a: View, b: View): DataId;
  /** elementwise ops and sums: ∂S's passes run on them (SIMD on the wasm backend) */
  binary(op: 'mul' | 'sub', a: View, b: View, outDtype: DType): DataId;
  reduce(op: 'sum', x: View, axes: readonly number[]): DataId;
  fill(size: number, dtype: DType, value: number): DataId;
  /** a contiguous copy of a view (the backend's own: the wasm one copies rows with SIMD) */
  copy(v: View): DataId;
  dispose(data: DataId): void;
  /**
   * Optional (a backend with kernels of its own, e.g. SIMD): P = softmax(s·scale + masks) in
   * place on the contiguous score rows `scores` [rows, S] (row r is query r mod L, batch
   * r div L), as softmaxRows below does it. false: the host loop runs.
   */
  softmaxRowsInPlace?(scores: DataId, rows: number, L: number, S: number, scale: number, causal: boolean, masks: readonly View[]): boolean;
  /** Optional: ∂P ← P ⊙ (∂P − rowsum(∂P ⊙ P))·scale in place on the contiguous [rows, S] ∂P. false: the passes on the primitives run. */
  softmaxBackwardInPlace?(P: View, dP: DataId, rows: number, S: number, scale: number): boolean;
}

/** An operand as a [B, M, K] view the matmul primitive reads, and the copy to give back (if one was made). */
interface Operand {
  view: View;
  copy: DataId | null;
}

/**
 * v [...batch, M, K] (batch dims multiplying to B) as [B, M, K]: a view when the batch dims
 * step through storage with one stride (contiguous, or broadcast by zero strides), else a
 * contiguous copy (e.g. heads split out of [N, L, H·D] as [N, H, L, D]).
 */
function operand(steps: AttentionSteps, v: View, B: number): Operand {
  const nd = v.shape.length;
  const [M, K] = [v.shape[nd - 2], v.shape[nd - 1]];
  let stride: number | null = null;
  let span = 1;
  let flat = true;
  for (let d = nd - 3; d >= 0 && flat; d--) {
    const n = v.shape[d];
    if (n === 1) continue;
    if (stride === null) stride = v.strides[d];
    else if (v.strides[d] !== stride * span) flat = false;
    span *= n;
  }
  if (flat) return { view: { ...v, shape: [B, M, K], strides: [stride ?? 0, v.strides[nd - 2], v.strides[nd - 1]] }, copy: null };
  const copy = steps.copy(v);
  return { view: { data: copy, dtype: v.dtype, shape: [B, M, K], strides: [M * K, K, 1], offset: 0 }, copy };
}

/** The last two axes of a [B, M, K] view swapped: [B, K, M], no copy. */
const transposed = (v: View): View => ({ ...v, shape: [v.shape[0], v.shape[2], v.shape[1]], strides: [v.strides[0], v.strides[2], v.strides[1]] });

/** A contiguous [B, M, K] view of a fresh buffer. */
const flat3 = (data: DataId, like: View, B: number, M: number, K: number): View => ({ data, dtype: like.dtype, shape: [B, M, K], strides: [M * K, K, 1], offset: 0 });

/** The sizes of one call: batch B (all batch dims), queries L, keys S, features E and Ev. */
interface Dims {
  B: number;
  L: number;
  S: number;
  E: number;
  Ev: number;
}

/** The call's sizes when the kernels cover it (one float dtype, bool or same-dtype masks, nothing empty), else null. */
function dims(q: View, k: View, v: View, masks: readonly View[], dy: View | null): Dims | null {
  const nd = q.shape.length;
  if (!isFloatDtype(q.dtype) || k.dtype !== q.dtype || v.dtype !== q.dtype || (dy !== null && dy.dtype !== q.dtype)) return null;
  if (masks.some((m) => m.dtype !== 'bool' && m.dtype !== q.dtype)) return null;
  const B = q.shape.slice(0, nd - 2).reduce((p, d) => p * d, 1);
  const d = { B, L: q.shape[nd - 2], S: k.shape[nd - 2], E: q.shape[nd - 1], Ev: v.shape[nd - 1] };
  return d.B * d.L * d.S * d.E * d.Ev === 0 ? null : d;
}

/** Where each batch's [L, S] block of a mask view starts, and its row and column strides. */
interface MaskWalk {
  values: TypedArray;
  bool: boolean;
  starts: Int32Array;
  sl: number;
  ss: number;
}

function maskWalks(masks: readonly View[]): MaskWalk[] {
  return masks.map((m) => {
    const nd = m.shape.length;
    return {
      values: vals(m),
      bool: m.dtype === 'bool',
      starts: indexMap(m.shape.slice(0, nd - 2), m.strides.slice(0, nd - 2), m.offset),
      sl: m.strides[nd - 2],
      ss: m.strides[nd - 1],
    };
  });
}

/**
 * Turn the scores s = Q·Kᵀ (contiguous [B, L, S], in place) into the probabilities
 * P = softmax(s·scale + masks) row by row, in double: bool masks hide a key (−∞), float
 * masks are added, in the order given, then `causal` hides key j > i. With any mask, a
 * row whose keys are all hidden becomes zeros (the composite's rule), else the row's max
 * is subtracted before exp (NaN propagates).
 */
function softmaxRows(s: TypedArray, d: Dims, masks: readonly MaskWalk[], scale: number, causal: boolean): void {
  const { B, L, S } = d;
  const masked = masks.length > 0 || causal;
  if (masks.length === 0 && scale > 0) return plainSoftmaxRows(s, d, scale, causal);
  const row = new Float64Array(S);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < L; i++) {
      const at = (b * L + i) * S;
      // keys past `end` are hidden by the causal mask: never read, their weights are 0
      const end = causal ? Math.min(i + 1, S) : S;
      for (let j = 0; j < end; j++) row[j] = s[at + j] * scale;
      for (const m of masks) {
        const m0 = m.starts[b] + i * m.sl;
        if (m.bool) {
          for (let j = 0; j < end; j++) if (m.values[m0 + j * m.ss]) row[j] = -Infinity;
        } else {
          for (let j = 0; j < end; j++) row[j] += m.values[m0 + j * m.ss];
        }
      }
      let max = -Infinity;
      for (let j = 0; j < end; j++) {
        const x = row[j];
        if (x > max || x !== x) max = x;
      }
      if (masked && max === -Infinity) {
        for (let j = 0; j < S; j++) s[at + j] = 0;
        continue;
      }
      let sum = 0;
      for (let j = 0; j < end; j++) {
        const x = row[j];
        // a hidden key's exp is 0 (unless NaN has won the max): skip the call
        const e = x === -Infinity && max === max ? 0 : Math.exp(x - max);
        row[j] = e;
        sum += e;
      }
      const inv = 1 / sum;
      for (let j = 0; j < end; j++) s[at + j] = row[j] * inv;
      for (let j = end; j < S; j++) s[at + j] = 0;
    }
  }
}

/**
 * softmaxRows without masks (but maybe causal) and a positive scale, in place with no row
 * buffer: the max of the unscaled scores is the max of the scaled ones, so each row is one
 * read for the max, one pass of exp((s − max)·scale) and one of the normalization.
 */
function plainSoftmaxRows(s: TypedArray, d: Dims, scale: number, causal: boolean): void {
  const { B, L, S } = d;
  for (let r = 0; r < B * L; r++) {
    const at = r * S;
    const end = causal ? Math.min((r % L) + 1, S) : S;
    let max = -Infinity;
    for (let j = 0; j < end; j++) {
      const x = s[at + j];
      if (x > max || x !== x) max = x;
    }
    let sum = 0;
    for (let j = 0; j < end; j++) {
      const e = Math.exp((s[at + j] - max) * scale);
      s[at + j] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let j = 0; j < end; j++) s[at + j] *= inv;
    for (let j = end; j < S; j++) s[at + j] = 0;
  }
}

/** P [B, L, S] (a fresh contiguous buffer from matmul) for the call. */
function probabilities(steps: AttentionSteps, q: Operand, k: Operand, masks: readonly View[], scale: number, causal: boolean, d: Dims): DataId {
  const P = steps.matmul(q.view, transposed(k.view));
  if (steps.softmaxRowsInPlace?.(P, d.B * d.L, d.L, d.S, scale, causal, masks) === true) return P;
  softmaxRows(dataValues(P), d, maskWalks(masks), scale, causal);
  return P;
}

/**
 * ∂S = P ⊙ (∂P − rowsum(∂P ⊙ P))·scale for P and ∂P [B, L, S] (a fresh contiguous buffer,
 * which this takes over: ∂S may be it, updated in place), in one pass where the backend
 * has one, else on the backend's primitives (each a SIMD pass on the wasm backend).
 */
function softmaxBackward(steps: AttentionSteps, P: View, dPData: DataId, scale: number): DataId {
  const [B, L, S] = P.shape;
  if (steps.softmaxBackwardInPlace?.(P, dPData, B * L, S, scale) === true) return dPData;
  const dtype = P.dtype;
  const dP = flat3(dPData, P, B, L, S);
  const flat = (data: DataId, shape: number[]): View => ({ data, dtype, shape, strides: [shape[1] * shape[2], shape[2], 1], offset: 0 });
  const across = (data: DataId): View => ({ data, dtype, shape: [B, L, S], strides: [L, 1, 0], offset: 0 }); // [B, L, 1] along S
  const prod = steps.binary('mul', dP, P, dtype);
  const dot = steps.reduce('sum', flat(prod, [B, L, S]), [2]); // [B, L]
  steps.dispose(prod);
  const centred = steps.binary('sub', dP, across(dot), dtype);
  steps.dispose(dot);
  steps.dispose(dPData);
  const dS = steps.binary('mul', flat(centred, [B, L, S]), P, dtype);
  steps.dispose(centred);
  if (scale === 1) return dS;
  const c = steps.fill(1, dtype, scale);
  const scaled = steps.binary('mul', flat(dS, [B, L, S]), { data: c, dtype, shape: [B, L, S], strides: [0, 0, 0], offset: 0 }, dtype);
  steps.dispose(dS);
  steps.dispose(c);
  return scaled;
}

function giveBack(steps: AttentionSteps, ops: readonly Operand[]): void {
  for (const o of ops) if (o.copy !== null) steps.dispose(o.copy);
}

/**
 * softmax(Q·Kᵀ·scale + masks)·V for q [..., L, E], k [..., S, E], v [..., S, Ev] with the
 * same batch dims and masks broadcast to [..., L, S] (bool: true hides the key; float:
 * added) → [..., L, Ev]. With `save`, keeps P [B, L, S] for the backward pass, and the
 * contiguous copies of q, k and v when all three needed one.
 */
export function scaledDotProductAttention(
  alloc: ArrayAllocator,
  steps: AttentionSteps,
  q: View,
  k: View,
  v: View,
  masks: readonly View[],
  scale: number,
  causal: boolean,
  save: SaveForBackward,
): DataId | null {
  const d = dims(q, k, v, masks, null);
  if (d === null) return null;
  const ops = [operand(steps, q, d.B), operand(steps, k, d.B), operand(steps, v, d.B)];
  const P = probabilities(steps, ops[0], ops[1], masks, scale, causal, d);
  const out = steps.matmul(flat3(P, q, d.B, d.L, d.S), ops[2].view);
  if (save === null) {
    steps.dispose(P);
    giveBack(steps, ops);
    return out;
  }
  alloc.detach?.(dataValues(P));
  save(P, [d.B, d.L, d.S], q.dtype);
  // when q, k and v all had to be copied (heads split out of [N, L, H·D]), the backward
  // pass would copy them again: keep the copies instead
  if (ops.every((o) => o.copy !== null)) {
    for (const o of ops) {
      alloc.detach?.(dataValues(o.view.data));
      save(o.view.data, o.view.shape, q.dtype);
    }
  } else {
    giveBack(steps, ops);
  }
  return out;
}

/**
 * The backward pass of scaledDotProductAttention for dy [..., L, Ev]: one flat buffer
 * [∂Q (B·L·E) | ∂K (B·S·E) | ∂V (B·S·Ev)], from the P the forward saved ([B, L, S]) or,
 * without it, recomputed; `saved` may also hold the forward's copies of q, k and v.
 */
export function scaledDotProductAttentionBackward(
  alloc: ArrayAllocator,
  steps: AttentionSteps,
  q: View,
  k: View,
  v: View,
  dy: View,
  masks: readonly View[],
  scale: number,
  causal: boolean,
  saved: readonly View[],
): DataId | null {
  const d = dims(q, k, v, masks, dy);
  if (d === null || (saved.length !== 0 && saved.length !== 1 && saved.length !== 4)) return null;
  const { B, L, S, E, Ev } = d;
  // the copies of q, k and v the forward kept (see scaledDotProductAttention), else copies or views now
  const keptCopy = (i: number, rows: number, cols: number): Operand | null => {
    const c = saved[i];
    return saved.length === 4 && c.shape[0] === B && c.shape[1] === rows && c.shape[2] === cols && c.dtype === q.dtype ? { view: c, copy: null } : null;
  };
  const ops = [
    keptCopy(1, L, E) ?? operand(steps, q, B),
    keptCopy(2, S, E) ?? operand(steps, k, B),
    keptCopy(3, S, Ev) ?? operand(steps, v, B),
    operand(steps, dy, B),
  ];
  const [q3, k3, v3, dy3] = ops.map((o) => o.view);
  const s = saved[0];
  const fromSaved = s !== undefined && s.dtype === q.dtype && s.shape.length === 3 && s.shape[0] === B && s.shape[1] === L && s.shape[2] === S;
  const recomputed = fromSaved ? null : probabilities(steps, ops[0], ops[1], masks, scale, causal, d);
  if (fromSaved) ops.push(operand(steps, s, B));
  const P3: View = recomputed !== null ? flat3(recomputed, q, B, L, S) : ops[4].view;
  const dV = steps.matmul(transposed(P3), dy3); // [B, S, Ev]
  const dP = steps.matmul(dy3, transposed(v3)); // [B, L, S]
  const dS = flat3(softmaxBackward(steps, P3, dP, scale), q, B, L, S);
  const dQ = steps.matmul(dS, k3); // [B, L, E]
  const dK = steps.matmul(transposed(dS), q3); // [B, S, E]
  const out = alloc.array(q.dtype, B * (L * E + S * E + S * Ev));
  out.set(dataValues(dQ), 0);
  out.set(dataValues(dK), B * L * E);
  out.set(dataValues(dV), B * (L * E + S * E));
  for (const t of [dV, dS.data, dQ, dK, ...(recomputed !== null ? [recomputed] : [])]) steps.dispose(t);
  giveBack(steps, ops);
  return wrap(out);
}
