/**
 * Scaled dot-product attention (forward and backward; layouts in @ml/tensor's
 * FusedKernels) as batched products on the backend's matmul around one row kernel:
 *   forward:  S = Q·Kᵀ;  P = softmax(S·scale + masks, causal) in place;  O = P·V  (P saved)
 *   backward: ∂V = Pᵀ∂O,  ∂P = ∂O·Vᵀ,  ∂S = P ⊙ (∂P − rowsum(∂P ⊙ P))·scale (in place),
 *             ∂Q = ∂S·K,  ∂K = ∂Sᵀ·Q, placed into one flat [∂Q | ∂K | ∂V].
 * The row kernels run one invocation per row of S, three passes over its keys. Masks are
 * read where they lie (broadcast batch dims have stride 0): bool hides a key, float is
 * added, in the order given, then `causal` hides key j > i; a row whose keys are all hidden
 * gets zero weights (the composite's rule), and NaN wins the row's max as on the cpu backend.
 */
import { sizeOf } from '@ml/tensor';
import { type DataId, type SaveForBackward, type View } from '@ml/tensor/backend';
import { grid, type KernelCall } from '../kernels.js';
import { decode, elemOf, GROUP, kernel, linearMain, Params, position, type Binding } from '../wgsl.js';
import { flatView, type GpuSteps } from './steps.js';

/** The sizes of one call: batch B (all batch dims), queries L, keys S, features E and Ev. */
interface Dims {
  B: number;
  L: number;
  S: number;
  E: number;
  Ev: number;
  batch: number[];
}

function dims(q: View, k: View, v: View, masks: readonly View[], dy: View | null, io: GpuSteps): Dims | null {
  const nd = q.shape.length;
  const views = dy === null ? [q, k, v] : [q, k, v, dy];
  if (!views.every((x) => x.dtype === 'float32') || masks.some((m) => m.dtype !== 'bool' && m.dtype !== 'float32')) return null;
  // the row kernel binds the scores and every mask
  if (masks.length + 1 > io.maxBuffers()) return null;
  const batch = q.shape.slice(0, nd - 2);
  const d = { B: sizeOf(batch), L: q.shape[nd - 2], S: k.shape[nd - 2], E: q.shape[nd - 1], Ev: v.shape[nd - 1], batch };
  // matmul's grid has one workgroup layer per batch
  return d.B * d.L * d.S * d.E * d.Ev === 0 || d.B > 65535 ? null : d;
}

/** An operand as [B, M, K]: a view when its batch dims step with one stride (or broadcast), else a contiguous copy. */
function operand(io: GpuSteps, v: View, B: number): { view: View; copy: DataId | null } {
  const nd = v.shape.length;
  const [M, K] = [v.shape[nd - 2], v.shape[nd - 1]];
  let stride: number | null = null;
  let span = 1;
  let even = true;
  for (let d = nd - 3; d >= 0 && even; d--) {
    if (v.shape[d] === 1) continue;
    if (stride === null) stride = v.strides[d];
    else if (v.strides[d] !== stride * span) even = false;
    span *= v.shape[d];
  }
  if (even) return { view: { ...v, shape: [B, M, K], strides: [stride ?? 0, v.strides[nd - 2], v.strides[nd - 1]] }, copy: null };
  const copy = io.copy(v);
  return { view: flatView(copy, [B, M, K]), copy };
}

/** [B, M, K] → [B, K, M], no copy. */
const transposed = (v: View): View => ({ ...v, shape: [v.shape[0], v.shape[2], v.shape[1]], strides: [v.strides[0], v.strides[2], v.strides[1]] });

/** The scores O [B·L rows of S] turned into P in place (see the file's comment). */
function softmaxRowsKernel(masks: readonly View[], d: Dims, scale: number, causal: boolean): KernelCall {
  const params = new Params();
  const [L, S, SCALE] = [params.int(d.L), params.int(d.S), params.float(scale)];
  const b = decode(params, 'bi', d.batch, 'c');
  const nd = d.batch.length + 2;
  const hide = masks.map((m, k) => {
    const at = position(params, m.offset, m.strides.slice(0, nd), [...b.coords, 'qi', 'j']);
    return m.dtype === 'bool' ? `    if (M${k}[${at}] != 0) { x = ninf; }` : `    x += M${k}[${at}];`;
  });
  const masked = masks.length > 0 || causal;
  const body = `  let bi = i / ${L};
  let qi = i % ${L};
${b.code}  let at = i * ${S};
  let ninf = -inf_like(0.0);
  var mx = ninf;
  for (var j = 0; j < ${S}; j++) {
    var x = O[at + j] * ${SCALE};
${hide.join('\n')}
${causal ? '    if (j > qi) { x = ninf; }' : ''}
    O[at + j] = x;
    if (x > mx || is_nan(x)) { mx = x; }
  }
${masked ? `  if (mx == ninf) {
    for (var j = 0; j < ${S}; j++) { O[at + j] = 0.0; }
    return;
  }` : ''}
  var s = 0.0;
  for (var j = 0; j < ${S}; j++) {
    let x = O[at + j];
    let e = select(exp(x - mx), 0.0, x == ninf && !is_nan(mx));
    O[at + j] = e;
    s += e;
  }
  let inv = 1.0 / s;
  for (var j = 0; j < ${S}; j++) { O[at + j] = O[at + j] * inv; }`;
  const bindings: Binding[] = [...masks.map((m, k) => ({ name: `M${k}`, elem: elemOf(m.dtype) })), { name: 'O', elem: 'f32', write: true }];
  const rows = d.B * d.L;
  return { source: kernel(params, bindings, linearMain(params, rows, body)), params, groups: grid(Math.ceil(rows / GROUP)) };
}

/** ∂S = P ⊙ (∂P − rowsum(∂P ⊙ P))·scale, in place over ∂P (O), one invocation per row of S. */
function softmaxBackwardKernel(P: View, rows: number, S: number, scale: number): KernelCall {
  const params = new Params();
  const [SS, P0, SCALE] = [params.int(S), params.int(P.offset), params.float(scale)];
  const body = `  let at = i * ${SS};
  let pt = ${P0} + i * ${SS};
  var dot = 0.0;
  for (var j = 0; j < ${SS}; j++) { dot += O[at + j] * PR[pt + j]; }
  for (var j = 0; j < ${SS}; j++) { O[at + j] = PR[pt + j] * (O[at + j] - dot) * ${SCALE}; }`;
  return { source: kernel(params, [{ name: 'PR', elem: 'f32' }, { name: 'O', elem: 'f32', write: true }], linearMain(params, rows, body)), params, groups: grid(Math.ceil(rows / GROUP)) };
}

/** O[at + i] = X[offset + i] for n contiguous values: one part of a flat result. */
function placeKernel(n: number, from: View, at: number): KernelCall {
  const params = new Params();
  const [X0, AT] = [params.int(from.offset), params.int(at)];
  const body = `  O[${AT} + i] = X[${X0} + i];`;
  return { source: kernel(params, [{ name: 'X', elem: 'f32' }, { name: 'O', elem: 'f32', write: true }], linearMain(params, n, body)), params, groups: grid(Math.ceil(n / GROUP)) };
}

/** P [B, L, S] (a fresh buffer) from Q·Kᵀ and the row kernel. */
function probabilities(io: GpuSteps, q3: View, k3: View, masks: readonly View[], scale: number, causal: boolean, d: Dims): DataId {
  const P = io.matmul(q3, transposed(k3));
  io.queue('scaledDotProductAttention', masks, [P], (ms) => softmaxRowsKernel(ms, d, scale, causal));
  return P;
}

function giveBack(io: GpuSteps, ops: readonly { copy: DataId | null }[]): void {
  for (const o of ops) if (o.copy !== null) io.dispose(o.copy);
}

/** softmax(Q·Kᵀ·scale + masks)·V → [..., L, Ev]; with `save`, keeps P [B, L, S]. */
export function attentionGpu(io: GpuSteps, q: View, k: View, v: View, masks: readonly View[], scale: number, causal: boolean, save: SaveForBackward): DataId | null {
  const d = dims(q, k, v, masks, null, io);
  if (d === null) return null;
  const ops = [operand(io, q, d.B), operand(io, k, d.B), operand(io, v, d.B)];
  const P = probabilities(io, ops[0].view, ops[1].view, masks, scale, causal, d);
  const out = io.matmul(flatView(P, [d.B, d.L, d.S]), ops[2].view);
  giveBack(io, ops);
  if (save !== null) save(P, [d.B, d.L, d.S], 'float32');
  else io.dispose(P);
  return out;
}

/** The backward pass → flat [∂Q (B·L·E) | ∂K (B·S·E) | ∂V (B·S·Ev)], from the saved P (recomputed without it). */
export function attentionBackwardGpu(io: GpuSteps, q: View, k: View, v: View, dy: View, masks: readonly View[], scale: number, causal: boolean, saved: readonly View[]): DataId | null {
  const d = dims(q, k, v, masks, dy, io);
  if (d === null || saved.length > 1) return null;
  const { B, L, S, E, Ev } = d;
  const ops = [operand(io, q, B), operand(io, k, B), operand(io, v, B), operand(io, dy, B)];
  const [q3, k3, v3, dy3] = ops.map((o) => o.view);
  const s = saved[0];
  const fromSaved = s !== undefined && s.dtype === 'float32' && s.shape.length === 3 && s.shape[0] === B && s.shape[1] === L && s.shape[2] === S;
  const recomputed = fromSaved ? null : probabilities(io, q3, k3, masks, scale, causal, d);
  const P3 = recomputed === null ? operand(io, s, B).view : flatView(recomputed, [B, L, S]);
  const dV = io.matmul(transposed(P3), dy3);
  const dS = io.matmul(dy3, transposed(v3)); // ∂P, then ∂S in place
  io.queue('scaledDotProductAttentionBackward', [P3], [dS], ([p]) => softmaxBackwardKernel(p, B * L, S, scale));
  const dS3 = flatView(dS, [B, L, S]);
  const dQ = io.matmul(dS3, k3);
  const dK = io.matmul(transposed(dS3), q3);
  const out = io.alloc('scaledDotProductAttentionBackward', B * (L * E + S * E + S * Ev));
  const parts: [DataId, number][] = [[dQ, B * L * E], [dK, B * S * E], [dV, B * S * Ev]];
  let at = 0;
  for (const [part, n] of parts) {
    const from = at;
    io.queue('scaledDotProductAttentionBackward', [flatView(part, [n])], [out], ([x]) => placeKernel(n, x, from));
    at += n;
  }
  for (const t of [dQ, dK, dV, dS, ...(recomputed === null ? [] : [recomputed])]) io.dispose(t);
  giveBack(io, ops);
  return out;
}
