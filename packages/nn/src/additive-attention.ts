import { all, checkOptions, formatShape, softmax, tanh, where, type Tensor, optionKeys } from '@ml/tensor';
import { applyMask, checkMaskDtype } from './attention.js';
import { init, type Initializer, type InitializerName } from './init.js';
import { checkPositiveInt, Linear, makeWeight, type LayerOptions } from './linear.js';
import { Module } from './module.js';

export interface AdditiveAttentionOptions extends LayerOptions {
  /** features of a query (the decoder state s) */
  queryDim: number;
  /** features of a key (an encoder state h; default queryDim) */
  keyDim?: number;
  /** size of the hidden layer the score is computed in (default queryDim) */
  hiddenSize?: number;
  /** a learned bias b inside the tanh (default false, as Bahdanau et al.) */
  bias?: boolean;
  /** initializer of W_q, W_k and v (default xavier uniform) */
  weightInit?: Initializer | InitializerName;
}
const OPTION_KEYS = optionKeys<AdditiveAttentionOptions>()(['queryDim', 'keyDim', 'hiddenSize', 'bias', 'weightInit', 'dtype', 'name']);

export interface AdditiveAttentionForwardOptions {
  /** bool (true = a padding key, masked out) or float (added to the scores) mask over keys: [N, S] */
  keyPaddingMask?: Tensor;
  /** bool or float mask per query and key: [L, S] or [N, L, S] */
  attnMask?: Tensor;
}
const FORWARD_KEYS = optionKeys<AdditiveAttentionForwardOptions>()(['keyPaddingMask', 'attnMask']);

/**
 * Additive (Bahdanau) attention, as in "Neural Machine Translation by Jointly Learning to
 * Align and Translate" (Bahdanau, Cho, Bengio 2015):
 *
 *   e_ij = vᵀ tanh(W_q s_i + W_k h_j [+ b])     score of key j for query i
 *   α_ij = softmax_j(e_ij)                        attention weights (masked keys get 0)
 *   c_i  = Σ_j α_ij v_j                           context: weighted sum of the values
 *
 * `forward(query, keys, values = keys, options)`: query [N, Eq] (one query per sample, as a
 * decoder step) or [N, L, Eq]; keys [N, S, Ek]; values [N, S, Ev]. Returns [context, weights]:
 * [N, Ev] and [N, S] for a 2-D query, [N, L, Ev] and [N, L, S] otherwise. Masks follow
 * MultiheadAttention's convention (bool true = masked out); a query whose keys are all
 * masked gets zero weights. Parameters: `query_proj.weight` [H, Eq] (with `query_proj.bias`
 * [H] when `bias`), `key_proj.weight` [H, Ek], `v` [H].
 */
export class AdditiveAttention extends Module<[Tensor, Tensor, Tensor?, AdditiveAttentionForwardOptions?], [Tensor, Tensor]> {
  readonly queryDim: number;
  readonly keyDim: number;
  readonly hiddenSize: number;
  readonly queryProj: Linear;
  readonly keyProj: Linear;
  readonly v: Tensor;

  constructor(options: AdditiveAttentionOptions) {
    checkOptions('AdditiveAttention', options, OPTION_KEYS, { units: 'hiddenSize', query_dim: 'queryDim', key_dim: 'keyDim', hidden_size: 'hiddenSize', use_bias: 'bias' });
    super(options);
    this.queryDim = options.queryDim;
    this.keyDim = options.keyDim ?? options.queryDim;
    this.hiddenSize = options.hiddenSize ?? options.queryDim;
    checkPositiveInt('AdditiveAttention', 'queryDim', this.queryDim);
    checkPositiveInt('AdditiveAttention', 'keyDim', this.keyDim);
    checkPositiveInt('AdditiveAttention', 'hiddenSize', this.hiddenSize);
    const weightInit = options.weightInit ?? init.xavierUniform();
    const bias = options.bias ?? false;
    // W_q s + W_k h + b: one bias suffices, so it sits on the query projection
    this.queryProj = this.registerModule('query_proj', new Linear({ inFeatures: this.queryDim, outFeatures: this.hiddenSize, bias, weightInit, biasInit: 'zeros', dtype: options.dtype }));
    this.keyProj = this.registerModule('key_proj', new Linear({ inFeatures: this.keyDim, outFeatures: this.hiddenSize, bias: false, weightInit, dtype: options.dtype }));
    // v as a [H] vector: its fan-in/fan-out initialization treats it as [1, H]
    this.v = this.registerParameter('v', makeWeight([1, this.hiddenSize], options.weightInit, init.xavierUniform(), options.dtype).reshape([this.hiddenSize]).detach());
  }

  forward(query: Tensor, keys: Tensor, values: Tensor = keys, options: AdditiveAttentionForwardOptions = {}): [Tensor, Tensor] {
    const fn = 'AdditiveAttention';
    checkOptions(`${fn}.forward`, options, FORWARD_KEYS, { mask: 'keyPaddingMask', attention_mask: 'attnMask', key_padding_mask: 'keyPaddingMask', attn_mask: 'attnMask' });
    if (keys.ndim !== 3 || values.ndim !== 3 || (query.ndim !== 2 && query.ndim !== 3)) {
      throw new Error(`${fn}: expected query [N, Eq] or [N, L, Eq], keys [N, S, Ek] and values [N, S, Ev], got query ${formatShape(query.shape)}, keys ${formatShape(keys.shape)}, values ${formatShape(values.shape)}`);
    }
    const [N, S] = keys.shape;
    if (query.shape[0] !== N || values.shape[0] !== N || values.shape[1] !== S) {
      throw new Error(`${fn}: query ${formatShape(query.shape)}, keys ${formatShape(keys.shape)} and values ${formatShape(values.shape)} must share N (dim 0), keys and values S (dim 1)`);
    }
    if (query.shape[query.ndim - 1] !== this.queryDim) throw new Error(`${fn}: query ${formatShape(query.shape)} must have queryDim = ${this.queryDim} features (last dim)`);
    if (keys.shape[2] !== this.keyDim) throw new Error(`${fn}: keys ${formatShape(keys.shape)} must have keyDim = ${this.keyDim} features (last dim)`);
    const single = query.ndim === 2;
    const q = single ? query.unsqueeze(1) : query; // [N, L, Eq]
    const L = q.shape[1];
    const wq = this.queryProj.forward(q).unsqueeze(2); // [N, L, 1, H]
    const wk = this.keyProj.forward(keys).unsqueeze(1); // [N, 1, S, H]
    let scores = tanh(wq.add(wk)).matmul(this.v.unsqueeze(1)).squeeze(-1); // [N, L, S]
    let masked = false;
    if (options.attnMask) {
      const m = options.attnMask;
      checkMaskDtype(fn, 'attnMask', m);
      const ok = (m.ndim === 2 && m.shape[0] === L && m.shape[1] === S) || (m.ndim === 3 && m.shape[0] === N && m.shape[1] === L && m.shape[2] === S);
      if (!ok) throw new Error(`${fn}: attnMask must be [L, S] = ${formatShape([L, S])} or [N, L, S] = ${formatShape([N, L, S])}, got ${formatShape(m.shape)}`);
      scores = applyMask(scores, m);
      masked = true;
    }
    if (options.keyPaddingMask) {
      const m = options.keyPaddingMask;
      checkMaskDtype(fn, 'keyPaddingMask', m);
      if (m.ndim !== 2 || m.shape[0] !== N || m.shape[1] !== S) throw new Error(`${fn}: keyPaddingMask must be [N, S] = ${formatShape([N, S])}, got ${formatShape(m.shape)}`);
      scores = applyMask(scores, m.unsqueeze(1));
      masked = true;
    }
    let weights: Tensor;
    if (masked) {
      // a query with every key masked: zero weights (a softmax over nothing is undefined)
      const empty = all(scores.eq(-Infinity), -1, true);
      weights = where(empty, 0, softmax(where(empty, 0, scores), -1));
    } else {
      weights = softmax(scores, -1);
    }
    const context = weights.matmul(values); // [N, L, Ev]
    return single ? [context.squeeze(1), weights.squeeze(1)] : [context, weights];
  }

  override extraRepr(): string {
    return `queryDim=${this.queryDim}, keyDim=${this.keyDim}, hiddenSize=${this.hiddenSize}`;
  }
}
