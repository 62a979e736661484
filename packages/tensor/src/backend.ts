import type { DType, TypedArray } from './dtype.js';

/** Opaque handle to a backend's buffer. */
export type DataId = object;

/** A strided view into a backend buffer, as primitives receive their inputs. */
export interface View {
  readonly data: DataId;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
}

export type UnaryOp =
  | 'neg' | 'abs' | 'sign' | 'exp' | 'expm1' | 'log' | 'log1p' | 'sqrt' | 'rsqrt' | 'sin' | 'cos'
  | 'tanh' | 'sigmoid' | 'relu' | 'erf' | 'floor' | 'ceil' | 'round' | 'reciprocal' | 'not';
export type BinaryOp =
  | 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum'
  | 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge' | 'and' | 'or';
export type ReduceOp = 'sum' | 'prod' | 'max' | 'min';
export type ArgReduceOp = 'argmax' | 'argmin';

/** Patch-extraction geometry shared by im2col (unfold) and its adjoint col2im (fold). */
export interface Im2ColParams {
  kernel: readonly [number, number];
  stride: readonly [number, number];
  dilation: readonly [number, number];
  /** top, bottom, left, right */
  pad: readonly [number, number, number, number];
  padValue: number;
}

/** Output height and width of a patch extraction (im2col, pooling) with `p` over an [N,C,H,W] input. */
export function patchOutputSize(shape: readonly number[], p: Im2ColParams): [number, number] {
  const out = (size: number, i: 0 | 1, padTotal: number) => Math.floor((size + padTotal - p.dilation[i] * (p.kernel[i] - 1) - 1) / p.stride[i]) + 1;
  return [out(shape[2], 0, p.pad[0] + p.pad[1]), out(shape[3], 1, p.pad[2] + p.pad[3])];
}

/** Whether a view's elements are contiguous in row-major order (size-1 dims ignored). */
export function isContiguousView(v: View): boolean {
  let s = 1;
  for (let i = v.shape.length - 1; i >= 0; i--) {
    if (v.shape[i] !== 1 && v.strides[i] !== s) return false;
    s *= v.shape[i];
  }
  return true;
}

/**
 * The storage distance between consecutive rows (all axes but the last) of a view when it
 * is the same for every row (row r starts at offset + r·stride; 0 when the rows are one
 * broadcast row), else null.
 */
export function rowStride(v: View): number | null {
  let stride: number | null = null;
  let span = 1; // rows spanned by the axes inside the current one
  for (let d = v.shape.length - 2; d >= 0; d--) {
    const n = v.shape[d];
    if (n === 1) continue;
    if (stride === null) stride = v.strides[d];
    else if (v.strides[d] !== stride * span) return null;
    span *= n;
  }
  return stride ?? 0;
}

/** A backend's own memory (e.g. a WebAssembly memory), as `memory()` reports it. */
export interface HeapInfo {
  /** bytes the backend holds from the system */
  reservedBytes: number;
  /** bytes in blocks in use */
  liveBytes: number;
  /** bytes in freed blocks kept for reuse */
  freeBytes: number;
  liveBlocks: number;
}

/** An [N, C, H, W] shape. */
export type Shape4 = readonly [number, number, number, number];

/**
 * How a fused forward kernel keeps a buffer for its own backward pass (PyTorch's
 * `save_for_backward`): the buffer (a fresh one of this backend) is wrapped as a tensor and
 * held by the op's graph node, which hands it to the backward kernel as `saved`. Null when no
 * gradient will be asked for (gradients off, or no input needs one): then keep nothing.
 */
export type SaveForBackward = ((data: DataId, shape: readonly number[], dtype: DType) => void) | null;

/** How a whole-sequence recurrent op walks time (its attributes): `reverse` runs t = L−1 … 0 (a bidirectional layer's second direction). */
export interface SequenceAttrs {
  readonly reverse: boolean;
}

/** rnnSequence's attributes: the activation too. */
export interface RnnSequenceAttrs extends SequenceAttrs {
  readonly nonlinearity: 'tanh' | 'relu';
}

/** The scalars of one Adam step (PyTorch's formula, the moments updated in place). */
export interface AdamStep {
  b1: number;
  b2: number;
  /** √(1 − β₂ᵗ) */
  sbc2: number;
  eps: number;
  /** lr / (1 − β₁ᵗ) */
  stepSize: number;
  /** 1 − lr·λ for AdamW, else 1 */
  decay: number;
  /** λ for Adam's L2 weight decay, else 0 */
  l2: number;
  /** −1 to maximize, else 1 */
  sign: number;
}

/**
 * Fused kernels: optional parts of the backend contract. Each replaces a composite of
 * primitives (which stays the default and the reference); a backend that has one offers it
 * by implementing the method, and it may return null to decline a case it does not cover
 * (a dtype, a layout, grouped convolutions…), so the composite runs instead. Inputs are
 * strided views like the primitives'; shapes are checked by the op before the call. The
 * op definitions in `ops/` call these (see ARCHITECTURE.md, "how an op flows").
 */
export interface FusedKernels {
  /** x [..., in] · weightᵀ (weight [out, in]) + bias [out] (or none) → [..., out]: a Linear layer, the bias added as the product is written */
  linear?(x: View, weight: View, bias: View | null): DataId | null;
  /** x [N,C,H,W] ⋆ weight [O, C/groups, kh, kw] (+ bias [O]) → [N, O, oh, ow] */
  conv2d?(x: View, weight: View, bias: View | null, p: Im2ColParams, groups: number, save: SaveForBackward): DataId | null;
  /** ∂L/∂x of conv2d for dy [N, O, oh, ow] → xShape */
  conv2dBackwardInput?(dy: View, weight: View, xShape: Shape4, p: Im2ColParams, groups: number): DataId | null;
  /** ∂L/∂weight of conv2d → [O, C/groups, kh, kw]; `saved` is what this backend's conv2d saved for it (maybe nothing) */
  conv2dBackwardWeight?(dy: View, x: View, wShape: Shape4, p: Im2ColParams, groups: number, saved: readonly View[]): DataId | null;
  /** max over each window (padding counts as p.padValue) → [N, C, oh, ow] */
  maxPool2d?(x: View, p: Im2ColParams): DataId | null;
  /** ∂L/∂x of maxPool2d given its output y: each window's dy shared among the elements equal to its max */
  maxPool2dBackward?(x: View, y: View, dy: View, p: Im2ColParams): DataId | null;
  /** mean over each window (zero padding counted in the divisor when countIncludePad) → [N, C, oh, ow] */
  avgPool2d?(x: View, p: Im2ColParams, countIncludePad: boolean): DataId | null;
  /** dy where x > 0, else 0 */
  reluBackward?(x: View, dy: View): DataId | null;
  /** softmax along `dim` */
  softmax?(x: View, dim: number): DataId | null;
  /** log-softmax along `dim` */
  logSoftmax?(x: View, dim: number): DataId | null;
  /**
   * cross-entropy of logits [N, C] against int32 classes [N]: per-sample losses [N] when
   * `divisor` is null, else their sum divided by `divisor` (a scalar)
   */
  softmaxCrossEntropy?(logits: View, target: View, divisor: number | null): DataId | null;
  /** (softmax(logits) − onehot(target))·dy / divisor; dy is [N] (reduction 'none') or a scalar */
  softmaxCrossEntropyBackward?(logits: View, target: View, dy: View, divisor: number): DataId | null;
  /**
   * Layer normalization over the trailing D elements of each row of x: (x − μ)/√(σ² + ε)·weight
   * + bias (weight, bias [D] or null). May `save` each row's [μ, 1/σ] for layerNormBackward.
   */
  layerNorm?(x: View, weight: View | null, bias: View | null, D: number, eps: number, save: SaveForBackward): DataId | null;
  /** layerNorm's backward pass for dy (x's shape) → flat [∂x | ∂weight (D) | ∂bias (D)]; `saved`: what layerNorm saved (maybe nothing) */
  layerNormBackward?(x: View, weight: View | null, dy: View, D: number, eps: number, saved: readonly View[]): DataId | null;
  /** gelu, exact ('none': x·Φ(x)) or tanh-approximated; may `save` Φ(x) (or the tanh) for geluBackward */
  gelu?(x: View, approximate: 'none' | 'tanh', save: SaveForBackward): DataId | null;
  /** dy·gelu′(x); `saved`: what gelu saved (maybe nothing) */
  geluBackward?(x: View, dy: View, approximate: 'none' | 'tanh', saved: readonly View[]): DataId | null;
  /**
   * softmax(q·kᵀ·scale + masks)·v for q [..., L, E], k [..., S, E], v [..., S, Ev] of the same
   * batch dims and masks broadcast to [..., L, S], applied in order (bool: true hides the
   * key; float: added), then `causal` hides key j > i; a row with every key hidden gets
   * zero weights → [..., L, Ev]. May `save` the weights for its backward pass.
   */
  scaledDotProductAttention?(q: View, k: View, v: View, masks: readonly View[], scale: number, causal: boolean, save: SaveForBackward): DataId | null;
  /**
   * scaledDotProductAttention's backward pass for dy [..., L, Ev] → flat [∂q | ∂k | ∂v]
   * (each row-major over the full batch dims); `saved`: what the forward saved (maybe nothing).
   */
  scaledDotProductAttentionBackward?(q: View, k: View, v: View, dy: View, masks: readonly View[], scale: number, causal: boolean, saved: readonly View[]): DataId | null;
  /**
   * One Adam step on contiguous p, grad, m, v of one float dtype: m and v are updated in
   * place, the new parameter values returned in a fresh buffer.
   */
  adamUpdate?(p: View, grad: View, m: View, v: View, s: AdamStep): DataId | null;
  /**
   * One LSTM step, gates in order i, f, g, o: xw [B, 4H] (input projection, biases
   * included), h and c [B, H], whh [4H, H] → [B, 2H] = [h' | c'], with a = xw + h·whhᵀ,
   * c' = σ(a_f)∘c + σ(a_i)∘tanh(a_g), h' = σ(a_o)∘tanh(c'). May `save` its gate
   * activations for its lstmCellBackward.
   */
  lstmCell?(xw: View, h: View, c: View, whh: View, save: SaveForBackward): DataId | null;
  /**
   * lstmCell's backward pass for dy [B, 2H] = [∂h' | ∂c'] → [B, 5H] = [∂a | ∂c] (the
   * gradient at the gate pre-activations, i.e. ∂xw, then ∂c); `saved` is what this
   * backend's lstmCell saved for it (maybe nothing: then recompute the gates).
   */
  lstmCellBackward?(xw: View, h: View, c: View, whh: View, dy: View, saved: readonly View[]): DataId | null;
  /**
   * A whole LSTM layer-direction (ops/recurrent-sequence.ts): xw [L, B, 4H] (input
   * projection, biases included, time-major), h0 and c0 [B, H], whh [4H, H] → [L, B, 2H],
   * [h_t | c_t] for every t, each step as lstmCell; `o.reverse` walks t = L−1 … 0. May
   * `save` its gate activations for lstmSequenceBackward.
   */
  lstmSequence?(xw: View, h0: View, c0: View, whh: View, o: SequenceAttrs, save: SaveForBackward): DataId | null;
  /**
   * lstmSequence's backward pass through time, for its output y and dy (both [L, B, 2H]) →
   * [L + 1, B, 4H]: slot t < L the gate pre-activation gradients of step t (∂xw), slot L
   * [∂h0 | ∂c0 | 0 | 0]. `saved`: what this backend's lstmSequence saved (maybe nothing).
   */
  lstmSequenceBackward?(xw: View, h0: View, c0: View, whh: View, y: View, dy: View, o: SequenceAttrs, saved: readonly View[]): DataId | null;
  /**
   * A whole GRU layer-direction, PyTorch's reset-after form: xp [L, B, 3H] (x W_ihᵀ + b_ih),
   * h0 [B, H], whh [3H, H], bhh [3H] or null → [L, B, H]. May `save` its gates.
   */
  gruSequence?(xp: View, h0: View, whh: View, bhh: View | null, o: SequenceAttrs, save: SaveForBackward): DataId | null;
  /**
   * gruSequence's backward pass for its output y and dy ([L, B, H]) → [2L + 1, B, 3H]: slot
   * t < L ∂xp_t = [∂r, ∂z, ∂n] at step t's pre-activations, slot L + t the gradient of
   * h_{t−1} W_hhᵀ + b_hh there, [∂r, ∂z, ∂n·r], slot 2L [∂h0 | 0 | 0].
   */
  gruSequenceBackward?(xp: View, h0: View, whh: View, bhh: View | null, y: View, dy: View, o: SequenceAttrs, saved: readonly View[]): DataId | null;
  /** A whole Elman RNN layer-direction: xp [L, B, H] (both biases folded in), h0 [B, H], whh [H, H] → [L, B, H]. */
  rnnSequence?(xp: View, h0: View, whh: View, o: RnnSequenceAttrs): DataId | null;
  /** rnnSequence's backward pass for its output y and dy ([L, B, H]) → [L + 1, B, H]: ∂xp for each step, then ∂h0. */
  rnnSequenceBackward?(xp: View, h0: View, whh: View, y: View, dy: View, o: RnnSequenceAttrs): DataId | null;
}

/**
 * The primitive set a backend implements. Every primitive reads strided views and
 * writes a new contiguous buffer; shapes are worked out and checked by the caller.
 * Everything else (softmax, conv, pooling, norms…) is composed from these once.
 */
export interface Backend extends FusedKernels {
  readonly name: string;
  /**
   * The dtypes it can hold, when not all four (a GPU backend has no float64); it refuses the
   * others with a TypeError that names the dtype.
   */
  readonly dtypes?: readonly DType[];
  write(values: TypedArray, dtype: DType): DataId;
  read(data: DataId): Promise<TypedArray>;
  /** Present only when the backend can hand data back synchronously. */
  readSync?(data: DataId): TypedArray;
  /**
   * Present only when the data live in a host typed array (CPU-family backends): that
   * array itself, not a copy, so host code can update a buffer in place.
   */
  hostArray?(data: DataId): TypedArray;
  /**
   * Optional: fill the first `n` float32 values of `data` with an inverted-dropout mask —
   * `scale` where a uniform draw on [0, 1) (rounded to float32) is ≥ `cut` (on [0, 1]),
   * else 0 — drawing from the xoshiro128** state `state` and advancing it in place, exactly
   * as the seeded generator does (the same values and the same state after). Returns false
   * to leave it to the generic code.
   */
  fillDropoutMask?(data: DataId, n: number, state: Uint32Array, cut: number, scale: number): boolean;
  /** Where the last primitive ran, for the ML_DEBUG=1 log (e.g. a fallback to other code). */
  lastRoute?(): string;
  dispose(data: DataId): void;
  /** Present when the backend manages a memory of its own (see `memory()`). */
  heap?(): HeapInfo;

  fill(size: number, dtype: DType, value: number): DataId;
  copy(x: View): DataId;
  cast(x: View, dtype: DType): DataId;
  unary(op: UnaryOp, x: View): DataId;
  /** `a` and `b` have the same shape (broadcast by the caller through zero strides). */
  binary(op: BinaryOp, a: View, b: View, outDtype: DType): DataId;
  where(cond: View, a: View, b: View): DataId;
  /** Reduce over sorted `axes`; the output drops them. */
  reduce(op: ReduceOp, x: View, axes: readonly number[]): DataId;
  argReduce(op: ArgReduceOp, x: View, axis: number): DataId;
  /** a: [B,M,K], b: [B,K,N] → [B,M,N]. */
  matmul(a: View, b: View): DataId;
  /** torch.gather: out has index's shape. */
  gather(x: View, axis: number, index: View): DataId;
  /** copy of `base` with `src` added at `index` along `axis`. */
  scatterAdd(base: View, axis: number, index: View, src: View): DataId;
  /** XLA-style pad: `low`/`high` edge padding and `interior` padding between elements. */
  pad(x: View, low: readonly number[], high: readonly number[], interior: readonly number[], value: number): DataId;
  concat(xs: readonly View[], axis: number, outShape: readonly number[]): DataId;
  /** x: [N,C,H,W] → [N, C·kh·kw, oh·ow] */
  im2col(x: View, p: Im2ColParams): DataId;
  /** cols: [N, C·kh·kw, oh·ow] → [N,C,H,W], summing overlaps (adjoint of im2col). */
  col2im(cols: View, outShape: readonly [number, number, number, number], p: Im2ColParams): DataId;
}
