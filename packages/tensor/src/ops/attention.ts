/**
 * Scaled dot-product attention as one op. As a composite it is two products, a scale, a
 * mask per mask, a softmax and the fully-masked-row fix-up: a dozen graph nodes and as
 * many passes over the [..., L, S] scores. As one op it is the two batched products around
 * one pass over the scores forward, and four products around one pass backward.
 * The composite stays the reference and the path for second derivatives.
 *
 * Masks follow this library's convention (see @ml/nn's attention): bool — true marks a key
 * that must NOT be attended to; float — added to the scores. (PyTorch 2's
 * F.scaled_dot_product_attention reads bool masks the other way round.)
 */
import { defineOp } from '../op.js';
import { checkOptions, optionKeys } from '../options.js';
import { broadcastShapes, fmt, ShapeError } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { softmax } from './activation.js';
import { arange } from './creation.js';
import { add, eq, gt, mul, sub, where } from './elementwise.js';
import { concat, expand, narrow, reshape, transpose } from './layout.js';
import { matmul } from './linalg.js';
import { assertFloat, castTo, runOp } from './prim.js';
import { all, sum } from './reduce.js';

export interface AttentionOptions {
  /**
   * One mask or several, each broadcastable to [..., L, S] and applied in order: bool (true
   * = masked out) or float (added to the scores)
   */
  attnMask?: Tensor | readonly Tensor[];
  /** also hide key j from query i when j > i */
  isCausal?: boolean;
  /** factor on Q·Kᵀ, default 1/√E with E the last dim of q */
  scale?: number;
  /** must be 0 (dropout on the weights: @ml/nn's scaledDotProductAttention) */
  dropoutP?: number;
}

const ATTENTION_KEYS = optionKeys<AttentionOptions>()(['attnMask', 'isCausal', 'scale', 'dropoutP']);
/** PyTorch's and Keras's spellings that the snake_case → camelCase rule does not reach */
const ATTENTION_ALIASES = { mask: 'attnMask', attention_mask: 'attnMask', causal: 'isCausal' };

/** The op's attributes: the scale, the causal flag, and (backward) what the forward kept. */
interface AttentionAttrs {
  scale: number;
  isCausal: boolean;
}

/**
 * scaledDotProductAttention, inputs [q, k, v, ...masks] (all with the full batch dims).
 * Its gradient: ∂Q, ∂K and ∂V from scaledDotProductAttentionBackward, whose flat output is
 * cut into the three (views); masks get none (a float mask that needs one runs the composite).
 */
const attentionOp = defineOp<AttentionAttrs>({
  name: 'scaledDotProductAttention',
  grad: (dy, n, needs) => {
    const [q, k, v, ...masks] = n.inputs;
    const g = scaledDotProductAttentionBackward(q, k, v, dy, { attnMask: masks, isCausal: n.attrs.isCausal, scale: n.attrs.scale }, n.saved);
    const part = (at: number, t: Tensor) => reshape(narrow(g, 0, at, t.size), t.shape);
    return [needs[0] ? part(0, q) : null, needs[1] ? part(q.size, k) : null, needs[2] ? part(q.size + k.size, v) : null, ...masks.map(() => null)];
  },
  fused: (b, [q, k, v, ...masks], a, save) => b.scaledDotProductAttention?.(q, k, v, masks, a.scale, a.isCausal, save) ?? null,
});

/**
 * The gradients of scaledDotProductAttention as one flat tensor [∂Q | ∂K | ∂V], inputs
 * [q, k, v, dy, ...masks]; differentiated through its composite. `saved` is what the
 * forward kernel kept (the probabilities P).
 */
const attentionBackwardOp = defineOp<AttentionAttrs & { saved: readonly Tensor[] }>({
  name: 'scaledDotProductAttentionBackward',
  fused: (b, [q, k, v, dy, ...masks], a) =>
    b.scaledDotProductAttentionBackward?.(q, k, v, dy, masks, a.scale, a.isCausal, a.saved.map((t) => t.view_())) ?? null,
});

/** The checked operands, each expanded to the full batch dims, and the op's attributes. */
interface Prepared {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  masks: Tensor[];
  attrs: AttentionAttrs;
  /** the broadcast batch dims */
  batch: number[];
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
const expandTo = (t: Tensor, shape: readonly number[]): Tensor => (same(t.shape, shape) ? t : expand(t, shape));

function prepare(op: string, q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions): Prepared {
  checkOptions(op, options, ATTENTION_KEYS, ATTENTION_ALIASES);
  for (const [name, t] of [['q', q], ['k', k], ['v', v]] as const) {
    assertFloat(`${op} (${name})`, t);
    if (t.ndim < 2) throw new ShapeError(`${op}: ${name} needs at least 2 dims ([..., L, E]), got ${fmt(t.shape)}`);
    if (t.dtype !== q.dtype) throw new TypeError(`${op}: ${name} is ${t.dtype} but q is ${q.dtype}; cast one first`);
  }
  const [L, E] = q.shape.slice(-2);
  const [S, Ek] = k.shape.slice(-2);
  const [Sv, Ev] = v.shape.slice(-2);
  if (Ek !== E) throw new ShapeError(`${op}: q ${fmt(q.shape)} and k ${fmt(k.shape)} must share the last dim (E)`);
  if (Sv !== S) throw new ShapeError(`${op}: k ${fmt(k.shape)} and v ${fmt(v.shape)} must have the same number of keys S (dim −2)`);
  if ((options.dropoutP ?? 0) !== 0) throw new Error(`${op}: dropoutP must be 0 here; use @ml/nn's scaledDotProductAttention for dropout on the weights`);
  const scale = options.scale ?? 1 / Math.sqrt(E);
  const given = options.attnMask === undefined ? [] : Array.isArray(options.attnMask) ? [...(options.attnMask as readonly Tensor[])] : [options.attnMask as Tensor];
  let full = broadcastShapes(op, broadcastShapes(op, q.shape.slice(0, -2), k.shape.slice(0, -2)), v.shape.slice(0, -2));
  full = [...full, L, S];
  for (const m of given) {
    if (m.dtype !== 'bool' && !(m.dtype === 'float32' || m.dtype === 'float64')) {
      throw new TypeError(`${op}: a mask must be bool (true = masked out) or float (added to the scores), got ${m.dtype} ${fmt(m.shape)}`);
    }
    const b = broadcastShapes(op, m.shape, full);
    if (b[b.length - 2] !== L || b[b.length - 1] !== S) throw new ShapeError(`${op}: a mask ${fmt(m.shape)} must broadcast to [..., L, S] = ${fmt(full)}`);
    full = b;
  }
  const batch = full.slice(0, -2);
  const masks = given.map((m) => expandTo(m.dtype === 'bool' ? m : castTo(m, q.dtype), full));
  return {
    q: expandTo(q, [...batch, L, E]),
    k: expandTo(k, [...batch, S, E]),
    v: expandTo(v, [...batch, S, Ev]),
    masks,
    attrs: { scale, isCausal: options.isCausal ?? false },
    batch,
  };
}

/** bool [L, S], true where key j > query i. */
function causalHidden(L: number, S: number, like: Tensor): Tensor {
  const i = reshape(arange(0, L, 1, { dtype: 'int32', backend: like.backend.name }), [L, 1]);
  const j = reshape(arange(0, S, 1, { dtype: 'int32', backend: like.backend.name }), [1, S]);
  return gt(j, i);
}

/** P = softmax(Q·Kᵀ·scale + masks) with fully masked rows as zeros: the composite's first half. */
function weightsOf(p: Prepared): Tensor {
  const { q, k, masks, attrs } = p;
  let scores = mul(matmul(q, transpose(k, -2, -1)), attrs.scale);
  for (const m of masks) scores = m.dtype === 'bool' ? where(m, -Infinity, scores) : add(scores, m);
  if (attrs.isCausal) scores = where(causalHidden(q.shape[q.ndim - 2], k.shape[k.ndim - 2], q), -Infinity, scores);
  if (masks.length === 0 && !attrs.isCausal) return softmax(scores, -1);
  // rows where every key is masked: softmax over zeros (finite), then zero the row
  const empty = all(eq(scores, -Infinity), -1, true);
  return where(empty, 0, softmax(where(empty, 0, scores), -1));
}

/**
 * The attention weights softmax(Q·Kᵀ·scale + masks) [..., L, S] of
 * {@link scaledDotProductAttention} (a composite; rows whose keys are all masked are zeros).
 */
export function attentionWeights(q: Tensor, k: Tensor, options: Omit<AttentionOptions, 'dropoutP'> = {}): Tensor {
  // v only fixes shapes here: k stands in for it
  return weightsOf(prepare('attentionWeights', q, k, k, options));
}

/**
 * Attention(Q, K, V) = softmax(Q·Kᵀ·scale + M)·V, PyTorch's
 * `F.scaled_dot_product_attention` without dropout: q [..., L, E], k [..., S, E],
 * v [..., S, Ev] (batch dims broadcast) → [..., L, Ev], scale = 1/√E by default. Masks:
 * see {@link AttentionOptions}; where every key of a query is masked, its weights are zeros
 * (PyTorch gives NaN), so its output is zero and no gradient flows through it.
 *
 * One op: on the CPU-family backends the two products run on the backend's batched matmul
 * and the scale, masks and softmax in one pass, the probabilities kept for the backward
 * pass; a composite elsewhere. @ml/nn's scaledDotProductAttention (which also returns the
 * weights and has dropout) and MultiheadAttention use it.
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  const p = prepare('scaledDotProductAttention', q, k, v, options);
  const composite = () => matmul(weightsOf(p), p.v);
  // a float mask that wants a gradient: the composite gives it one
  if (p.masks.some((m) => m.requiresGrad)) return composite();
  const out = { shape: [...p.batch, q.shape[q.ndim - 2], v.shape[v.ndim - 1]], dtype: q.dtype };
  return runOp(attentionOp, [p.q, p.k, p.v, ...p.masks], p.attrs, out, composite);
}

/**
 * The backward pass of {@link scaledDotProductAttention} for dy [..., L, Ev]: one flat
 * tensor [∂Q | ∂K | ∂V] (each over the full batch dims, row-major), with P the weights:
 *   ∂V = Pᵀ∂O,  ∂P = ∂O Vᵀ,  ∂S = P ⊙ (∂P − rowsum(∂P ⊙ P)),  ∂Q = ∂S K·scale,  ∂K = ∂Sᵀ Q·scale.
 * `saved` is what the forward kernel kept (P).
 */
export function scaledDotProductAttentionBackward(q: Tensor, k: Tensor, v: Tensor, dy: Tensor, options: AttentionOptions = {}, saved: readonly Tensor[] = []): Tensor {
  const op = 'scaledDotProductAttentionBackward';
  const p = prepare(op, q, k, v, options);
  const want = [...p.batch, q.shape[q.ndim - 2], v.shape[v.ndim - 1]];
  if (!same(dy.shape, want)) throw new ShapeError(`${op}: dy must be ${fmt(want)} (the output's shape), got ${fmt(dy.shape)}`);
  if (dy.dtype !== q.dtype) throw new TypeError(`${op}: dy is ${dy.dtype} but q is ${q.dtype}`);
  const size = p.q.size + p.k.size + p.v.size;
  const attrs = { ...p.attrs, saved };
  return runOp(attentionBackwardOp, [p.q, p.k, p.v, dy, ...p.masks], attrs, { shape: [size], dtype: q.dtype }, () => {
    const P = weightsOf(p);
    const t = (x: Tensor) => transpose(x, -2, -1);
    const dV = matmul(t(P), dy);
    const dP = matmul(dy, t(p.v));
    const dS = mul(P, sub(dP, sum(mul(dP, P), -1, true)));
    const dQ = mul(matmul(dS, p.k), p.attrs.scale);
    const dK = mul(matmul(t(dS), p.q), p.attrs.scale);
    return concat([reshape(dQ, [dQ.size]), reshape(dK, [dK.size]), reshape(dV, [dV.size])], 0);
  });
}
