/**
 * ONNX exporters of MultiheadAttention, the Transformer layers and stacks, and the positional
 * encodings of @ml/nn, written with opset-13+ primitives (MatMul, Add, Reshape, Transpose,
 * Softmax, Where, LayerNormalization from opset 17), so ONNX Runtime and any other engine run
 * them without contrib ops.
 *
 * Attention, per batch n and head h (docs/recurrent-attention.md has the layouts):
 *   Q = query·W_qᵀ + b_q, K = key·W_kᵀ + b_k, V = value·W_vᵀ + b_v   (W_q, W_k, W_v: rows of in_proj_weight)
 *   Q, K, V: [N, L, E] → Reshape [N, L, H, E/H] → Transpose → [N, H, L, E/H]
 *   scores = Q·Kᵀ · (1/√(E/H)), masked (bool: Where(mask, −∞, s); float: s + mask), Softmax(−1)
 *   out = Transpose/Reshape(weights·V) → [N, L, E], then ·W_oᵀ + b_o
 * A query whose keys are all masked gets all-zero weights, as in @ml's forward (Softmax alone
 * would give NaN there): the rows are found with IsInf and a ReduceMin.
 *
 * Masks as graph inputs or constants need a module whose forward takes them as tensors; its
 * exporter calls `exportMultiheadAttention` / `exportEncoderLayer` / `exportDecoderLayer` with
 * the mask names (see the tests). The registered exporters cover calls without masks.
 */
import {
  LearnedPositionalEncoding, MultiheadAttention, SinusoidalPositionalEncoding, Transformer, TransformerDecoder, TransformerDecoderLayer, TransformerEncoder,
  TransformerEncoderLayer, type AnyModule, type LayerNorm, type Linear,
} from '@ml/nn';
import { checkOptions, optionKeys, type Tensor } from '@ml/tensor';
import { registerOnnxExporter, UnsupportedModuleError, type OnnxAttributes, type OnnxExportContext } from './context.js';

function node(ctx: OnnxExportContext, op: string, inputs: readonly string[], base: string, attrs: OnnxAttributes = {}): string {
  const out = ctx.unique(base);
  ctx.addNode(op, inputs, [out], attrs);
  return out;
}

/** `prefix.what` under the module's path. */
function namer(ctx: OnnxExportContext, prefix: string): (what: string) => string {
  const head = [ctx.path, prefix].filter((p) => p !== '').join('.');
  return (what) => (head === '' ? what : `${head}.${what}`);
}

const ints = (ctx: OnnxExportContext, name: string, v: readonly number[]): string => ctx.addConstant(name, v, [v.length], 'int64');
const scalar = (ctx: OnnxExportContext, name: string, v: number): string => ctx.addConstant(name, [v], [], 'float32');

/** The traced shape of `x`, or undefined for an intermediate value the exporter has no shape for. */
function shapeIfKnown(ctx: OnnxExportContext, x: string): readonly number[] | undefined {
  try {
    return ctx.shapeOf(x);
  } catch {
    return undefined;
  }
}

/** [rows, cols] (a slice of rows of `w`) → its transpose [cols, rows] as a constant. */
function transposedRows(ctx: OnnxExportContext, w: Tensor, from: number, to: number, name: string): string {
  const cols = w.shape[1];
  const src = w.dataSync();
  const r = to - from;
  const out = new Array<number>(r * cols);
  for (let i = 0; i < r; i++) for (let j = 0; j < cols; j++) out[j * r + i] = Number(src[(from + i) * cols + j]);
  return ctx.addConstant(name, out, [cols, r], 'float32');
}

function vectorSlice(ctx: OnnxExportContext, b: Tensor, from: number, to: number, name: string): string {
  const src = b.dataSync();
  return ctx.addConstant(name, Array.from(src.subarray(from, to), Number), [to - from], 'float32');
}

/** x·W[from:to]ᵀ + b[from:to] with MatMul and Add (x of any rank ≥ 2). */
function affine(ctx: OnnxExportContext, x: string, w: Tensor, b: Tensor | null, from: number, to: number, name: string): string {
  const y = node(ctx, 'MatMul', [x, transposedRows(ctx, w, from, to, `${name}_weight_t`)], `${name}_matmul`);
  return b === null ? y : node(ctx, 'Add', [y, vectorSlice(ctx, b, from, to, `${name}_bias`)], name);
}

function linear(ctx: OnnxExportContext, layer: Linear, x: string, name: string): string {
  const [out] = layer.weight.shape;
  return affine(ctx, x, layer.weight, layer.bias, 0, out, name);
}

/** LayerNormalization over the last dim (opset 17), or its decomposition before it. */
function layerNorm(ctx: OnnxExportContext, norm: LayerNorm, x: string, name: string): string {
  if (norm.normalizedShape.length !== 1) throw new UnsupportedModuleError(`a Transformer LayerNorm over ${norm.normalizedShape.length} dims is not supported`);
  const d = norm.normalizedShape[0];
  const scale = norm.weight ? ctx.addInitializer(`${name}.weight`, norm.weight) : ctx.addConstant(`${name}.weight`, new Array<number>(d).fill(1), [d], 'float32');
  const bias = norm.bias ? ctx.addInitializer(`${name}.bias`, norm.bias) : ctx.addConstant(`${name}.bias`, new Array<number>(d).fill(0), [d], 'float32');
  if (ctx.opset >= 17) return node(ctx, 'LayerNormalization', [x, scale, bias], name, { axis: -1, epsilon: { type: 'float', value: norm.eps } });
  const mean = (v: string, n: string) => node(ctx, 'ReduceMean', [v], n, { axes: [-1], keepdims: 1 });
  const mu = mean(x, `${name}_mean`);
  const c = node(ctx, 'Sub', [x, mu], `${name}_centered`);
  const v = mean(node(ctx, 'Mul', [c, c], `${name}_sq`), `${name}_var`);
  const std = node(ctx, 'Sqrt', [node(ctx, 'Add', [v, scalar(ctx, `${name}_eps`, norm.eps)], `${name}_var_eps`)], `${name}_std`);
  return node(ctx, 'Add', [node(ctx, 'Mul', [node(ctx, 'Div', [c, std], `${name}_normed`), scale], `${name}_scaled`), bias], name);
}

/** ReduceMin / ReduceMean over `axes`: an attribute up to opset 17, an input from opset 18. */
function reduce(ctx: OnnxExportContext, op: 'ReduceMin' | 'ReduceMean', x: string, axes: readonly number[], keepdims: boolean, name: string): string {
  if (ctx.opset >= 18) return node(ctx, op, [x, ints(ctx, `${name}_axes`, axes)], name, { keepdims: keepdims ? 1 : 0 });
  return node(ctx, op, [x], name, { axes, keepdims: keepdims ? 1 : 0 });
}

/** Mask `scores` with a bool (true → −∞) or additive float mask. */
function applyMask(ctx: OnnxExportContext, scores: string, mask: string, bool: boolean, name: string): string {
  if (bool) return node(ctx, 'Where', [mask, scalar(ctx, `${name}_neg_inf`, -Infinity), scores], name);
  return node(ctx, 'Add', [scores, mask], name);
}

/** How an attention call is made: the value names of its tensors and its flags. */
export interface AttentionCall {
  query: string;
  key: string;
  value: string;
  /** bool (true = masked out) or float (additive) mask, [L, S] or [N·numHeads, L, S]; a graph input or constant */
  attnMask?: string;
  /** bool or float mask [N, S]; a graph input or constant */
  keyPaddingMask?: string;
  /** also hide key j > i from query i; needs `lengths` unless the query and key shapes are traced */
  isCausal?: boolean;
  /** [L, S], for isCausal on values without a traced shape */
  lengths?: readonly [number, number];
  /** write the attention weights too (default true) */
  needWeights?: boolean;
  /** average the weights over the heads (default true) */
  averageAttnWeights?: boolean;
  /** name prefix of the nodes and constants (default '') */
  prefix?: string;
}

const CALL_KEYS = optionKeys<AttentionCall>()(['query', 'key', 'value', 'attnMask', 'keyPaddingMask', 'isCausal', 'lengths', 'needWeights', 'averageAttnWeights', 'prefix']);
/** PyTorch's and Keras's spellings of the masks */
const MASK_ALIASES = {
  attn_mask: 'attnMask', attention_mask: 'attnMask', mask: 'attnMask', key_padding_mask: 'keyPaddingMask', src_mask: 'srcMask', src_key_padding_mask: 'srcKeyPaddingMask',
  tgt_mask: 'tgtMask', memory_mask: 'memoryMask', tgt_key_padding_mask: 'tgtKeyPaddingMask', memory_key_padding_mask: 'memoryKeyPaddingMask', tgt_is_causal: 'tgtIsCausal', is_causal: 'isCausal',
};

/**
 * Write a MultiheadAttention call (3-D inputs in the module's layout). Returns the output, in
 * the query's layout, and the weights ([N, L, S] averaged or [N, numHeads, L, S]) unless
 * needWeights is false.
 */
export function exportMultiheadAttention(ctx: OnnxExportContext, mha: MultiheadAttention, call: AttentionCall): { output: string; weights: string | null } {
  checkOptions('exportMultiheadAttention', call, CALL_KEYS, MASK_ALIASES);
  const n = namer(ctx, call.prefix ?? '');
  const { embedDim: E, numHeads: H, headDim: D } = mha;
  for (const [what, v] of [['query', call.query], ['key', call.key], ['value', call.value]] as const) {
    const s = shapeIfKnown(ctx, v);
    if (s !== undefined && s.length !== 3) throw new UnsupportedModuleError(`expected 3-D ${what} ${mha.batchFirst ? '[N, L, E]' : '[L, N, E]'}, got [${s.join(', ')}]; export unbatched input with a batch dim of 1`);
  }
  const toNLE = (x: string, what: string) => (mha.batchFirst ? x : node(ctx, 'Transpose', [x], n(`${what}_nle`), { perm: [1, 0, 2] }));
  const q0 = toNLE(call.query, 'query');
  const k0 = call.key === call.query ? q0 : toNLE(call.key, 'key');
  const v0 = call.value === call.key ? k0 : toNLE(call.value, 'value');

  // projections: in_proj_weight rows [0, E) for Q, [E, 2E) for K, [2E, 3E) for V
  const b = mha.inProjBias;
  const proj = (x: string, w: Tensor, row: number, what: string) => {
    const y = node(ctx, 'MatMul', [x, transposedRows(ctx, w, w === mha.inProjWeight ? row : 0, w === mha.inProjWeight ? row + E : w.shape[0], n(`${what}_proj_weight_t`))], n(`${what}_proj`));
    return b === null ? y : node(ctx, 'Add', [y, vectorSlice(ctx, b, row, row + E, n(`${what}_proj_bias`))], n(`${what}_proj`));
  };
  const wq = mha.inProjWeight ?? mha.qProjWeight!;
  const wk = mha.inProjWeight ?? mha.kProjWeight!;
  const wv = mha.inProjWeight ?? mha.vProjWeight!;
  const q = proj(q0, wq, 0, 'q');
  const k = proj(k0, wk, E, 'k');
  const v = proj(v0, wv, 2 * E, 'v');

  // heads: [N, L, E] → [N, L, H, D] → [N, H, L, D] (K as [N, H, D, S])
  const split = ints(ctx, n('heads_shape'), [0, 0, H, D]);
  const heads = (x: string, perm: number[], what: string) => node(ctx, 'Transpose', [node(ctx, 'Reshape', [x, split], n(`${what}_split`))], n(`${what}_heads`), { perm });
  const qh = heads(q, [0, 2, 1, 3], 'q');
  const kh = heads(k, [0, 2, 3, 1], 'k');
  const vh = heads(v, [0, 2, 1, 3], 'v');

  let scores = node(ctx, 'Mul', [node(ctx, 'MatMul', [qh, kh], n('qk')), scalar(ctx, n('scale'), 1 / Math.sqrt(D))], n('scores'));
  let masked = false;
  if (call.attnMask !== undefined) {
    const rank = ctx.shapeOf(call.attnMask).length;
    if (rank !== 2 && rank !== 3) throw new UnsupportedModuleError(`attnMask must be [L, S] or [N·numHeads, L, S], got [${ctx.shapeOf(call.attnMask).join(', ')}]`);
    const [L, S] = ctx.shapeOf(call.attnMask).slice(-2);
    const m = rank === 2 ? call.attnMask : node(ctx, 'Reshape', [call.attnMask, ints(ctx, n('attn_mask_shape'), [-1, H, L, S])], n('attn_mask_heads'));
    scores = applyMask(ctx, scores, m, ctx.info(call.attnMask).dtype === 'bool', n('scores_attn_masked'));
    masked = true;
  }
  if (call.keyPaddingMask !== undefined) {
    // [N, S] → [N, 1, 1, S]
    const m = node(ctx, 'Unsqueeze', [call.keyPaddingMask, ints(ctx, n('kpm_axes'), [1, 2])], n('key_padding_mask'));
    scores = applyMask(ctx, scores, m, ctx.info(call.keyPaddingMask).dtype === 'bool', n('scores_padding_masked'));
    masked = true;
  }
  if (call.isCausal) {
    const qs = shapeIfKnown(ctx, call.query);
    const ks = shapeIfKnown(ctx, call.key);
    const seqDim = mha.batchFirst ? 1 : 0;
    const [L, S] = call.lengths ?? (qs && ks ? [qs[seqDim], ks[seqDim]] : [0, 0]);
    if (L === 0) throw new UnsupportedModuleError('isCausal needs the query and key lengths (pass lengths)');
    const values: number[] = [];
    for (let i = 0; i < L; i++) for (let j = 0; j < S; j++) values.push(j > i ? -Infinity : 0);
    scores = node(ctx, 'Add', [scores, ctx.addConstant(n('causal_mask'), values, [L, S], 'float32')], n('scores_causal'));
    masked = true;
  }

  let weights: string;
  if (masked) {
    // rows where every key is −∞: softmax over zeros there, then zero weights (as @ml's forward)
    const isNegInf = node(ctx, 'Cast', [node(ctx, 'IsInf', [scores], n('neg_inf'), { detect_positive: 0 })], n('neg_inf_f'), { to: 1 });
    const empty = node(ctx, 'Cast', [reduce(ctx, 'ReduceMin', isNegInf, [-1], true, n('all_masked_f'))], n('all_masked'), { to: 9 });
    const zero = scalar(ctx, n('zero'), 0);
    const safe = node(ctx, 'Where', [empty, zero, scores], n('scores_safe'));
    weights = node(ctx, 'Where', [empty, zero, node(ctx, 'Softmax', [safe], n('softmax'), { axis: -1 })], n('attn_weights'));
  } else {
    weights = node(ctx, 'Softmax', [scores], n('attn_weights'), { axis: -1 });
  }

  // [N, H, L, D] → [N, L, H, D] → [N, L, E] → out_proj
  const o = node(ctx, 'Reshape', [node(ctx, 'Transpose', [node(ctx, 'MatMul', [weights, vh], n('attn'))], n('attn_t'), { perm: [0, 2, 1, 3] }), ints(ctx, n('merge_shape'), [0, 0, E])], n('attn_merged'));
  let out = linear(ctx, mha.outProj, o, n('out_proj'));
  if (!mha.batchFirst) out = node(ctx, 'Transpose', [out], n('attn_out'), { perm: [1, 0, 2] });
  if (call.needWeights === false) return { output: out, weights: null };
  const w = (call.averageAttnWeights ?? true) ? reduce(ctx, 'ReduceMean', weights, [1], false, n('attn_weights_mean')) : weights;
  return { output: out, weights: w };
}

registerOnnxExporter(MultiheadAttention, (ctx, mha, [query, key, value]) => {
  if (key === undefined || value === undefined) throw new UnsupportedModuleError('MultiheadAttention takes query, key and value');
  const { output, weights } = exportMultiheadAttention(ctx, mha, { query, key, value });
  return [output, weights!];
});

// ------------------------------------------------------------ Transformer layers

/** The feed-forward block's activation by @ml/nn's name; a custom function cannot be exported. */
function activation(ctx: OnnxExportContext, name: string, x: string, base: string): string {
  switch (name) {
    case 'relu':
      return node(ctx, 'Relu', [x], base);
    case 'gelu': {
      // exact GELU: ½·x·(1 + erf(x/√2)); the Gelu op from opset 20
      if (ctx.opset >= 20) return node(ctx, 'Gelu', [x], base);
      const erf = node(ctx, 'Erf', [node(ctx, 'Div', [x, scalar(ctx, `${base}_sqrt2`, Math.SQRT2)], `${base}_scaled`)], `${base}_erf`);
      const onePlus = node(ctx, 'Add', [erf, scalar(ctx, `${base}_one`, 1)], `${base}_1p`);
      return node(ctx, 'Mul', [node(ctx, 'Mul', [x, onePlus], `${base}_x1p`), scalar(ctx, `${base}_half`, 0.5)], base);
    }
    case 'tanh':
      return node(ctx, 'Tanh', [x], base);
    case 'sigmoid':
      return node(ctx, 'Sigmoid', [x], base);
    default:
      throw new UnsupportedModuleError(`the feed-forward activation '${name}' has no ONNX mapping here (relu, gelu, tanh and sigmoid do)`);
  }
}

function feedForward(ctx: OnnxExportContext, layer: TransformerEncoderLayer | TransformerDecoderLayer, x: string, n: (w: string) => string): string {
  const h = activation(ctx, layer.activationName, linear(ctx, layer.linear1, x, n('linear1')), n('activation'));
  return linear(ctx, layer.linear2, h, n('linear2'));
}

/** Masks of an encoder layer's self-attention, as value names (graph inputs or constants). */
export interface EncoderLayerMasks {
  srcMask?: string;
  srcKeyPaddingMask?: string;
  isCausal?: boolean;
  /** [L, L], for isCausal on a value without a traced shape */
  lengths?: readonly [number, number];
  /** name prefix (default '') */
  prefix?: string;
}

const ENCODER_MASK_KEYS = optionKeys<EncoderLayerMasks>()(['srcMask', 'srcKeyPaddingMask', 'isCausal', 'lengths', 'prefix']);

/**
 * Write a TransformerEncoderLayer on `src` (3-D, the layer's layout):
 * post-norm x = norm1(x + SA(x)); x = norm2(x + FF(x)), or pre-norm x = x + SA(norm1(x)); x = x + FF(norm2(x)).
 */
export function exportEncoderLayer(ctx: OnnxExportContext, layer: TransformerEncoderLayer, src: string, masks: EncoderLayerMasks = {}): string {
  checkOptions('exportEncoderLayer', masks, ENCODER_MASK_KEYS, MASK_ALIASES);
  checkBatched(ctx, src, 'src', layer.batchFirst);
  const n = namer(ctx, masks.prefix ?? '');
  const sa = (x: string) =>
    exportMultiheadAttention(ctx, layer.selfAttn, {
      query: x, key: x, value: x, attnMask: masks.srcMask, keyPaddingMask: masks.srcKeyPaddingMask, isCausal: masks.isCausal, lengths: masks.lengths ?? causalLengths(ctx, src, layer.batchFirst), needWeights: false,
      prefix: [masks.prefix, 'self_attn'].filter(Boolean).join('.'),
    }).output;
  const add = (a: string, b: string, what: string) => node(ctx, 'Add', [a, b], n(what));
  let x = src;
  if (layer.normFirst) {
    x = add(x, sa(layerNorm(ctx, layer.norm1, x, n('norm1'))), 'residual1');
    return add(x, feedForward(ctx, layer, layerNorm(ctx, layer.norm2, x, n('norm2')), n), 'residual2');
  }
  x = layerNorm(ctx, layer.norm1, add(x, sa(x), 'residual1'), n('norm1'));
  return layerNorm(ctx, layer.norm2, add(x, feedForward(ctx, layer, x, n), 'residual2'), n('norm2'));
}

/** Refuse an unbatched (2-D) sequence where its traced shape is known. */
function checkBatched(ctx: OnnxExportContext, x: string, what: string, batchFirst: boolean): void {
  const s = shapeIfKnown(ctx, x);
  if (s !== undefined && s.length !== 3) throw new UnsupportedModuleError(`expected 3-D ${what} ${batchFirst ? '[N, L, dModel]' : '[L, N, dModel]'}, got [${s.join(', ')}]; export unbatched input with a batch dim of 1`);
}

/** [L, L] from a traced 3-D sequence, for a causal mask; undefined when its shape is unknown. */
function causalLengths(ctx: OnnxExportContext, x: string, batchFirst: boolean): readonly [number, number] | undefined {
  const s = shapeIfKnown(ctx, x);
  if (s === undefined || s.length !== 3) return undefined;
  const L = s[batchFirst ? 1 : 0];
  return [L, L];
}

/** Masks of a decoder layer, as value names (graph inputs or constants). */
export interface DecoderLayerMasks {
  tgtMask?: string;
  memoryMask?: string;
  tgtKeyPaddingMask?: string;
  memoryKeyPaddingMask?: string;
  tgtIsCausal?: boolean;
  /** [T, T], for tgtIsCausal on a value without a traced shape */
  tgtLengths?: readonly [number, number];
  /** name prefix (default '') */
  prefix?: string;
}

const DECODER_MASK_KEYS = optionKeys<DecoderLayerMasks>()(['tgtMask', 'memoryMask', 'tgtKeyPaddingMask', 'memoryKeyPaddingMask', 'tgtIsCausal', 'tgtLengths', 'prefix']);

/**
 * Write a TransformerDecoderLayer on `tgt` and `memory` (3-D, the layer's layout): masked
 * self-attention, cross-attention to the memory, feed-forward, each with its residual and norm.
 */
export function exportDecoderLayer(ctx: OnnxExportContext, layer: TransformerDecoderLayer, tgt: string, memory: string, masks: DecoderLayerMasks = {}): string {
  checkOptions('exportDecoderLayer', masks, DECODER_MASK_KEYS, MASK_ALIASES);
  checkBatched(ctx, tgt, 'tgt', layer.batchFirst);
  checkBatched(ctx, memory, 'memory', layer.batchFirst);
  const n = namer(ctx, masks.prefix ?? '');
  const sub = (what: string) => [masks.prefix, what].filter(Boolean).join('.');
  const sa = (x: string) =>
    exportMultiheadAttention(ctx, layer.selfAttn, {
      query: x, key: x, value: x, attnMask: masks.tgtMask, keyPaddingMask: masks.tgtKeyPaddingMask, isCausal: masks.tgtIsCausal,
      lengths: masks.tgtLengths ?? causalLengths(ctx, tgt, layer.batchFirst), needWeights: false, prefix: sub('self_attn'),
    }).output;
  const mha = (x: string) =>
    exportMultiheadAttention(ctx, layer.multiheadAttn, {
      query: x, key: memory, value: memory, attnMask: masks.memoryMask, keyPaddingMask: masks.memoryKeyPaddingMask, needWeights: false, prefix: sub('multihead_attn'),
    }).output;
  const add = (a: string, b: string, what: string) => node(ctx, 'Add', [a, b], n(what));
  let x = tgt;
  if (layer.normFirst) {
    x = add(x, sa(layerNorm(ctx, layer.norm1, x, n('norm1'))), 'residual1');
    x = add(x, mha(layerNorm(ctx, layer.norm2, x, n('norm2'))), 'residual2');
    return add(x, feedForward(ctx, layer, layerNorm(ctx, layer.norm3, x, n('norm3')), n), 'residual3');
  }
  x = layerNorm(ctx, layer.norm1, add(x, sa(x), 'residual1'), n('norm1'));
  x = layerNorm(ctx, layer.norm2, add(x, mha(x), 'residual2'), n('norm2'));
  return layerNorm(ctx, layer.norm3, add(x, feedForward(ctx, layer, x, n), 'residual3'), n('norm3'));
}

registerOnnxExporter(TransformerEncoderLayer, (ctx, layer, [src]) => [exportEncoderLayer(ctx, layer, src)]);
registerOnnxExporter(TransformerDecoderLayer, (ctx, layer, [tgt, memory]) => {
  if (memory === undefined) throw new UnsupportedModuleError('TransformerDecoderLayer takes tgt and memory');
  return [exportDecoderLayer(ctx, layer, tgt, memory)];
});

// stacks: each layer (any module) and the final norm through the exporter's own walk
registerOnnxExporter(TransformerEncoder, (ctx, enc, [src]) => {
  let x = src;
  [...enc.layers].forEach((layer, i) => {
    [x] = ctx.exportModule(layer as AnyModule, [x], `layers.${i}`);
  });
  return enc.norm ? ctx.exportModule(enc.norm as AnyModule, [x], 'norm') : [x];
});
registerOnnxExporter(TransformerDecoder, (ctx, dec, [tgt, memory]) => {
  let x = tgt;
  [...dec.layers].forEach((layer, i) => {
    [x] = ctx.exportModule(layer as AnyModule, [x, memory], `layers.${i}`);
  });
  return dec.norm ? ctx.exportModule(dec.norm as AnyModule, [x], 'norm') : [x];
});
registerOnnxExporter(Transformer, (ctx, t, [src, tgt]) => {
  const [memory] = ctx.exportModule(t.encoder as AnyModule, [src], 'encoder');
  return ctx.exportModule(t.decoder as AnyModule, [tgt, memory], 'decoder');
});

// ------------------------------------------------------------ positional encodings

/**
 * Write x + table[:L] for a positional encoding on `x` ([L, N, d], [N, L, d] batch-first, or
 * [L, d]) of traced sequence length L: the sinusoidal table's first L rows as a constant, the
 * learned table through Gather of the positions 0 … L−1 (so the weight stays one initializer).
 */
export function exportPositionalEncoding(ctx: OnnxExportContext, pe: SinusoidalPositionalEncoding | LearnedPositionalEncoding, x: string, seqLen: number, rank: 2 | 3, prefix = ''): string {
  const n = namer(ctx, prefix);
  if (seqLen > pe.maxLen) throw new UnsupportedModuleError(`sequence length ${seqLen} exceeds maxLen=${pe.maxLen}`);
  const d = pe.dModel;
  let rows: string;
  if (pe instanceof SinusoidalPositionalEncoding) {
    const table = pe.pe.dataSync();
    rows = ctx.addConstant(n('pe'), Array.from(table.subarray(0, seqLen * d), Number), [seqLen, d], 'float32');
  } else {
    const positions = ctx.addConstant(n('positions'), Array.from({ length: seqLen }, (_, i) => i), [seqLen], 'int64');
    rows = node(ctx, 'Gather', [ctx.addInitializer(n('weight'), pe.weight), positions], n('pe'), { axis: 0 });
  }
  // time-major [L, N, d]: the rows broadcast over the batch as [L, 1, d]
  if (rank === 3 && !pe.batchFirst) rows = node(ctx, 'Unsqueeze', [rows, ints(ctx, n('pe_axes'), [1])], n('pe_rows'));
  return node(ctx, 'Add', [x, rows], n('with_positions'));
}

for (const cls of [SinusoidalPositionalEncoding, LearnedPositionalEncoding] as const) {
  registerOnnxExporter<SinusoidalPositionalEncoding | LearnedPositionalEncoding>(cls, (ctx, pe, [x]) => {
    const s = ctx.shapeOf(x);
    if (s.length !== 2 && s.length !== 3) throw new UnsupportedModuleError(`expected [L, N, dModel], [N, L, dModel] or [L, dModel], got [${s.join(', ')}]`);
    const L = s.length === 3 && pe.batchFirst ? s[1] : s[0];
    return [exportPositionalEncoding(ctx, pe, x, L, s.length as 2 | 3)];
  });
}
