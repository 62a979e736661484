import { noGrad } from '@ml/autograd';
import { argmax, checkOptions, concat, formatShape, fromArray, full, gelu, relu, tidy, type DType, type Tensor, optionKeys } from '@ml/tensor';
import { activationByName, type ActivationName } from './activation.js';
import { MultiheadAttention } from './attention.js';
import { ModuleList } from './container.js';
import { Dropout } from './dropout.js';
import { init, initialize_ } from './init.js';
import { checkPositiveInt, Linear, type LayerOptions } from './linear.js';
import { Module, type ModuleOptions } from './module.js';
import { LayerNorm } from './normalization.js';

/** Activation of the feed-forward block: PyTorch's 'relu' or 'gelu', another of `ACTIVATION_NAMES`, or any elementwise function. */
export type TransformerActivation = ActivationName | ((x: Tensor) => Tensor);

/** Options shared by encoder and decoder layers (PyTorch's constructor arguments). */
export interface TransformerLayerOptions extends LayerOptions {
  /** model dim d: features of every token */
  dModel: number;
  /** attention heads (dModel must be divisible by it) */
  nhead: number;
  /** hidden width of the feed-forward block (default 2048) */
  dimFeedforward?: number;
  /** dropout after attention, inside and after the feed-forward block (default 0.1) */
  dropout?: number;
  /** default 'relu' */
  activation?: TransformerActivation;
  /** LayerNorm's ε (default 1e-5) */
  layerNormEps?: number;
  /** inputs are [N, L, d] instead of [L, N, d] (default false) */
  batchFirst?: boolean;
  /** pre-norm (LayerNorm before each block) instead of post-norm (default false) */
  normFirst?: boolean;
}

export type TransformerEncoderLayerOptions = TransformerLayerOptions;
export type TransformerDecoderLayerOptions = TransformerLayerOptions;

export interface TransformerEncoderLayerForwardOptions {
  /** self-attention mask [L, L] or [N·nhead, L, L], bool (true = masked out) or float (additive) */
  srcMask?: Tensor;
  /** [N, L] (or [L] unbatched): true marks padding tokens */
  srcKeyPaddingMask?: Tensor;
  /** hide later tokens (adds a causal mask) */
  isCausal?: boolean;
}

export interface TransformerDecoderLayerForwardOptions {
  /** self-attention mask over the target [T, T] or [N·nhead, T, T] */
  tgtMask?: Tensor;
  /** cross-attention mask [T, S] or [N·nhead, T, S] */
  memoryMask?: Tensor;
  /** [N, T]: true marks padding tokens of the target */
  tgtKeyPaddingMask?: Tensor;
  /** [N, S]: true marks padding tokens of the memory (source) */
  memoryKeyPaddingMask?: Tensor;
  /** hide later target tokens in self-attention (adds a causal mask) */
  tgtIsCausal?: boolean;
  /** add a causal mask to cross-attention too (rarely wanted) */
  memoryIsCausal?: boolean;
}

function resolveActivation(kind: string, a: TransformerActivation | undefined): { fn: (x: Tensor) => Tensor; name: string } {
  if (a === undefined || a === 'relu') return { fn: relu, name: 'relu' };
  if (a === 'gelu') return { fn: (x) => gelu(x), name: 'gelu' };
  if (typeof a === 'function') return { fn: a, name: a.name || 'custom' };
  if (typeof a === 'string') {
    try {
      return { fn: activationByName(a), name: a };
    } catch (e) {
      throw new Error(`${kind}: activation: ${(e as Error).message.replace(/^activationByName: /, '')}`);
    }
  }
  throw new Error(`${kind}: activation must be a name such as 'relu' or 'gelu', or a function, got ${typeof a}`);
}

const LAYER_KEYS = optionKeys<TransformerLayerOptions>()(['dModel', 'nhead', 'dimFeedforward', 'dropout', 'activation', 'layerNormEps', 'batchFirst', 'normFirst', 'dtype', 'name']);
/** Keras's and PyTorch's other spellings that the snake_case → camelCase rule does not reach */
const LAYER_ALIASES = { numHeads: 'nhead', num_heads: 'nhead', embedDim: 'dModel', d_ff: 'dimFeedforward', ffDim: 'dimFeedforward', layer_norm_eps: 'layerNormEps' };
const ENCODER_LAYER_FORWARD_KEYS = optionKeys<TransformerEncoderLayerForwardOptions>()(['srcMask', 'srcKeyPaddingMask', 'isCausal']);
const DECODER_LAYER_FORWARD_KEYS = optionKeys<TransformerDecoderLayerForwardOptions>()(['tgtMask', 'memoryMask', 'tgtKeyPaddingMask', 'memoryKeyPaddingMask', 'tgtIsCausal', 'memoryIsCausal']);
const ENCODER_KEYS = optionKeys<TransformerEncoderOptions>()(['encoderLayer', 'numLayers', 'norm', 'name']);
const ENCODER_FORWARD_KEYS = optionKeys<TransformerEncoderForwardOptions>()(['mask', 'srcKeyPaddingMask', 'isCausal']);
const DECODER_KEYS = optionKeys<TransformerDecoderOptions>()(['decoderLayer', 'numLayers', 'norm', 'name']);
const TRANSFORMER_KEYS = optionKeys<TransformerOptions>()([
  'dModel', 'nhead', 'numEncoderLayers', 'numDecoderLayers', 'dimFeedforward', 'dropout', 'activation', 'layerNormEps', 'batchFirst', 'normFirst', 'dtype', 'name',
]);
const ENCODE_KEYS = ['srcMask', 'srcKeyPaddingMask', 'srcIsCausal'] as const satisfies readonly (keyof TransformerForwardOptions)[];
const TRANSFORMER_FORWARD_KEYS = optionKeys<TransformerForwardOptions>()([
  'srcMask', 'srcKeyPaddingMask', 'srcIsCausal', 'tgtMask', 'memoryMask', 'tgtKeyPaddingMask', 'memoryKeyPaddingMask', 'tgtIsCausal', 'memoryIsCausal',
]);
const MASK_ALIASES = { src_mask: 'srcMask', tgt_mask: 'tgtMask', memory_mask: 'memoryMask', src_key_padding_mask: 'srcKeyPaddingMask', tgt_key_padding_mask: 'tgtKeyPaddingMask', memory_key_padding_mask: 'memoryKeyPaddingMask', tgt_is_causal: 'tgtIsCausal', memory_is_causal: 'memoryIsCausal', is_causal: 'isCausal' };
const GREEDY_KEYS = optionKeys<GreedyDecodeOptions<unknown>>()(['src', 'encode', 'decodeStep', 'startSymbol', 'maxLen', 'endSymbol', 'batchSize']);

/** Checked, defaulted layer options. */
function layerSettings(kind: string, o: TransformerLayerOptions) {
  checkOptions(kind, o, LAYER_KEYS, LAYER_ALIASES);
  checkPositiveInt(kind, 'dModel', o.dModel);
  checkPositiveInt(kind, 'nhead', o.nhead);
  if (o.dModel % o.nhead !== 0) throw new Error(`${kind}: dModel (${o.dModel}) must be divisible by nhead (${o.nhead})`);
  const dimFeedforward = o.dimFeedforward ?? 2048;
  checkPositiveInt(kind, 'dimFeedforward', dimFeedforward);
  const dropout = o.dropout ?? 0.1;
  if (!(dropout >= 0 && dropout <= 1)) throw new Error(`${kind}: dropout must be in [0, 1], got ${dropout}`);
  const eps = o.layerNormEps ?? 1e-5;
  if (!(eps >= 0)) throw new Error(`${kind}: layerNormEps must be ≥ 0, got ${eps}`);
  return { dimFeedforward, dropout, eps, batchFirst: o.batchFirst ?? false, normFirst: o.normFirst ?? false, activation: resolveActivation(kind, o.activation) };
}

/**
 * One encoder block (Vaswani et al.), PyTorch's `nn.TransformerEncoderLayer`:
 *
 *   post-norm (default):  x = norm1(x + SA(x));  x = norm2(x + FF(x))
 *   pre-norm (normFirst): x = x + SA(norm1(x));  x = x + FF(norm2(x))
 *
 * with SA the masked self-attention followed by dropout and FF(x) = dropout(linear2(
 * dropout(act(linear1(x))))). Keys: `self_attn.*`, `linear1`, `linear2`, `norm1`, `norm2`.
 */
export class TransformerEncoderLayer extends Module<[Tensor, TransformerEncoderLayerForwardOptions?], Tensor> {
  readonly dModel: number;
  readonly nhead: number;
  readonly normFirst: boolean;
  readonly batchFirst: boolean;
  readonly activationName: string;
  readonly selfAttn: MultiheadAttention;
  readonly linear1: Linear;
  readonly dropout: Dropout;
  readonly linear2: Linear;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;
  readonly dropout1: Dropout;
  readonly dropout2: Dropout;
  readonly #activation: (x: Tensor) => Tensor;

  constructor(options: TransformerEncoderLayerOptions) {
    super(options);
    const s = layerSettings('TransformerEncoderLayer', options);
    const { dModel, nhead, dtype } = options;
    this.dModel = dModel;
    this.nhead = nhead;
    this.normFirst = s.normFirst;
    this.batchFirst = s.batchFirst;
    this.#activation = s.activation.fn;
    this.activationName = s.activation.name;
    this.selfAttn = this.registerModule('self_attn', new MultiheadAttention({ embedDim: dModel, numHeads: nhead, dropout: s.dropout, batchFirst: s.batchFirst, dtype }));
    this.linear1 = this.registerModule('linear1', new Linear({ inFeatures: dModel, outFeatures: s.dimFeedforward, dtype }));
    this.dropout = this.registerModule('dropout', new Dropout({ p: s.dropout }));
    this.linear2 = this.registerModule('linear2', new Linear({ inFeatures: s.dimFeedforward, outFeatures: dModel, dtype }));
    this.norm1 = this.registerModule('norm1', new LayerNorm({ normalizedShape: dModel, eps: s.eps, dtype }));
    this.norm2 = this.registerModule('norm2', new LayerNorm({ normalizedShape: dModel, eps: s.eps, dtype }));
    this.dropout1 = this.registerModule('dropout1', new Dropout({ p: s.dropout }));
    this.dropout2 = this.registerModule('dropout2', new Dropout({ p: s.dropout }));
  }

  forward(src: Tensor, options: TransformerEncoderLayerForwardOptions = {}): Tensor {
    checkOptions('TransformerEncoderLayer.forward', options, ENCODER_LAYER_FORWARD_KEYS, MASK_ALIASES);
    const sa = (x: Tensor) =>
      this.dropout1.forward(
        this.selfAttn.forward(x, x, x, { attnMask: options.srcMask, keyPaddingMask: options.srcKeyPaddingMask, isCausal: options.isCausal, needWeights: false })[0],
      );
    const ff = (x: Tensor) => this.dropout2.forward(this.linear2.forward(this.dropout.forward(this.#activation(this.linear1.forward(x)))));
    let x = src;
    if (this.normFirst) {
      x = x.add(sa(this.norm1.forward(x)));
      return x.add(ff(this.norm2.forward(x)));
    }
    x = this.norm1.forward(x.add(sa(x)));
    return this.norm2.forward(x.add(ff(x)));
  }

  override extraRepr(): string {
    return `dModel=${this.dModel}, nhead=${this.nhead}, activation=${this.activationName}, normFirst=${this.normFirst}, batchFirst=${this.batchFirst}`;
  }
}

/**
 * One decoder block, PyTorch's `nn.TransformerDecoderLayer`: masked self-attention over
 * the target, cross-attention to the encoder's memory, then the feed-forward block.
 *
 *   post-norm: x = norm1(x + SA(x)); x = norm2(x + MHA(x, mem)); x = norm3(x + FF(x))
 *   pre-norm:  x = x + SA(norm1(x)); x = x + MHA(norm2(x), mem); x = x + FF(norm3(x))
 *
 * Keys: `self_attn.*`, `multihead_attn.*`, `linear1`, `linear2`, `norm1`, `norm2`, `norm3`.
 */
export class TransformerDecoderLayer extends Module<[Tensor, Tensor, TransformerDecoderLayerForwardOptions?], Tensor> {
  readonly dModel: number;
  readonly nhead: number;
  readonly normFirst: boolean;
  readonly batchFirst: boolean;
  readonly activationName: string;
  readonly selfAttn: MultiheadAttention;
  readonly multiheadAttn: MultiheadAttention;
  readonly linear1: Linear;
  readonly dropout: Dropout;
  readonly linear2: Linear;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;
  readonly norm3: LayerNorm;
  readonly dropout1: Dropout;
  readonly dropout2: Dropout;
  readonly dropout3: Dropout;
  readonly #activation: (x: Tensor) => Tensor;

  constructor(options: TransformerDecoderLayerOptions) {
    super(options);
    const s = layerSettings('TransformerDecoderLayer', options);
    const { dModel, nhead, dtype } = options;
    this.dModel = dModel;
    this.nhead = nhead;
    this.normFirst = s.normFirst;
    this.batchFirst = s.batchFirst;
    this.#activation = s.activation.fn;
    this.activationName = s.activation.name;
    const mha = () => new MultiheadAttention({ embedDim: dModel, numHeads: nhead, dropout: s.dropout, batchFirst: s.batchFirst, dtype });
    const norm = () => new LayerNorm({ normalizedShape: dModel, eps: s.eps, dtype });
    this.selfAttn = this.registerModule('self_attn', mha());
    this.multiheadAttn = this.registerModule('multihead_attn', mha());
    this.linear1 = this.registerModule('linear1', new Linear({ inFeatures: dModel, outFeatures: s.dimFeedforward, dtype }));
    this.dropout = this.registerModule('dropout', new Dropout({ p: s.dropout }));
    this.linear2 = this.registerModule('linear2', new Linear({ inFeatures: s.dimFeedforward, outFeatures: dModel, dtype }));
    this.norm1 = this.registerModule('norm1', norm());
    this.norm2 = this.registerModule('norm2', norm());
    this.norm3 = this.registerModule('norm3', norm());
    this.dropout1 = this.registerModule('dropout1', new Dropout({ p: s.dropout }));
    this.dropout2 = this.registerModule('dropout2', new Dropout({ p: s.dropout }));
    this.dropout3 = this.registerModule('dropout3', new Dropout({ p: s.dropout }));
  }

  forward(tgt: Tensor, memory: Tensor, options: TransformerDecoderLayerForwardOptions = {}): Tensor {
    checkOptions('TransformerDecoderLayer.forward', options, DECODER_LAYER_FORWARD_KEYS, MASK_ALIASES);
    const sa = (x: Tensor) =>
      this.dropout1.forward(
        this.selfAttn.forward(x, x, x, { attnMask: options.tgtMask, keyPaddingMask: options.tgtKeyPaddingMask, isCausal: options.tgtIsCausal, needWeights: false })[0],
      );
    const mha = (x: Tensor) =>
      this.dropout2.forward(
        this.multiheadAttn.forward(x, memory, memory, { attnMask: options.memoryMask, keyPaddingMask: options.memoryKeyPaddingMask, isCausal: options.memoryIsCausal, needWeights: false })[0],
      );
    const ff = (x: Tensor) => this.dropout3.forward(this.linear2.forward(this.dropout.forward(this.#activation(this.linear1.forward(x)))));
    let x = tgt;
    if (this.normFirst) {
      x = x.add(sa(this.norm1.forward(x)));
      x = x.add(mha(this.norm2.forward(x)));
      return x.add(ff(this.norm3.forward(x)));
    }
    x = this.norm1.forward(x.add(sa(x)));
    x = this.norm2.forward(x.add(mha(x)));
    return this.norm3.forward(x.add(ff(x)));
  }

  override extraRepr(): string {
    return `dModel=${this.dModel}, nhead=${this.nhead}, activation=${this.activationName}, normFirst=${this.normFirst}, batchFirst=${this.batchFirst}`;
  }
}

// ------------------------------------------------------------------ stacks

/** Anything that can stand in for an encoder layer in a TransformerEncoder. */
export type EncoderLayerModule = Module<[Tensor, TransformerEncoderLayerForwardOptions?], Tensor>;
/** Anything that can stand in for a decoder layer in a TransformerDecoder. */
export type DecoderLayerModule = Module<[Tensor, Tensor, TransformerDecoderLayerForwardOptions?], Tensor>;
/** A final normalization (LayerNorm, usually). */
export type NormModule = Module<[Tensor], Tensor>;

/**
 * numLayers fresh layers from a factory (which must return a new module per call) or
 * from layer options. PyTorch deep-copies one layer instead, so its copies start out
 * identical; fresh layers each get their own initialization.
 */
function buildLayers<M>(kind: string, spec: (() => M) | object, numLayers: number, make: (o: never) => M): M[] {
  checkPositiveInt(kind, 'numLayers', numLayers);
  const layers: M[] = [];
  for (let i = 0; i < numLayers; i++) {
    const layer = typeof spec === 'function' ? (spec as () => M)() : make(spec as never);
    if (layers.includes(layer)) throw new Error(`${kind}: the layer factory returned the same module twice; it must build a new layer on each call`);
    layers.push(layer);
  }
  return layers;
}

export interface TransformerEncoderOptions extends ModuleOptions {
  /** options of each layer, or a factory building one fresh layer per call */
  encoderLayer: TransformerEncoderLayerOptions | (() => EncoderLayerModule);
  numLayers: number;
  /** applied after the last layer (registered as `norm`) */
  norm?: NormModule | null;
}

export interface TransformerEncoderForwardOptions {
  /** self-attention mask of every layer [L, L] or [N·nhead, L, L] */
  mask?: Tensor;
  /** [N, L]: true marks padding tokens */
  srcKeyPaddingMask?: Tensor;
  isCausal?: boolean;
}

/** A stack of encoder layers (`layers.0.*`, `layers.1.*`, …) and an optional final `norm`. */
export class TransformerEncoder extends Module<[Tensor, TransformerEncoderForwardOptions?], Tensor> {
  readonly layers: ModuleList<EncoderLayerModule>;
  readonly norm: NormModule | null = null;

  constructor(options: TransformerEncoderOptions) {
    super(options);
    checkOptions('TransformerEncoder', options, ENCODER_KEYS, { encoder_layer: 'encoderLayer', num_layers: 'numLayers' });
    const layers = buildLayers('TransformerEncoder', options.encoderLayer, options.numLayers, (o: TransformerEncoderLayerOptions) => new TransformerEncoderLayer(o));
    this.layers = this.registerModule('layers', new ModuleList<EncoderLayerModule>(layers));
    if (options.norm) this.norm = this.registerModule('norm', options.norm);
  }

  get numLayers(): number {
    return this.layers.length;
  }

  forward(src: Tensor, options: TransformerEncoderForwardOptions = {}): Tensor {
    checkOptions('TransformerEncoder.forward', options, ENCODER_FORWARD_KEYS, { ...MASK_ALIASES, srcMask: 'mask', src_mask: 'mask' });
    let x = src;
    for (const layer of this.layers) x = layer.forward(x, { srcMask: options.mask, srcKeyPaddingMask: options.srcKeyPaddingMask, isCausal: options.isCausal });
    return this.norm ? this.norm.forward(x) : x;
  }
}

export interface TransformerDecoderOptions extends ModuleOptions {
  /** options of each layer, or a factory building one fresh layer per call */
  decoderLayer: TransformerDecoderLayerOptions | (() => DecoderLayerModule);
  numLayers: number;
  /** applied after the last layer (registered as `norm`) */
  norm?: NormModule | null;
}

/** A stack of decoder layers (`layers.0.*`, …) and an optional final `norm`. */
export class TransformerDecoder extends Module<[Tensor, Tensor, TransformerDecoderLayerForwardOptions?], Tensor> {
  readonly layers: ModuleList<DecoderLayerModule>;
  readonly norm: NormModule | null = null;

  constructor(options: TransformerDecoderOptions) {
    super(options);
    checkOptions('TransformerDecoder', options, DECODER_KEYS, { decoder_layer: 'decoderLayer', num_layers: 'numLayers' });
    const layers = buildLayers('TransformerDecoder', options.decoderLayer, options.numLayers, (o: TransformerDecoderLayerOptions) => new TransformerDecoderLayer(o));
    this.layers = this.registerModule('layers', new ModuleList<DecoderLayerModule>(layers));
    if (options.norm) this.norm = this.registerModule('norm', options.norm);
  }

  get numLayers(): number {
    return this.layers.length;
  }

  forward(tgt: Tensor, memory: Tensor, options: TransformerDecoderLayerForwardOptions = {}): Tensor {
    checkOptions('TransformerDecoder.forward', options, DECODER_LAYER_FORWARD_KEYS, MASK_ALIASES);
    let x = tgt;
    for (const layer of this.layers) x = layer.forward(x, memory, options);
    return this.norm ? this.norm.forward(x) : x;
  }
}

// ------------------------------------------------------------------ Transformer

export interface TransformerOptions extends LayerOptions {
  /** default 512 */
  dModel?: number;
  /** default 8 */
  nhead?: number;
  /** default 6 */
  numEncoderLayers?: number;
  /** default 6 */
  numDecoderLayers?: number;
  /** default 2048 */
  dimFeedforward?: number;
  /** default 0.1 */
  dropout?: number;
  /** default 'relu' */
  activation?: TransformerActivation;
  /** default 1e-5 */
  layerNormEps?: number;
  /** default false: [L, N, d] */
  batchFirst?: boolean;
  /** default false: post-norm */
  normFirst?: boolean;
}

export interface TransformerForwardOptions extends TransformerDecoderLayerForwardOptions {
  /** encoder self-attention mask [S, S] or [N·nhead, S, S] */
  srcMask?: Tensor;
  /** [N, S]: true marks padding tokens of the source (pass it as memoryKeyPaddingMask too, as PyTorch leaves that to you) */
  srcKeyPaddingMask?: Tensor;
  srcIsCausal?: boolean;
}

/**
 * The encoder–decoder Transformer (Vaswani et al.), PyTorch's `nn.Transformer`: an encoder
 * stack with a final LayerNorm (`encoder.*`, `encoder.norm`) and a decoder stack with one
 * (`decoder.*`, `decoder.norm`). All weights with more than one dim are re-initialized
 * with xavier uniform, as PyTorch's `_reset_parameters`. Embeddings, positions and the
 * output projection are left to the caller.
 *
 * src [S, N, d], tgt [T, N, d] (batchFirst: [N, S, d], [N, T, d]; unbatched [S, d], [T, d])
 * → output like tgt.
 */
export class Transformer extends Module<[Tensor, Tensor, TransformerForwardOptions?], Tensor> {
  readonly dModel: number;
  readonly nhead: number;
  readonly batchFirst: boolean;
  readonly encoder: TransformerEncoder;
  readonly decoder: TransformerDecoder;

  constructor(options: TransformerOptions = {}) {
    super(options);
    checkOptions('Transformer', options, TRANSFORMER_KEYS, LAYER_ALIASES);
    const layer: TransformerLayerOptions = {
      dModel: options.dModel ?? 512,
      nhead: options.nhead ?? 8,
      dimFeedforward: options.dimFeedforward ?? 2048,
      dropout: options.dropout ?? 0.1,
      activation: options.activation ?? 'relu',
      layerNormEps: options.layerNormEps ?? 1e-5,
      batchFirst: options.batchFirst ?? false,
      normFirst: options.normFirst ?? false,
      dtype: options.dtype,
    };
    this.dModel = layer.dModel;
    this.nhead = layer.nhead;
    this.batchFirst = layer.batchFirst ?? false;
    const norm = () => new LayerNorm({ normalizedShape: layer.dModel, eps: layer.layerNormEps, dtype: options.dtype });
    this.encoder = this.registerModule('encoder', new TransformerEncoder({ encoderLayer: layer, numLayers: options.numEncoderLayers ?? 6, norm: norm() }));
    this.decoder = this.registerModule('decoder', new TransformerDecoder({ decoderLayer: layer, numLayers: options.numDecoderLayers ?? 6, norm: norm() }));
    for (const p of this.parameters()) if (p.ndim > 1) initialize_(p, init.xavierUniform());
  }

  forward(src: Tensor, tgt: Tensor, options: TransformerForwardOptions = {}): Tensor {
    const b = this.batchFirst ? 0 : 1;
    if (src.ndim !== tgt.ndim || (src.ndim !== 2 && src.ndim !== 3)) {
      throw new Error(`Transformer: src and tgt must both be 3-D (${this.batchFirst ? '[N, S, d], [N, T, d]' : '[S, N, d], [T, N, d]'}) or both 2-D (unbatched), got src ${formatShape(src.shape)}, tgt ${formatShape(tgt.shape)}`);
    }
    if (src.ndim === 3 && src.shape[b] !== tgt.shape[b]) {
      throw new Error(`Transformer: src ${formatShape(src.shape)} and tgt ${formatShape(tgt.shape)} must have the same batch size (dim ${b}${this.batchFirst ? ', batchFirst' : ''})`);
    }
    if (src.shape[src.ndim - 1] !== this.dModel || tgt.shape[tgt.ndim - 1] !== this.dModel) {
      throw new Error(`Transformer: the last dim of src ${formatShape(src.shape)} and tgt ${formatShape(tgt.shape)} must be dModel=${this.dModel}`);
    }
    checkOptions('Transformer.forward', options, TRANSFORMER_FORWARD_KEYS, MASK_ALIASES);
    const { srcMask, srcKeyPaddingMask, srcIsCausal, ...decoding } = options;
    const memory = this.encode(src, { srcMask, srcKeyPaddingMask, srcIsCausal });
    return this.decode(tgt, memory, decoding);
  }

  /** Run the encoder: memory = encoder(src). */
  encode(src: Tensor, options: Pick<TransformerForwardOptions, 'srcMask' | 'srcKeyPaddingMask' | 'srcIsCausal'> = {}): Tensor {
    checkOptions('Transformer.encode', options, ENCODE_KEYS, MASK_ALIASES);
    return this.encoder.forward(src, { mask: options.srcMask, srcKeyPaddingMask: options.srcKeyPaddingMask, isCausal: options.srcIsCausal });
  }

  /** Run the decoder on the target so far and the encoder's memory. */
  decode(tgt: Tensor, memory: Tensor, options: TransformerDecoderLayerForwardOptions = {}): Tensor {
    checkOptions('Transformer.decode', options, DECODER_LAYER_FORWARD_KEYS, MASK_ALIASES);
    const { tgtMask, memoryMask, tgtKeyPaddingMask, memoryKeyPaddingMask, tgtIsCausal, memoryIsCausal } = options;
    return this.decoder.forward(tgt, memory, { tgtMask, memoryMask, tgtKeyPaddingMask, memoryKeyPaddingMask, tgtIsCausal, memoryIsCausal });
  }

  /**
   * Float [L, L] mask with −∞ above the diagonal and 0 elsewhere (PyTorch's
   * `generate_square_subsequent_mask`): position i attends to positions ≤ i.
   */
  static generateSquareSubsequentMask(L: number, options: { dtype?: DType; backend?: string } = {}): Tensor {
    checkOptions('Transformer.generateSquareSubsequentMask', options, ['dtype', 'backend']);
    checkPositiveInt('Transformer.generateSquareSubsequentMask', 'L', L);
    const values = new Float64Array(L * L);
    for (let i = 0; i < L; i++) for (let j = i + 1; j < L; j++) values[i * L + j] = -Infinity;
    return fromArray(values, [L, L], { dtype: options.dtype ?? 'float32', backend: options.backend });
  }

  override extraRepr(): string {
    return `dModel=${this.dModel}, nhead=${this.nhead}, batchFirst=${this.batchFirst}`;
  }
}

// ------------------------------------------------------------------ decoding

export interface GreedyDecodeOptions<M> {
  /** the source, handed to `encode` once */
  src: Tensor;
  /** src → memory (e.g. embed, add positions, `transformer.encode`) */
  encode: (src: Tensor) => M;
  /**
   * Logits [N, vocab] of the next token, given the tokens so far `ys` (int32 [N, t],
   * batch first, starting with startSymbol) and the memory.
   */
  decodeStep: (ys: Tensor, memory: M) => Tensor;
  startSymbol: number;
  /** most tokens to generate after startSymbol */
  maxLen: number;
  /** a sequence stops after producing it; decoding ends when all have */
  endSymbol?: number;
  /** sequences decoded together (default src.shape[0], i.e. a batch-first src) */
  batchSize?: number;
}

/**
 * Greedy autoregressive decoding: start every sequence with startSymbol, append the
 * argmax of the next-token logits until maxLen tokens or endSymbol. Runs without
 * gradients and frees every intermediate tensor; put dropout layers in eval mode first.
 * Returns the generated ids per sequence (without startSymbol, with endSymbol if produced).
 */
export function greedyDecode<M>(options: GreedyDecodeOptions<M>): number[][] {
  checkOptions('greedyDecode', options, GREEDY_KEYS, { start_symbol: 'startSymbol', end_symbol: 'endSymbol', max_len: 'maxLen', decode_step: 'decodeStep' });
  const { src, encode, decodeStep, startSymbol, maxLen, endSymbol } = options;
  if (!Number.isInteger(maxLen) || maxLen < 0) throw new Error(`greedyDecode: maxLen must be a non-negative integer, got ${maxLen}`);
  const N = options.batchSize ?? (src.ndim > 0 ? src.shape[0] : 1);
  checkPositiveInt('greedyDecode', 'batchSize', N);
  return noGrad(() =>
    tidy(() => {
      const memory = encode(src);
      const rows: number[][] = Array.from({ length: N }, () => []);
      const done = new Array<boolean>(N).fill(false);
      let ys = full([N, 1], startSymbol, { dtype: 'int32', backend: src.backend.name });
      for (let t = 0; t < maxLen && !done.every(Boolean); t++) {
        const next = tidy(() => {
          const logits = decodeStep(ys, memory);
          if (logits.ndim !== 2 || logits.shape[0] !== N) {
            throw new Error(`greedyDecode: decodeStep must return logits [N, vocab] with N=${N}, got ${formatShape(logits.shape)}`);
          }
          return argmax(logits, -1).reshape([N, 1]);
        });
        const ids = next.dataSync();
        ys = concat([ys, next], 1);
        for (let n = 0; n < N; n++) {
          if (done[n]) continue;
          rows[n].push(Number(ids[n]));
          if (ids[n] === endSymbol) done[n] = true;
        }
      }
      return rows;
    }),
  );
}
