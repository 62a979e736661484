/**
 * Host kernels for the LSTM cell (`lstmCell`, `lstmCellBackward` in ops/recurrent.ts) for
 * backends whose data live in typed arrays (cpu, wasm). The gates' product h·W_hhᵀ runs on
 * the backend's own matmul primitive; everything after it is one pass over the gates,
 * computed in double and rounded once when stored. They decline (null) unless every
 * operand is of one float dtype and those they read themselves (xw, c, dy) have contiguous
 * rows; a row stride is fine, as the layer feeds a step the h and c halves of the previous
 * step's [h' | c'] (h and whh go only to matmul, which reads any strided view). A backend
 * may run the gate passes on its own kernels (`HostKernelIO.gates`, the wasm backend's
 * SIMD ones); the loops here stay the reference and the float64 path.
 */
import type { DataId, SaveForBackward, View } from '../backend.js';
import type { DType, TypedArray } from '../dtype.js';

/** What the host kernels need from the backend that runs them. */
export interface HostKernelIO {
  /** the typed array a buffer holds (the backend's `hostArray`) */
  array(data: DataId): TypedArray;
  /** a fresh array of `n` elements, contents undefined: the kernel writes every one */
  alloc(dtype: DType, n: number): TypedArray;
  /** the backend's buffer handle around an array from `alloc` */
  wrap(values: TypedArray): DataId;
  /** the backend's matmul primitive: a [B,M,K] · b [B,K,N] → [B,M,N] */
  matmul(a: View, b: View): DataId;
  /** give back a buffer this kernel no longer needs (one from `matmul` or `wrap`) */
  dispose(data: DataId): void;
  /**
   * Optional: take an array from `alloc` out of the running primitive's temporaries, as it
   * outlives the primitive (saved for the backward pass). Needed where the allocator gives
   * back a primitive's arrays when it returns (the wasm backend's `detach`).
   */
  keep?(values: TypedArray): void;
  /**
   * Optional: the gate passes on the backend's own kernels (the wasm backend's SIMD ones).
   * The host kernels offer each step's pass to them first and run their JavaScript loop,
   * the reference and the float64 path, when one declines.
   */
  gates?: GatePasses;
  /**
   * Optional: a right operand b [1, K, N] fixed for many products (a recurrent layer's
   * W_hh over its steps), prepared once — the wasm backend packs it into its product's
   * panels once, not at every step. Null declines: each product goes to `matmul`.
   */
  prepare?(b: View): PreparedProduct | null;
}

/** A right operand prepared by `HostKernelIO.prepare`. */
export interface PreparedProduct {
  /** matmul(a, b) for a [1, M, K] */
  times(a: View): DataId;
  /** give back what the preparation holds */
  dispose(): void;
}

/** Products a·b for the steps of a loop: b prepared once where the backend can, else `matmul` each time. */
export function productsWith(io: HostKernelIO, b: View): PreparedProduct {
  return io.prepare?.(b) ?? { times: (a) => io.matmul(a, b), dispose: () => undefined };
}

/**
 * One step's gate pass over B rows of hidden size H, each computing what the JavaScript
 * loop beside its call computes (in float32 arithmetic rather than rounded-once double).
 * Every operand is `Rows` (row b at a[off + b·stride], contiguous within the row). A pass
 * returns false when it declines (an array of another dtype, or outside its memory); it
 * has written nothing then.
 */
export interface GatePasses {
  lstm(p: LstmGateArgs): boolean;
  lstmBackward(p: LstmGateBackwardArgs): boolean;
  gru(p: GruGateArgs): boolean;
  gruBackward(p: GruGateBackwardArgs): boolean;
  rnn(p: RnnGateArgs): boolean;
  rnnBackward(p: RnnGateBackwardArgs): boolean;
  /**
   * A layer-direction's whole forward pass (optional): every step's product h_{t−1}·W_hhᵀ
   * and gate pass, as the step loop of host-recurrent-sequence.ts computes them, the same
   * values. False when it declines (nothing written): the loop runs then.
   */
  sequence?(p: SequenceGateArgs): boolean;
  /**
   * A layer-direction's loop backward through time (optional): every step's gate-gradient
   * pass and its product with W_hh, as the loops of host-recurrent-sequence.ts compute
   * them, writing the steps' slots of `out` and the carried state gradient there, and the
   * last product, ∂h0's part from W_hh, into `dh0` ([B, H]). The caller adds `dh0` into
   * out's last slot. False when it declines (nothing written).
   */
  sequenceBackward?(p: SequenceBackwardGateArgs): boolean;
}

/** A 3-D operand [L, B, C] with contiguous rows: element (t, b, j) at a[off + t·st + b·sb + j]. */
export interface StepRows {
  a: TypedArray;
  off: number;
  st: number;
  sb: number;
}

/**
 * A layer-direction's backward pass for `GatePasses.sequenceBackward`. `acts` are the
 * forward's saved activations, `d` the outputs' gradient and `y` the outputs ([L, B, C]
 * as the forward wrote them); `prev0` is the state the first step read (lstm: c0, gru:
 * h0; null for rnn). `out` is the backward's packed result as host-recurrent-sequence.ts
 * lays it out: slot t the step's gate gradients (gru: slots t and L + t), then the last
 * slot, whose carried part (lstm: ∂c, gru: the direct ∂h·z) the passes read and write.
 */
export interface SequenceBackwardGateArgs {
  cell: 'rnn' | 'lstm' | 'gru';
  L: number;
  B: number;
  H: number;
  acts: StepRows | null;
  d: StepRows;
  y: StepRows;
  prev0: Rows | null;
  whh: { a: TypedArray; off: number; s0: number; s1: number };
  out: TypedArray;
  dh0: TypedArray;
  reverse: boolean;
  tanh: boolean;
}

/**
 * A layer-direction's forward pass for `GatePasses.sequence`: L steps over B rows of
 * hidden size H, run t = 0 … L − 1 (t = L − 1 … 0 when `reverse`). `x` is the input part
 * of every step (element (t, b, j) at a[off + t·st + b·sb + j]); `whh` is W_hh [G·H, H]
 * (G = 1, 4, 3 for rnn, lstm, gru; element (i, j) at a[off + i·s0 + j·s1]); `out` the
 * packed [L, B, C] result (C = 2H, [h_t | c_t], for lstm, else H) and `acts` the packed
 * [L, B, A] activations to save (A = 5H for lstm, 4H for gru) or null. `c0` (lstm) and
 * `bias` (gru's b_hh, 3H floats) are null for the other cells; `tanh` picks the rnn's
 * nonlinearity (else relu).
 */
export interface SequenceGateArgs {
  cell: 'rnn' | 'lstm' | 'gru';
  L: number;
  B: number;
  H: number;
  x: { a: TypedArray; off: number; st: number; sb: number };
  h0: Rows;
  c0: Rows | null;
  whh: { a: TypedArray; off: number; s0: number; s1: number };
  bias: Rows | null;
  out: TypedArray;
  acts: TypedArray | null;
  reverse: boolean;
  tanh: boolean;
}

/**
 * LSTM: a = x + hw ([B, 4H], gates i f g o); writes [h_t | c_t] to `out` and i, f, g, o,
 * tanh c_t to `acts`, each when given (c_t = σ(a_f) c + σ(a_i) tanh(a_g), h_t = σ(a_o) tanh c_t).
 */
export interface LstmGateArgs {
  B: number;
  H: number;
  x: Rows;
  hw: Rows;
  c: Rows;
  out: Rows | null;
  acts: Rows | null;
}

/**
 * LSTM backward: from `acts` (i f g o tanh c_t), d = [∂h | ∂c] (plus the carried ∂h and ∂c
 * when given) and c_{t−1}: writes the four gate gradients to `grads` and ∂c_{t−1} = ∂c·f to
 * `dcOut` (which may be `dcIn` itself: each element is read before it is written).
 */
export interface LstmGateBackwardArgs {
  B: number;
  H: number;
  acts: Rows;
  d: Rows;
  dh: Rows | null;
  c: Rows;
  dcIn: Rows | null;
  dcOut: Rows;
  grads: Rows;
}

/**
 * GRU: r, z = σ(x + hw + b), hn = hw_n + b_n, n = tanh(x_n + r·hn), h_t = n + z (h − n);
 * writes h_t to `out` and r, z, n, hn to `acts`, each when given. `bias` is one row (3H,
 * stride unused) or null.
 */
export interface GruGateArgs {
  B: number;
  H: number;
  x: Rows;
  hw: Rows;
  bias: Rows | null;
  h: Rows;
  out: Rows | null;
  acts: Rows | null;
}

/**
 * GRU backward: ∂h = d + carry (+ dh when given); writes [∂r, ∂z, ∂n] to `gx`, [∂r, ∂z, ∂n·r]
 * to `gh` and ∂h·z back into `carry` (read before written).
 */
export interface GruGateBackwardArgs {
  B: number;
  H: number;
  acts: Rows;
  d: Rows;
  carry: Rows;
  dh: Rows | null;
  h: Rows;
  gx: Rows;
  gh: Rows;
}

/** Elman RNN: out = act(x + hw), act tanh or relu (a > 0 ? a : 0, so NaN gives 0). */
export interface RnnGateArgs {
  B: number;
  H: number;
  tanh: boolean;
  x: Rows;
  hw: Rows;
  out: Rows;
}

/** Elman RNN backward: out = (d + dh when given) ∘ act'(y), from the output y. */
export interface RnnGateBackwardArgs {
  B: number;
  H: number;
  tanh: boolean;
  y: Rows;
  d: Rows;
  dh: Rows | null;
  out: Rows;
}

/** The rows of a 2-D operand: element (r, j) is at a[off + r·stride + j]. */
export interface Rows {
  a: TypedArray;
  off: number;
  stride: number;
}

/** The common dtype when it is float32 or float64 for all views, else null. */
export function floatDType(views: readonly View[]): DType | null {
  const d = views[0].dtype;
  if (d !== 'float32' && d !== 'float64') return null;
  return views.every((v) => v.dtype === d) ? d : null;
}

/** A 2-D view's rows when each row is contiguous, else null. */
export function rows(io: HostKernelIO, v: View): Rows | null {
  if (v.shape.length !== 2) return null;
  const [R, C] = v.shape;
  if (C > 1 && v.strides[1] !== 1) return null;
  return { a: io.array(v.data), off: v.offset, stride: R === 1 ? C : v.strides[0] };
}

/** h·whhᵀ on the backend's matmul: h [B, H] as [1, B, H], whhᵀ as the view [1, H, 4H] of whh. */
function recurrentProduct(io: HostKernelIO, h: View, whh: View): DataId {
  const [B, H] = h.shape;
  const H4 = whh.shape[0];
  const h3: View = { ...h, shape: [1, B, H], strides: [0, h.strides[0], h.strides[1]] };
  const wT: View = { ...whh, shape: [1, H, H4], strides: [0, whh.strides[1], whh.strides[0]] };
  return io.matmul(h3, wT);
}

/** σ(a) = 1 / (1 + e^−a) */
export const sigmoid = (a: number): number => 1 / (1 + Math.exp(-a));

/**
 * The magnitude under which the recurrent ops' backward gate passes write a gradient as +0,
 * and the fused Adam step a moment, here and in a backend's own kernels (2⁻¹⁰⁰). A gradient
 * that vanishes through time (a long sequence's early steps), or Adam's m once a gradient
 * stops (an MNIST pixel no later image lights: m shrinks ×0.9 a step), would otherwise
 * shrink through the subnormal floats, where x86 cores take microcode assists on each
 * instruction that reads or makes one: a wasm product 12–90× slower, a length-256 LSTM step
 * 13× slower, the MNIST MLP's Adam step 2.7× slower (measured on a Xeon), and WebAssembly
 * cannot set the flush-to-zero mode native code uses. Set well above the subnormals, so the
 * products of what is kept with the weights stay normal too (at the smallest normal float,
 * 2⁻¹²⁶, most of the recurrent slowdown remained). A gradient of 2⁻¹⁰⁰ is 2⁻⁷⁶ under the
 * smallest one an Adam update can feel against its ε of 10⁻⁸. NaN and infinities pass
 * unchanged.
 */
export const GRADIENT_FLUSH_BELOW = 2 ** -100;
/** `v`, or +0 when |v| < GRADIENT_FLUSH_BELOW (NaN stays NaN). */
export const flushTiny = (v: number): number => (Math.abs(v) < GRADIENT_FLUSH_BELOW ? 0 : v);

/**
 * tanh(a) = 2σ(2a) − 1, through one exp: V8's Math.tanh costs about three times as much
 * here, and the gate passes are bound by these calls. Within a few 2⁻⁵³ of tanh in
 * absolute terms (gate values live on the scale of 1); ±1 and NaN where tanh gives them.
 */
export const tanh = (a: number): number => 2 / (1 + Math.exp(-2 * a)) - 1;

/**
 * The LSTM gate pass in JavaScript (double, rounded once when stored): what `GatePasses.lstm`
 * computes, and the reference and float64 path where a backend's pass declines. Shared by
 * the cell and the sequence kernels.
 */
export function lstmGatesHost(p: LstmGateArgs): void {
  const { B, H, x, hw, c, out, acts } = p;
  for (let b = 0; b < B; b++) {
    const x0 = x.off + b * x.stride;
    const p0 = hw.off + b * hw.stride;
    const c0 = c.off + b * c.stride;
    for (let j = 0; j < H; j++) {
      const i = sigmoid(x.a[x0 + j] + hw.a[p0 + j]);
      const f = sigmoid(x.a[x0 + H + j] + hw.a[p0 + H + j]);
      const g = tanh(x.a[x0 + 2 * H + j] + hw.a[p0 + 2 * H + j]);
      const o = sigmoid(x.a[x0 + 3 * H + j] + hw.a[p0 + 3 * H + j]);
      const c1 = f * c.a[c0 + j] + i * g;
      const tc = tanh(c1);
      if (out !== null) {
        const y0 = out.off + b * out.stride;
        out.a[y0 + j] = o * tc;
        out.a[y0 + H + j] = c1;
      }
      if (acts !== null) {
        const a0 = acts.off + b * acts.stride + j;
        acts.a[a0] = i;
        acts.a[a0 + H] = f;
        acts.a[a0 + 2 * H] = g;
        acts.a[a0 + 3 * H] = o;
        acts.a[a0 + 4 * H] = tc;
      }
    }
  }
}

/**
 * The LSTM gates' backward pass in JavaScript: what `GatePasses.lstmBackward` computes (the
 * carried ∂h and ∂c added when given; each ∂c element read before ∂c_{t−1} is written, so
 * `dcOut` may be `dcIn`; what it writes flushed by `flushTiny`), and the reference where a
 * backend's pass declines.
 */
export function lstmGatesBackwardHost(p: LstmGateBackwardArgs): void {
  const { B, H, acts, d, dh: carried, c, dcIn, dcOut, grads } = p;
  for (let b = 0; b < B; b++) {
    const a0 = acts.off + b * acts.stride;
    const d0 = d.off + b * d.stride;
    const c0 = c.off + b * c.stride;
    const g0 = grads.off + b * grads.stride;
    const k0 = dcOut.off + b * dcOut.stride;
    for (let j = 0; j < H; j++) {
      const i = acts.a[a0 + j];
      const f = acts.a[a0 + H + j];
      const g = acts.a[a0 + 2 * H + j];
      const o = acts.a[a0 + 3 * H + j];
      const tc = acts.a[a0 + 4 * H + j];
      const dh = d.a[d0 + j] + (carried === null ? 0 : carried.a[carried.off + b * carried.stride + j]);
      const dc = d.a[d0 + H + j] + (dcIn === null ? 0 : dcIn.a[dcIn.off + b * dcIn.stride + j]) + dh * o * (1 - tc * tc); // ∂c through both paths
      grads.a[g0 + j] = flushTiny(dc * g * i * (1 - i));
      grads.a[g0 + H + j] = flushTiny(dc * c.a[c0 + j] * f * (1 - f));
      grads.a[g0 + 2 * H + j] = flushTiny(dc * i * (1 - g * g));
      grads.a[g0 + 3 * H + j] = flushTiny(dh * tc * o * (1 - o));
      dcOut.a[k0 + j] = flushTiny(dc * f);
    }
  }
}

/**
 * The gate pass: from a = xw + h·whhᵀ, write σ(a_i), σ(a_f), tanh(a_g), σ(a_o), tanh(c')
 * into `acts` ([B, 5H], when given) and [h' | c'] into `out` ([B, 2H], when given).
 */
function gatePass(io: HostKernelIO, xw: Rows, c: Rows, h: View, whh: View, acts: TypedArray | null, out: TypedArray | null): void {
  const [B, H] = h.shape;
  const product = recurrentProduct(io, h, whh);
  const hw = io.array(product); // [B, 4H], contiguous
  const rowsOf = (a: TypedArray | null, stride: number): Rows | null => a && { a, off: 0, stride };
  const args: LstmGateArgs = { B, H, x: xw, hw: { a: hw, off: 0, stride: 4 * H }, c, out: rowsOf(out, 2 * H), acts: rowsOf(acts, 5 * H) };
  if (!(io.gates?.lstm(args) ?? false)) lstmGatesHost(args);
  io.dispose(product);
}

/**
 * The lstmCell kernel: [B, 2H] = [h' | c'] for xw [B, 4H], h and c [B, H], whh [4H, H].
 * With `save`, keeps the gate activations and tanh(c') ([B, 5H]) for the backward pass.
 */
export function lstmCellHost(io: HostKernelIO, xw: View, h: View, c: View, whh: View, save: SaveForBackward): DataId | null {
  const dtype = floatDType([xw, h, c, whh]);
  const [B, H] = h.shape;
  if (dtype === null || B * H === 0) return null;
  const [x, cr] = [rows(io, xw), rows(io, c)];
  if (x === null || cr === null) return null;
  const out = io.alloc(dtype, B * 2 * H);
  const acts = save === null ? null : io.alloc(dtype, B * 5 * H);
  gatePass(io, x, cr, h, whh, acts, out);
  if (save !== null && acts !== null) {
    io.keep?.(acts);
    save(io.wrap(acts), [B, 5 * H], dtype);
  }
  return io.wrap(out);
}

/**
 * The lstmCellBackward kernel: [B, 5H] = [∂a_i, ∂a_f, ∂a_g, ∂a_o | ∂c] for dy [B, 2H] =
 * [∂h' | ∂c'], from the activations lstmCellHost saved ([B, 5H]) or, without them,
 * recomputed (one more product).
 */
export function lstmCellBackwardHost(io: HostKernelIO, xw: View, h: View, c: View, whh: View, dy: View, saved: readonly View[]): DataId | null {
  const dtype = floatDType([xw, h, c, whh, dy, ...saved]);
  const [B, H] = h.shape;
  if (dtype === null || B * H === 0 || saved.length > 1) return null;
  const [x, cr, d] = [rows(io, xw), rows(io, c), rows(io, dy)];
  if (x === null || cr === null || d === null) return null;
  let acts: Rows;
  let recomputed: DataId | null = null;
  const s = saved.length === 1 ? rows(io, saved[0]) : null;
  if (s !== null && saved[0].shape[0] === B && saved[0].shape[1] === 5 * H) {
    acts = s;
  } else {
    const a = io.alloc(dtype, B * 5 * H);
    gatePass(io, x, cr, h, whh, a, null);
    recomputed = io.wrap(a);
    acts = { a, off: 0, stride: 5 * H };
  }
  const out = io.alloc(dtype, B * 5 * H);
  const grads = { a: out, off: 0, stride: 5 * H };
  const args: LstmGateBackwardArgs = { B, H, acts, d, dh: null, c: cr, dcIn: null, dcOut: { ...grads, off: 4 * H }, grads };
  if (!(io.gates?.lstmBackward(args) ?? false)) lstmGatesBackwardHost(args);
  if (recomputed !== null) io.dispose(recomputed);
  return io.wrap(out);
}
