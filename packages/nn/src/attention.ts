import {
  arange,
  attentionWeights,
  broadcastShapes,
  cast,
  checkOptions,
  formatShape,
  fromArray,
  isFloat,
  isTensor,
  linear,
  matmul,
  where,
  type Tensor,
  optionKeys,
  scaledDotProductAttention as attendOp,
} from '@ml/tensor';
import { dropout as dropoutFn } from './dropout.js';
import { init, type Initializer, type InitializerName } from './init.js';
import { checkPositiveInt, Linear, makeWeight, type LayerOptions } from './linear.js';
import { Module } from './module.js';

// Masks follow nn.MultiheadAttention's convention throughout this library:
//   bool  — true marks a position that must NOT be attended to (masked out);
//   float — added to the scores QKᵀ/√d before the softmax (0 keeps, −∞ removes).
// (PyTorch 2's F.scaled_dot_product_attention reads bool masks the other way round; here
// every function reads them the same way.)

export interface ScaledDotProductAttentionOptions {
  /** bool (true = masked out) or float (additive) mask, shape [..., L, S] broadcast over the batch dims */
  attnMask?: Tensor;
  /** bool or float mask over keys: [S], or [N, S] where N is the first dim of q */
  keyPaddingMask?: Tensor;
  /** probability of dropping an attention weight (default 0) */
  dropoutP?: number;
  /** also mask keys after each query: key j is hidden from query i when j > i */
  isCausal?: boolean;
  /** apply dropoutP (default true; modules pass their `training` flag) */
  training?: boolean;
  /** factor on QKᵀ, default 1/√E with E the last dim of q */
  scale?: number;
}

const SDPA_KEYS = optionKeys<ScaledDotProductAttentionOptions>()(['attnMask', 'keyPaddingMask', 'dropoutP', 'isCausal', 'training', 'scale']);
const MASK_ALIASES = { mask: 'attnMask', attention_mask: 'attnMask', attn_mask: 'attnMask', key_padding_mask: 'keyPaddingMask' };

/** @internal */
export function checkMaskDtype(fn: string, name: string, m: Tensor): void {
  if (m.dtype !== 'bool' && !isFloat(m.dtype)) {
    throw new Error(`${fn}: ${name} must be bool (true = masked out) or float (added to the scores), got ${m.dtype} ${formatShape(m.shape)}`);
  }
}

/** @internal Mask `scores` with a bool (true → −∞) or additive float mask. */
export function applyMask(scores: Tensor, mask: Tensor): Tensor {
  if (mask.dtype === 'bool') return where(mask, -Infinity, scores);
  return scores.add(mask.dtype === scores.dtype ? mask : cast(mask, scores.dtype));
}

/**
 * Attention(Q, K, V) = softmax(Q Kᵀ · scale + M) V, with scale = 1/√E by default.
 *
 * q is [..., L, E], k is [..., S, E], v is [..., S, Ev] (batch dims broadcast); returns
 * [output [..., L, Ev], weights [..., L, S]]. The masks (see ScaledDotProductAttentionOptions)
 * are combined: a key is hidden if any of them hides it.
 *
 * Fully masked rows: where every key is masked for a query, the softmax is undefined
 * (PyTorch returns NaN there). Here such a row gets all-zero weights, so its output is
 * zero and no gradient flows through it — a padded query simply attends to nothing.
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, options: ScaledDotProductAttentionOptions = {}): [Tensor, Tensor] {
  const [out, weights] = attend(q, k, v, options, true);
  return [out, weights!];
}

/**
 * scaledDotProductAttention, with the weights only when `needWeights`: without them and
 * without dropout it is @ml/tensor's one-op attention (fused kernels where the backend
 * has them); else the weights are computed (attentionWeights), dropped out and applied.
 */
function attend(q: Tensor, k: Tensor, v: Tensor, options: ScaledDotProductAttentionOptions, needWeights: boolean): [Tensor, Tensor | null] {
  const fn = 'scaledDotProductAttention';
  checkOptions(fn, options, SDPA_KEYS, MASK_ALIASES);
  if (q.ndim < 2 || k.ndim < 2 || v.ndim < 2) {
    throw new Error(`${fn}: q, k and v need at least 2 dims ([..., L, E]), got q ${formatShape(q.shape)}, k ${formatShape(k.shape)}, v ${formatShape(v.shape)}`);
  }
  const L = q.shape[q.ndim - 2];
  const E = q.shape[q.ndim - 1];
  const S = k.shape[k.ndim - 2];
  if (k.shape[k.ndim - 1] !== E) throw new Error(`${fn}: q ${formatShape(q.shape)} and k ${formatShape(k.shape)} must share the last dim (E)`);
  if (v.shape[v.ndim - 2] !== S) throw new Error(`${fn}: k ${formatShape(k.shape)} and v ${formatShape(v.shape)} must have the same number of keys S (dim −2)`);
  const p = options.dropoutP ?? 0;
  if (!(p >= 0 && p <= 1)) throw new Error(`${fn}: dropoutP must be in [0, 1], got ${p}`);
  const scale = options.scale ?? 1 / Math.sqrt(E);

  const batch = broadcastShapes(fn, q.shape.slice(0, -2), k.shape.slice(0, -2));
  const ndim = batch.length + 2;
  const masks: Tensor[] = [];
  if (options.attnMask) {
    const m = options.attnMask;
    checkMaskDtype(fn, 'attnMask', m);
    const tail = m.shape.slice(-2);
    let ok = m.ndim >= 2 && tail[0] === L && tail[1] === S;
    if (ok) {
      try {
        broadcastShapes(fn, m.shape.slice(0, -2), batch);
      } catch {
        ok = false;
      }
    }
    if (!ok || m.ndim > ndim) {
      throw new Error(`${fn}: attnMask must have shape [..., L, S] = ${formatShape([...batch, L, S])} (leading dims may be 1 or absent), got ${formatShape(m.shape)}`);
    }
    masks.push(m);
  }
  if (options.keyPaddingMask) {
    const m = options.keyPaddingMask;
    checkMaskDtype(fn, 'keyPaddingMask', m);
    const N = q.shape[0];
    const batched = m.ndim === 2 && q.ndim >= 3 && m.shape[0] === N && m.shape[1] === S;
    if (!(m.ndim === 1 && m.shape[0] === S) && !batched) {
      throw new Error(`${fn}: keyPaddingMask must have shape [S] = ${formatShape([S])}${q.ndim >= 3 ? ` or [N, S] = ${formatShape([N, S])}` : ''}, got ${formatShape(m.shape)}`);
    }
    masks.push(batched ? m.reshape([N, ...new Array<number>(ndim - 2).fill(1), S]) : m);
  }
  const attention = { attnMask: masks, isCausal: options.isCausal ?? false, scale };
  const dropping = p > 0 && (options.training ?? true);
  if (!needWeights && !dropping) return [attendOp(q, k, v, attention), null];
  let weights = attentionWeights(q, k, attention);
  if (dropping) weights = dropoutFn(weights, p, true);
  return [matmul(weights, v), weights];
}

// ------------------------------------------------------------------ mask helpers

interface MaskOptions {
  /** backend of the mask (default: the current backend) */
  backend?: string;
}
const MASK_KEYS = optionKeys<MaskOptions>()(['backend']);

/** bool [L, S] with true where key j > query i: a query sees itself and the past only. */
export function causalMask(L: number, S: number = L, options: MaskOptions = {}): Tensor {
  checkOptions('causalMask', options, MASK_KEYS);
  checkPositiveInt('causalMask', 'L', L);
  checkPositiveInt('causalMask', 'S', S);
  const i = arange(0, L, 1, { dtype: 'int32', backend: options.backend }).reshape([L, 1]);
  const j = arange(0, S, 1, { dtype: 'int32', backend: options.backend }).reshape([1, S]);
  return j.gt(i);
}

export interface BandedMaskOptions extends MaskOptions {
  /** how many earlier positions each query sees besides itself (Infinity: all) */
  before: number;
  /** how many later positions it sees (default 0: none, i.e. causal) */
  after?: number;
}

const BANDED_KEYS = optionKeys<BandedMaskOptions>()(['before', 'after', 'backend']);

/**
 * bool [L, L] for local ("truncated") attention: query i sees keys i − before … i + after,
 * everything else is true (masked out). `{ before: Infinity, after: 0 }` is causalMask(L).
 */
export function bandedMask(L: number, options: BandedMaskOptions): Tensor {
  checkOptions('bandedMask', options, BANDED_KEYS);
  checkPositiveInt('bandedMask', 'L', L);
  const before = options.before;
  const after = options.after ?? 0;
  for (const [name, w] of [['before', before], ['after', after]] as const) {
    if (!(w === Infinity || (Number.isInteger(w) && w >= 0))) {
      throw new Error(`bandedMask: ${name} must be a non-negative integer or Infinity, got ${w}`);
    }
  }
  const values = new Uint8Array(L * L);
  for (let i = 0; i < L; i++) {
    for (let j = 0; j < L; j++) values[i * L + j] = j < i - before || j > i + after ? 1 : 0;
  }
  return fromArray(values, [L, L], { dtype: 'bool', backend: options.backend });
}

/**
 * bool [N, L] key padding mask from sequence lengths: row n is true (padding) at
 * positions ≥ lengths[n].
 */
export function paddingMask(lengths: readonly number[] | Tensor, L: number, options: MaskOptions = {}): Tensor {
  checkOptions('paddingMask', options, MASK_KEYS);
  checkPositiveInt('paddingMask', 'L', L);
  let lens: number[];
  if (isTensor(lengths)) {
    if (lengths.ndim !== 1) throw new Error(`paddingMask: lengths must be 1-D [N], got ${formatShape(lengths.shape)}`);
    lens = Array.from(lengths.dataSync(), Number);
  } else {
    lens = [...lengths];
  }
  const values = new Uint8Array(lens.length * L);
  lens.forEach((n, b) => {
    if (!Number.isInteger(n) || n < 0 || n > L) throw new Error(`paddingMask: lengths[${b}] = ${n} must be an integer in [0, L = ${L}]`);
    for (let t = n; t < L; t++) values[b * L + t] = 1;
  });
  return fromArray(values, [lens.length, L], { dtype: 'bool', backend: options.backend });
}

// ------------------------------------------------------------------ MultiheadAttention

export interface MultiheadAttentionOptions extends LayerOptions {
  /** model dim E: query features and output features */
  embedDim: number;
  /** heads H; each works on E/H features */
  numHeads: number;
  /** dropout on the attention weights in training (default 0) */
  dropout?: number;
  /** biases on the input and output projections (default true) */
  bias?: boolean;
  /** inputs and outputs are [N, L, E] instead of [L, N, E] (default false) */
  batchFirst?: boolean;
  /** key features (default embedDim) */
  kdim?: number;
  /** value features (default embedDim) */
  vdim?: number;
  /** initializer of the input projections (default xavier uniform, as PyTorch) */
  weightInit?: Initializer | InitializerName;
}

const MHA_KEYS = optionKeys<MultiheadAttentionOptions>()(['embedDim', 'numHeads', 'dropout', 'bias', 'batchFirst', 'kdim', 'vdim', 'weightInit', 'dtype', 'name']);
const MHA_FORWARD_OPTIONS = optionKeys<MultiheadAttentionForwardOptions>()(['keyPaddingMask', 'needWeights', 'attnMask', 'averageAttnWeights', 'isCausal']);

export interface MultiheadAttentionForwardOptions {
  /** bool or float mask over keys: [N, S], or [S] for unbatched input */
  keyPaddingMask?: Tensor;
  /** return the attention weights (default true) */
  needWeights?: boolean;
  /** bool or float mask [L, S], or per batch and head [N·numHeads, L, S] */
  attnMask?: Tensor;
  /** average the weights over heads → [N, L, S]; false → [N, numHeads, L, S] (default true) */
  averageAttnWeights?: boolean;
  /** also hide keys j > i from query i */
  isCausal?: boolean;
}

/**
 * Multi-head attention (Vaswani et al.), PyTorch's `nn.MultiheadAttention`:
 *
 *   headᵢ = Attention(Q W_qᵢᵀ + b_qᵢ, K W_kᵢᵀ + b_kᵢ, V W_vᵢᵀ + b_vᵢ)
 *   out   = concat(head₁ … head_H) W_oᵀ + b_o
 *
 * W_q, W_k, W_v are stacked in `in_proj_weight` [3E, E] (or kept apart as
 * `q_proj_weight` [E, E], `k_proj_weight` [E, kdim], `v_proj_weight` [E, vdim] when
 * kdim or vdim differ from E); the output projection is `out_proj`.
 *
 * Shapes: query [L, N, E], key [S, N, kdim], value [S, N, vdim] (batchFirst: [N, L, E] …),
 * or unbatched [L, E]. Returns [output (query's layout), weights [N, L, S] averaged over
 * heads or [N, H, L, S], or null when needWeights is false]. Queries whose keys are all
 * masked get zero weights (PyTorch gives NaN), see `scaledDotProductAttention`.
 */
export class MultiheadAttention extends Module<[Tensor, Tensor, Tensor, MultiheadAttentionForwardOptions?], [Tensor, Tensor | null]> {
  readonly embedDim: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly kdim: number;
  readonly vdim: number;
  readonly dropout: number;
  readonly batchFirst: boolean;
  inProjWeight: Tensor | null = null;
  qProjWeight: Tensor | null = null;
  kProjWeight: Tensor | null = null;
  vProjWeight: Tensor | null = null;
  inProjBias: Tensor | null = null;
  readonly outProj: Linear;

  constructor(options: MultiheadAttentionOptions) {
    super(options);
    checkOptions('MultiheadAttention', options, MHA_KEYS, { num_heads: 'numHeads', nhead: 'numHeads', embed_dim: 'embedDim', dModel: 'embedDim' });
    const { embedDim, numHeads } = options;
    checkPositiveInt('MultiheadAttention', 'embedDim', embedDim);
    checkPositiveInt('MultiheadAttention', 'numHeads', numHeads);
    if (embedDim % numHeads !== 0) {
      throw new Error(`MultiheadAttention: embedDim (${embedDim}) must be divisible by numHeads (${numHeads}); each head gets embedDim / numHeads features`);
    }
    this.kdim = options.kdim ?? embedDim;
    this.vdim = options.vdim ?? embedDim;
    checkPositiveInt('MultiheadAttention', 'kdim', this.kdim);
    checkPositiveInt('MultiheadAttention', 'vdim', this.vdim);
    this.dropout = options.dropout ?? 0;
    if (!(this.dropout >= 0 && this.dropout <= 1)) throw new Error(`MultiheadAttention: dropout must be in [0, 1], got ${this.dropout}`);
    this.embedDim = embedDim;
    this.numHeads = numHeads;
    this.headDim = embedDim / numHeads;
    this.batchFirst = options.batchFirst ?? false;
    const xavier = init.xavierUniform();
    const w = (shape: number[]) => makeWeight(shape, options.weightInit, xavier, options.dtype);
    if (this.kdim === embedDim && this.vdim === embedDim) {
      this.inProjWeight = this.registerParameter('in_proj_weight', w([3 * embedDim, embedDim]));
    } else {
      this.qProjWeight = this.registerParameter('q_proj_weight', w([embedDim, embedDim]));
      this.kProjWeight = this.registerParameter('k_proj_weight', w([embedDim, this.kdim]));
      this.vProjWeight = this.registerParameter('v_proj_weight', w([embedDim, this.vdim]));
    }
    const bias = options.bias ?? true;
    if (bias) this.inProjBias = this.registerParameter('in_proj_bias', makeWeight([3 * embedDim], undefined, init.zeros(), options.dtype));
    this.outProj = this.registerModule('out_proj', new Linear({ inFeatures: embedDim, outFeatures: embedDim, bias, biasInit: 'zeros', dtype: options.dtype }));
  }

  forward(query: Tensor, key: Tensor, value: Tensor, options: MultiheadAttentionForwardOptions = {}): [Tensor, Tensor | null] {
    // a misspelt mask must not run unmasked: Keras's `attention_mask`/`mask` and PyTorch's names map to ours
    checkOptions('MultiheadAttention.forward', options, MHA_FORWARD_OPTIONS, MASK_ALIASES);
    const { embedDim: E, numHeads: H, headDim: D } = this;
    const unbatched = query.ndim === 2;
    const layout = this.batchFirst ? '[N, L, E]' : '[L, N, E]';
    if ((query.ndim !== 2 && query.ndim !== 3) || key.ndim !== query.ndim || value.ndim !== query.ndim) {
      throw new Error(`MultiheadAttention: query, key and value must all be 3-D ${layout} or all 2-D [L, E] (unbatched), got query ${formatShape(query.shape)}, key ${formatShape(key.shape)}, value ${formatShape(value.shape)}`);
    }
    const last = (t: Tensor) => t.shape[t.ndim - 1];
    if (last(query) !== E || last(key) !== this.kdim || last(value) !== this.vdim) {
      throw new Error(`MultiheadAttention: expected features embedDim=${E} in query, kdim=${this.kdim} in key, vdim=${this.vdim} in value, got query ${formatShape(query.shape)}, key ${formatShape(key.shape)}, value ${formatShape(value.shape)}`);
    }
    // work in [N, L, E]
    const toNLE = (t: Tensor) => (unbatched ? t.unsqueeze(0) : this.batchFirst ? t : t.transpose(0, 1));
    const q0 = toNLE(query);
    const k0 = toNLE(key);
    const v0 = toNLE(value);
    const [N, L] = q0.shape;
    const S = k0.shape[1];
    if (k0.shape[0] !== N || v0.shape[0] !== N || v0.shape[1] !== S) {
      throw new Error(`MultiheadAttention: query ${formatShape(query.shape)}, key ${formatShape(key.shape)} and value ${formatShape(value.shape)} must agree on the batch size N, and key and value on the length S (layout ${layout})`);
    }

    // input projections, then split E into H heads: [N, L, E] → [N, H, L, D]
    const [q, k, v] = this.#project(query, key, value, q0, k0, v0);
    const heads = (t: Tensor, len: number) => t.reshape([N, len, H, D]).transpose(1, 2);

    const attnMask = options.attnMask ? this.#attnMask(options.attnMask, N, L, S, unbatched) : undefined;
    let keyPaddingMask: Tensor | undefined;
    if (options.keyPaddingMask) {
      const m = options.keyPaddingMask;
      const expected = unbatched ? [S] : [N, S];
      if (m.ndim !== expected.length || m.shape.some((d, i) => d !== expected[i])) {
        throw new Error(`MultiheadAttention: keyPaddingMask must have shape ${unbatched ? '[S]' : '[N, S]'} = ${formatShape(expected)}, got ${formatShape(m.shape)}`);
      }
      checkMaskDtype('MultiheadAttention', 'keyPaddingMask', m);
      keyPaddingMask = unbatched ? m.unsqueeze(0) : m;
    }

    const needWeights = options.needWeights ?? true;
    const [o, w] = attend(heads(q, L), heads(k, S), heads(v, S), { attnMask, keyPaddingMask, isCausal: options.isCausal, dropoutP: this.dropout, training: this.training }, needWeights);
    let out = this.outProj.forward(o.transpose(1, 2).reshape([N, L, E]));
    out = unbatched ? out.squeeze(0) : this.batchFirst ? out : out.transpose(0, 1);
    if (w === null) return [out, null];
    let weights = (options.averageAttnWeights ?? true) ? w.mean(1) : w;
    if (unbatched) weights = weights.squeeze(0);
    return [out, weights];
  }

  /** Q, K, V projected, each [N, ·, E]; self-attention uses one matmul with in_proj_weight. */
  #project(query: Tensor, key: Tensor, value: Tensor, q0: Tensor, k0: Tensor, v0: Tensor): Tensor[] {
    const b = this.inProjBias ? this.inProjBias.chunk(3, 0) : [null, null, null];
    if (this.inProjWeight) {
      if (query === key && key === value) return linear(q0, this.inProjWeight, this.inProjBias).chunk(3, -1);
      const [wq, wk, wv] = this.inProjWeight.chunk(3, 0);
      return [linear(q0, wq, b[0]), linear(k0, wk, b[1]), linear(v0, wv, b[2])];
    }
    return [linear(q0, this.qProjWeight!, b[0]), linear(k0, this.kProjWeight!, b[1]), linear(v0, this.vProjWeight!, b[2])];
  }

  /** attnMask [L, S] or [N·H, L, S] (unbatched: [H, L, S]) as a mask broadcasting over [N, H, L, S]. */
  #attnMask(m: Tensor, N: number, L: number, S: number, unbatched: boolean): Tensor {
    const H = this.numHeads;
    checkMaskDtype('MultiheadAttention', 'attnMask', m);
    const is = (shape: number[]) => m.ndim === shape.length && m.shape.every((d, i) => d === shape[i]);
    if (is([L, S])) return m;
    if (is([N * H, L, S])) return m.reshape([N, H, L, S]);
    const perHead = unbatched ? `[numHeads, L, S] = ${formatShape([H, L, S])}` : `[N·numHeads, L, S] = ${formatShape([N * H, L, S])}`;
    throw new Error(`MultiheadAttention: attnMask must have shape [L, S] = ${formatShape([L, S])} or ${perHead}, got ${formatShape(m.shape)}`);
  }

  override extraRepr(): string {
    const extra = this.kdim !== this.embedDim || this.vdim !== this.embedDim ? `, kdim=${this.kdim}, vdim=${this.vdim}` : '';
    return `embedDim=${this.embedDim}, numHeads=${this.numHeads}, dropout=${this.dropout}, bias=${this.inProjBias !== null}, batchFirst=${this.batchFirst}${extra}`;
  }
}
