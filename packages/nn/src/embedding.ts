import { arange, checkOptions, formatShape, indexSelect, isFloat, reshape, tidy, type Tensor, optionKeys } from '@ml/tensor';
import { init, type Initializer, type InitializerName } from './init.js';
import { checkPositiveInt, makeWeight, type LayerOptions } from './linear.js';
import { Module } from './module.js';

export interface EmbeddingOptions extends LayerOptions {
  /** size of the vocabulary */
  numEmbeddings: number;
  embeddingDim: number;
  /** this row stays zero and gets no gradient (e.g. the padding token) */
  paddingIdx?: number;
  /** default N(0, 1), as PyTorch */
  weightInit?: Initializer | InitializerName;
}

const EMBEDDING_KEYS = optionKeys<EmbeddingOptions>()(['numEmbeddings', 'embeddingDim', 'paddingIdx', 'weightInit', 'dtype', 'name']);

/** A lookup table: integer ids [...] → rows of weight [numEmbeddings, embeddingDim], output [..., embeddingDim]. */
export class Embedding extends Module {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly paddingIdx: number | null;
  weight: Tensor;

  constructor(options: EmbeddingOptions) {
    super(options);
    checkOptions('Embedding', options, EMBEDDING_KEYS, { input_dim: 'numEmbeddings', output_dim: 'embeddingDim', inputDim: 'numEmbeddings', outputDim: 'embeddingDim', padding_idx: 'paddingIdx', mask_zero: 'paddingIdx' });
    checkPositiveInt('Embedding', 'numEmbeddings', options.numEmbeddings);
    checkPositiveInt('Embedding', 'embeddingDim', options.embeddingDim);
    this.numEmbeddings = options.numEmbeddings;
    this.embeddingDim = options.embeddingDim;
    let pad = options.paddingIdx ?? null;
    if (pad !== null) {
      if (!Number.isInteger(pad) || pad < -this.numEmbeddings || pad >= this.numEmbeddings) {
        throw new Error(`Embedding: paddingIdx ${pad} is outside [${-this.numEmbeddings}, ${this.numEmbeddings})`);
      }
      if (pad < 0) pad += this.numEmbeddings;
    }
    this.paddingIdx = pad;
    let w = makeWeight([this.numEmbeddings, this.embeddingDim], options.weightInit, init.normal(0, 1), options.dtype);
    if (pad !== null) {
      const src = w;
      const zeroed = tidy(() => src.mul(arange(this.numEmbeddings, undefined, 1, { dtype: src.dtype }).ne(pad).cast(src.dtype).reshape([this.numEmbeddings, 1])));
      w.dispose();
      w = zeroed;
    }
    this.weight = this.registerParameter('weight', w);
  }

  forward(ids: Tensor): Tensor {
    if (isFloat(ids.dtype) || ids.dtype === 'bool') throw new Error(`Embedding: ids must be int32, got ${ids.dtype} ${formatShape(ids.shape)} (cast with ids.int())`);
    let rows = indexSelect(this.weight, 0, reshape(ids, [ids.size]));
    if (this.paddingIdx !== null) {
      // the padding row gets no gradient: multiply its lookups by 0
      const keep = reshape(ids, [ids.size, 1]).ne(this.paddingIdx).cast(rows.dtype);
      rows = rows.mul(keep);
    }
    return reshape(rows, [...ids.shape, this.embeddingDim]);
  }

  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}${this.paddingIdx !== null ? `, paddingIdx=${this.paddingIdx}` : ''}`;
  }
}
