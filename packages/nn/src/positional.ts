import { cast, checkOptions, formatShape, fromArray, narrow, type Tensor, optionKeys } from '@ml/tensor';
import { dropout } from './dropout.js';
import { init, type Initializer, type InitializerName } from './init.js';
import { checkPositiveInt, makeWeight, type LayerOptions } from './linear.js';
import { Module } from './module.js';

interface PositionalOptions extends LayerOptions {
  /** features per position (the model dim) */
  dModel: number;
  /** longest sequence the table covers */
  maxLen?: number;
  /** dropout after adding the encoding, in training (default 0) */
  dropout?: number;
  /** inputs are [N, L, dModel] instead of [L, N, dModel] (default false); [L, dModel] works either way */
  batchFirst?: boolean;
}

/**
 * x + table[:L] for x of shape [L, N, d], [N, L, d] (batchFirst) or [L, d]: the rows of
 * `table` [maxLen, d] are broadcast over the batch.
 */
function addPositions(kind: string, x: Tensor, table: Tensor, batchFirst: boolean): Tensor {
  const [maxLen, d] = table.shape;
  const seqDim = x.ndim === 3 && batchFirst ? 1 : 0;
  if ((x.ndim !== 2 && x.ndim !== 3) || x.shape[x.ndim - 1] !== d) {
    throw new Error(`${kind}: expected input ${batchFirst ? '[N, L, dModel]' : '[L, N, dModel]'} or [L, dModel] with dModel=${d}, got ${formatShape(x.shape)}`);
  }
  const L = x.shape[seqDim];
  if (L > maxLen) throw new Error(`${kind}: sequence length ${L} (input ${formatShape(x.shape)}) exceeds maxLen=${maxLen}; build the layer with a larger maxLen`);
  let rows = narrow(table, 0, 0, L);
  if (rows.dtype !== x.dtype) rows = cast(rows, x.dtype);
  return x.add(x.ndim === 3 && !batchFirst ? rows.unsqueeze(1) : rows);
}

export interface SinusoidalPositionalEncodingOptions extends PositionalOptions {
  /** default 5000 */
  maxLen?: number;
}

const SINUSOIDAL_KEYS = optionKeys<SinusoidalPositionalEncodingOptions>()(['dModel', 'maxLen', 'dropout', 'batchFirst', 'dtype', 'name']);

/**
 * Fixed sinusoidal positions (Vaswani et al.), added to the input:
 *
 *   PE[pos, 2i] = sin(pos / 10000^(2i/d)),  PE[pos, 2i+1] = cos(pos / 10000^(2i/d))
 *
 * The table is the non-persistent buffer `pe` [maxLen, dModel] (not in the state dict,
 * as it is recomputed from the options). An odd dModel drops the last cosine column.
 */
export class SinusoidalPositionalEncoding extends Module {
  readonly dModel: number;
  readonly maxLen: number;
  readonly dropout: number;
  readonly batchFirst: boolean;
  pe: Tensor;

  constructor(options: SinusoidalPositionalEncodingOptions) {
    super(options);
    checkOptions('SinusoidalPositionalEncoding', options, SINUSOIDAL_KEYS, { max_len: 'maxLen', d_model: 'dModel' });
    checkPositiveInt('SinusoidalPositionalEncoding', 'dModel', options.dModel);
    this.maxLen = options.maxLen ?? 5000;
    checkPositiveInt('SinusoidalPositionalEncoding', 'maxLen', this.maxLen);
    this.dropout = options.dropout ?? 0;
    if (!(this.dropout >= 0 && this.dropout <= 1)) throw new Error(`SinusoidalPositionalEncoding: dropout must be in [0, 1], got ${this.dropout}`);
    this.dModel = options.dModel;
    this.batchFirst = options.batchFirst ?? false;
    const d = this.dModel;
    const values = new Float64Array(this.maxLen * d);
    for (let i = 0; 2 * i < d; i++) {
      const freq = Math.pow(10000, -(2 * i) / d);
      for (let pos = 0; pos < this.maxLen; pos++) {
        values[pos * d + 2 * i] = Math.sin(pos * freq);
        if (2 * i + 1 < d) values[pos * d + 2 * i + 1] = Math.cos(pos * freq);
      }
    }
    this.pe = this.registerBuffer('pe', fromArray(values, [this.maxLen, d], { dtype: options.dtype ?? 'float32' }), { persistent: false });
  }

  forward(x: Tensor): Tensor {
    return dropout(addPositions('SinusoidalPositionalEncoding', x, this.pe, this.batchFirst), this.dropout, this.training);
  }

  override extraRepr(): string {
    return `dModel=${this.dModel}, maxLen=${this.maxLen}, dropout=${this.dropout}, batchFirst=${this.batchFirst}`;
  }
}

export interface LearnedPositionalEncodingOptions extends PositionalOptions {
  /** required: the table has one learned row per position */
  maxLen: number;
  /** default N(0, 1), as PyTorch's Embedding */
  weightInit?: Initializer | InitializerName;
}

const LEARNED_KEYS = optionKeys<LearnedPositionalEncodingOptions>()(['dModel', 'maxLen', 'dropout', 'batchFirst', 'weightInit', 'dtype', 'name']);

/**
 * Learned absolute positions (BERT/GPT-style): a table `weight` [maxLen, dModel], an
 * embedding of the position index, whose first L rows are added to the input.
 */
export class LearnedPositionalEncoding extends Module {
  readonly dModel: number;
  readonly maxLen: number;
  readonly dropout: number;
  readonly batchFirst: boolean;
  weight: Tensor;

  constructor(options: LearnedPositionalEncodingOptions) {
    super(options);
    checkOptions('LearnedPositionalEncoding', options, LEARNED_KEYS, { max_len: 'maxLen', d_model: 'dModel' });
    checkPositiveInt('LearnedPositionalEncoding', 'maxLen', options.maxLen);
    checkPositiveInt('LearnedPositionalEncoding', 'dModel', options.dModel);
    this.dropout = options.dropout ?? 0;
    if (!(this.dropout >= 0 && this.dropout <= 1)) throw new Error(`LearnedPositionalEncoding: dropout must be in [0, 1], got ${this.dropout}`);
    this.maxLen = options.maxLen;
    this.dModel = options.dModel;
    this.batchFirst = options.batchFirst ?? false;
    this.weight = this.registerParameter('weight', makeWeight([this.maxLen, this.dModel], options.weightInit, init.normal(0, 1), options.dtype));
  }

  forward(x: Tensor): Tensor {
    return dropout(addPositions('LearnedPositionalEncoding', x, this.weight, this.batchFirst), this.dropout, this.training);
  }

  override extraRepr(): string {
    return `dModel=${this.dModel}, maxLen=${this.maxLen}, dropout=${this.dropout}, batchFirst=${this.batchFirst}`;
  }
}
