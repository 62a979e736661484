import { checkOptions, optionKeys, concat, formatShape, gruSequence, lstmCell, linear, lstmSequence, narrow, rnnSequence, select, stack, zeros, type Tensor } from '@ml/tensor';
import { dropout } from './dropout.js';
import { fanInUniform, type Initializer, type InitializerName } from './init.js';
import { checkInputShape, checkPositiveInt, lazyPlacement, makeWeight, type LayerOptions } from './linear.js';
import { Module } from './module.js';

/** Activation of the plain (Elman) RNN. */
export type RNNNonlinearity = 'tanh' | 'relu';

type Mode = 'RNN' | 'LSTM' | 'GRU';

/** Rows of the stacked gate weights per hidden unit: W_ih is [gates·H, in]. */
const GATES: Record<Mode, number> = { RNN: 1, LSTM: 4, GRU: 3 };

/** The four weights of one cell (or of one layer and direction of a sequence layer). */
interface CellWeights {
  weightIh: Tensor;
  weightHh: Tensor;
  biasIh: Tensor | null;
  biasHh: Tensor | null;
}

// One time step of each cell. `xp` is the input part x W_ihᵀ + b_ih, computed by the caller
// (a sequence layer computes it for all time steps with one matmul); h and c are [N, H].

/** h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh) */
function rnnStep(xp: Tensor, h: Tensor, w: CellWeights, nonlinearity: RNNNonlinearity): Tensor {
  const pre = xp.add(linear(h, w.weightHh, w.biasHh));
  return nonlinearity === 'tanh' ? pre.tanh() : pre.relu();
}

/**
 * i, f, g, o = split(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)   (PyTorch's gate order)
 * c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g),  h' = σ(o) ⊙ tanh(c')
 * One `lstmCell` op (a fused kernel where the backend has one); `xw` is the input part with
 * both biases, x W_ihᵀ + b_ih + b_hh (see `lstmInput`).
 */
function lstmStep(xw: Tensor, h: Tensor, c: Tensor, w: CellWeights): [Tensor, Tensor] {
  const H = h.shape[1];
  const hc = lstmCell(xw, h, c, w.weightHh); // [N, 2H] = [h' | c']
  return [narrow(hc, 1, 0, H), narrow(hc, 1, H, H)];
}

/** x W_ihᵀ + (b_ih + b_hh): an LSTM or Elman step's input part with the hidden bias folded in (it adds to the same gates). */
function foldedInput(x: Tensor, w: CellWeights): Tensor {
  return linear(x, w.weightIh, w.biasIh && w.biasHh ? w.biasIh.add(w.biasHh) : w.biasIh);
}

/**
 * r = σ(W_ir x + b_ir + W_hr h + b_hr),  z = σ(W_iz x + b_iz + W_hz h + b_hz)
 * n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)),  h' = (1 − z) ⊙ n + z ⊙ h
 * (the reset gate multiplies the hidden part including its bias, as in PyTorch and cuDNN)
 */
function gruStep(xp: Tensor, h: Tensor, w: CellWeights): Tensor {
  const [xr, xz, xn] = xp.chunk(3, -1);
  const [hr, hz, hn] = linear(h, w.weightHh, w.biasHh).chunk(3, -1);
  const r = xr.add(hr).sigmoid();
  const z = xz.add(hz).sigmoid();
  const n = xn.add(r.mul(hn)).tanh();
  return n.sub(z.mul(n)).add(z.mul(h));
}

/** A layer-direction's h_t for every t and its final state (slot L−1, or 0 when it ran in reverse). */
function lastOf(hs: Tensor, reverse: boolean): { y: Tensor; finals: Tensor[] } {
  return { y: hs, finals: [select(hs, 0, reverse ? 0 : hs.shape[0] - 1)] };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Weight initialization and bias switch shared by cells and sequence layers. */
interface RecurrentInitOptions extends LayerOptions {
  /** add the biases b_ih and b_hh (default true) */
  bias?: boolean;
  /** default: PyTorch's U(−1/√hiddenSize, 1/√hiddenSize) */
  weightInit?: Initializer | InitializerName;
  /** default: PyTorch's U(−1/√hiddenSize, 1/√hiddenSize) */
  biasInit?: Initializer | InitializerName;
}

// ------------------------------------------------------------------ cells

export interface RNNCellOptions extends RecurrentInitOptions {
  /** input features; leave it out for a lazy cell that takes them from its first input */
  inputSize?: number;
  hiddenSize: number;
}

const CELL_KEYS = optionKeys<RNNCellOptions>()(['name', 'dtype', 'bias', 'weightInit', 'biasInit', 'inputSize', 'hiddenSize']);
const ELMAN_CELL_KEYS = optionKeys<ElmanCellOptions>()([...CELL_KEYS, 'nonlinearity']);
const RECURRENT_KEYS = optionKeys<RecurrentOptions>()([
  'name', 'dtype', 'bias', 'weightInit', 'biasInit', 'inputSize', 'hiddenSize', 'numLayers', 'batchFirst', 'dropout', 'bidirectional', 'inputShape',
]);
const RNN_KEYS = optionKeys<RNNOptions>()([...RECURRENT_KEYS, 'nonlinearity']);
/** Keras's names that do not camel-case into ours */
const RECURRENT_ALIASES = {
  units: 'hiddenSize', use_bias: 'bias', useBias: 'bias', kernel_initializer: 'weightInit', kernelInitializer: 'weightInit', recurrent_initializer: 'weightInit',
  bias_initializer: 'biasInit', biasInitializer: 'biasInit',
};
const ELMAN_ALIASES = { ...RECURRENT_ALIASES, activation: 'nonlinearity' };

/** Parameters and input checks shared by the three cells. */
abstract class CellBase<I extends unknown[], O> extends Module<I, O> {
  /** null until a lazy cell is built */
  inputSize: number | null = null;
  readonly hiddenSize: number;
  /** undefined until a lazy cell is built */
  weightIh!: Tensor;
  weightHh!: Tensor;
  biasIh: Tensor | null = null;
  biasHh: Tensor | null = null;
  readonly #options: RNNCellOptions;
  readonly #gates: number;
  readonly #kind: string;

  constructor(kind: string, options: RNNCellOptions, gates: number) {
    super(options);
    this.#kind = kind;
    if (options.inputSize !== undefined) checkPositiveInt(kind, 'inputSize', options.inputSize);
    checkPositiveInt(kind, 'hiddenSize', options.hiddenSize);
    this.hiddenSize = options.hiddenSize;
    this.#options = options;
    this.#gates = gates;
    if (options.inputSize === undefined) this.deferBuild('its inputSize comes from the first input');
    else this.#build(options.inputSize, undefined);
  }

  #build(inputSize: number, like: Tensor | undefined): void {
    const o = this.#options;
    const { dtype, backend } = lazyPlacement(o.dtype, like);
    const u = fanInUniform(o.hiddenSize);
    const rows = this.#gates * o.hiddenSize;
    this.inputSize = inputSize;
    this.weightIh = this.registerParameter('weight_ih', makeWeight([rows, inputSize], o.weightInit, u, dtype, backend));
    this.weightHh = this.registerParameter('weight_hh', makeWeight([rows, o.hiddenSize], o.weightInit, u, dtype, backend));
    if (o.bias ?? true) {
      this.biasIh = this.registerParameter('bias_ih', makeWeight([rows], o.biasInit, u, dtype, backend));
      this.biasHh = this.registerParameter('bias_hh', makeWeight([rows], o.biasInit, u, dtype, backend));
    }
    this.markBuilt();
  }

  protected override buildFromShapes(shapes: Readonly<Record<string, readonly number[]>>): string | null {
    const w = shapes.weight_ih;
    const rows = this.#gates * this.hiddenSize;
    if (w === undefined || w.length !== 2 || w[0] !== rows) return `expected a 'weight_ih' of shape [${rows}, inputSize], got ${w === undefined ? 'none' : formatShape(w)}`;
    this.#build(w[1], undefined);
    return null;
  }

  /** The options with a built lazy cell's inferred inputSize. */
  override getConfig(): Record<string, unknown> {
    const config = super.getConfig();
    if (this.inputSize !== null) config.inputSize = this.inputSize;
    return config;
  }

  /** The input as [N, in] (a 1-D input [in] becomes a batch of one) and whether it was 1-D. */
  protected batched(x: Tensor): { x2: Tensor; unbatched: boolean } {
    const kind = this.#kind;
    if (this.inputSize === null && (x.ndim === 1 || x.ndim === 2)) this.#build(x.shape[x.ndim - 1], x);
    if ((x.ndim !== 1 && x.ndim !== 2) || x.shape[x.ndim - 1] !== this.inputSize) {
      throw new Error(`${kind}: expected input [N, ${this.inputSize}] or [${this.inputSize}] (inputSize=${this.inputSize}), got ${formatShape(x.shape)}`);
    }
    return x.ndim === 1 ? { x2: x.unsqueeze(0), unbatched: true } : { x2: x, unbatched: false };
  }

  /** A state (h or c) as [N, H]: zeros when absent, checked against the input otherwise. */
  protected state(name: string, s: Tensor | undefined, x2: Tensor, unbatched: boolean): Tensor {
    const n = x2.shape[0];
    if (s === undefined) return zeros([n, this.hiddenSize], { dtype: x2.dtype, backend: x2.backend.name });
    const expected = unbatched ? [this.hiddenSize] : [n, this.hiddenSize];
    if (!sameShape(s.shape, expected)) {
      throw new Error(`${this.#kind}: ${name} must have shape ${formatShape(expected)} for input ${formatShape(unbatched ? [this.inputSize ?? 0] : x2.shape)}, got ${formatShape(s.shape)}`);
    }
    return unbatched ? s.unsqueeze(0) : s;
  }

  protected get weights(): CellWeights {
    return { weightIh: this.weightIh, weightHh: this.weightHh, biasIh: this.biasIh, biasHh: this.biasHh };
  }

  override extraRepr(): string {
    return `${this.inputSize ?? '? (lazy)'}, ${this.hiddenSize}, bias=${this.#options.bias ?? true}`;
  }
}

export interface ElmanCellOptions extends RNNCellOptions {
  /** default 'tanh' */
  nonlinearity?: RNNNonlinearity;
}

/**
 * One step of an Elman RNN (PyTorch's `nn.RNNCell`):
 *   h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)   (or relu)
 * W_ih [H, in], W_hh [H, H]. forward(x [N, in] or [in], h? [N, H] or [H]) → h'.
 */
export class RNNCell extends CellBase<[Tensor, Tensor?], Tensor> {
  readonly nonlinearity: RNNNonlinearity;

  constructor(options: ElmanCellOptions) {
    checkOptions('RNNCell', options, ELMAN_CELL_KEYS, ELMAN_ALIASES);
    super('RNNCell', options, GATES.RNN);
    this.nonlinearity = checkNonlinearity('RNNCell', options.nonlinearity);
  }

  forward(x: Tensor, h?: Tensor): Tensor {
    const { x2, unbatched } = this.batched(x);
    const h2 = this.state('h', h, x2, unbatched);
    const w = this.weights;
    const h1 = rnnStep(linear(x2, w.weightIh, w.biasIh), h2, w, this.nonlinearity);
    return unbatched ? h1.squeeze(0) : h1;
  }

  override extraRepr(): string {
    return `${super.extraRepr()}, nonlinearity=${this.nonlinearity}`;
  }
}

/**
 * One step of an LSTM (PyTorch's `nn.LSTMCell`), gates in PyTorch's order i, f, g, o:
 *   i = σ(W_ii x + b_ii + W_hi h + b_hi)     input gate
 *   f = σ(W_if x + b_if + W_hf h + b_hf)     forget gate
 *   g = tanh(W_ig x + b_ig + W_hg h + b_hg)  cell candidate
 *   o = σ(W_io x + b_io + W_ho h + b_ho)     output gate
 *   c' = f ⊙ c + i ⊙ g,   h' = o ⊙ tanh(c')
 * W_ih [4H, in], W_hh [4H, H]. forward(x, [h, c]?) → [h', c'].
 */
export class LSTMCell extends CellBase<[Tensor, [Tensor, Tensor]?], [Tensor, Tensor]> {
  constructor(options: RNNCellOptions) {
    checkOptions('LSTMCell', options, CELL_KEYS, RECURRENT_ALIASES);
    super('LSTMCell', options, GATES.LSTM);
  }

  forward(x: Tensor, state?: [Tensor, Tensor]): [Tensor, Tensor] {
    const { x2, unbatched } = this.batched(x);
    const h = this.state('h', state?.[0], x2, unbatched);
    const c = this.state('c', state?.[1], x2, unbatched);
    const w = this.weights;
    const [h1, c1] = lstmStep(foldedInput(x2, w), h, c, w);
    return unbatched ? [h1.squeeze(0), c1.squeeze(0)] : [h1, c1];
  }
}

/**
 * One step of a GRU (PyTorch's `nn.GRUCell`), gates in PyTorch's order r, z, n:
 *   r = σ(W_ir x + b_ir + W_hr h + b_hr)              reset gate
 *   z = σ(W_iz x + b_iz + W_hz h + b_hz)              update gate
 *   n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))     candidate
 *   h' = (1 − z) ⊙ n + z ⊙ h
 * W_ih [3H, in], W_hh [3H, H]. forward(x, h?) → h'.
 */
export class GRUCell extends CellBase<[Tensor, Tensor?], Tensor> {
  constructor(options: RNNCellOptions) {
    checkOptions('GRUCell', options, CELL_KEYS, RECURRENT_ALIASES);
    super('GRUCell', options, GATES.GRU);
  }

  forward(x: Tensor, h?: Tensor): Tensor {
    const { x2, unbatched } = this.batched(x);
    const h2 = this.state('h', h, x2, unbatched);
    const w = this.weights;
    const h1 = gruStep(linear(x2, w.weightIh, w.biasIh), h2, w);
    return unbatched ? h1.squeeze(0) : h1;
  }
}

function checkNonlinearity(kind: string, v: RNNNonlinearity | undefined): RNNNonlinearity {
  const n = v ?? 'tanh';
  if (n !== 'tanh' && n !== 'relu') throw new Error(`${kind}: nonlinearity must be 'tanh' or 'relu', got '${String(n)}'`);
  return n;
}

// ------------------------------------------------------------------ sequence layers

export interface RecurrentOptions extends RecurrentInitOptions {
  /** input features; leave it out for a lazy layer that takes them from its first input's last dim */
  inputSize?: number;
  hiddenSize: number;
  /** stacked layers; layer k > 0 reads layer k−1's output sequence (default 1) */
  numLayers?: number;
  /** input and output as [N, L, features] instead of [L, N, features] (default false); h0/hN are not affected */
  batchFirst?: boolean;
  /** dropout probability on the outputs of every layer but the last, in training only (default 0) */
  dropout?: number;
  /** also run each layer backwards in time and concatenate both outputs (default false) */
  bidirectional?: boolean;
  /** shape of one sample, [L, inputSize] (Keras's `input_shape`): its last dim is inputSize */
  inputShape?: readonly number[];
}

export interface RNNOptions extends RecurrentOptions {
  /** default 'tanh' */
  nonlinearity?: RNNNonlinearity;
}

/**
 * What the three sequence layers share: PyTorch's parameter layout and the unrolled loop.
 *
 * Parameters are registered per layer k and direction as `weight_ih_l{k}`, `weight_hh_l{k}`,
 * `bias_ih_l{k}`, `bias_hh_l{k}`, with the suffix `_reverse` for the backward direction, in
 * PyTorch's order. The TS arrays `weightIh`, `weightHh`, `biasIh`, `biasHh` hold them at
 * index k·D + d (D = 2 when bidirectional, d = 1 for the backward direction).
 *
 * Each layer and direction is one whole-sequence op (lstmSequence, gruSequence,
 * rnnSequence): one graph node whose gradient rule runs backpropagation through time in
 * one pass, a fused kernel where the backend has one. Gradients reach each weight, the
 * input and h0 (and c0).
 */
abstract class RNNBase<I extends unknown[], O> extends Module<I, O> {
  /** null until a lazy layer is built */
  inputSize: number | null = null;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bias: boolean;
  readonly batchFirst: boolean;
  readonly dropout: number;
  readonly bidirectional: boolean;
  readonly weightIh: Tensor[] = [];
  readonly weightHh: Tensor[] = [];
  readonly biasIh: Tensor[] = [];
  readonly biasHh: Tensor[] = [];
  /** shape of one sample, [L, inputSize], when given */
  readonly inputShape: readonly number[] | undefined;
  readonly #options: RecurrentOptions;
  readonly #mode: Mode;
  readonly #kind: string;

  constructor(kind: string, options: RecurrentOptions, mode: Mode) {
    super(options);
    this.#kind = kind;
    if (options.inputSize !== undefined) checkPositiveInt(kind, 'inputSize', options.inputSize);
    checkPositiveInt(kind, 'hiddenSize', options.hiddenSize);
    this.inputShape = checkInputShape(kind, options.inputShape);
    if (this.inputShape !== undefined && this.inputShape.length !== 2) throw new Error(`${kind}: inputShape must be [L, inputSize] (one sample), got [${this.inputShape.join(', ')}]`);
    const fromShape = this.inputShape?.[1];
    if (options.inputSize !== undefined && fromShape !== undefined && fromShape !== options.inputSize) {
      throw new Error(`${kind}: inputSize=${options.inputSize} and inputShape=[${this.inputShape!.join(', ')}] disagree on the input features`);
    }
    checkPositiveInt(kind, 'numLayers', options.numLayers ?? 1);
    const p = options.dropout ?? 0;
    if (!(p >= 0 && p <= 1)) throw new Error(`${kind}: dropout must be in [0, 1], got ${p}`);
    this.hiddenSize = options.hiddenSize;
    this.numLayers = options.numLayers ?? 1;
    this.bias = options.bias ?? true;
    this.batchFirst = options.batchFirst ?? false;
    this.dropout = p;
    this.bidirectional = options.bidirectional ?? false;
    this.#options = options;
    this.#mode = mode;
    const inputSize = options.inputSize ?? fromShape;
    if (inputSize === undefined) this.deferBuild('its inputSize comes from the first input');
    else this.#build(inputSize, undefined);
  }

  #build(inputSize: number, like: Tensor | undefined): void {
    const options = this.#options;
    const { dtype, backend } = lazyPlacement(options.dtype, like);
    this.inputSize = inputSize;
    const u = fanInUniform(this.hiddenSize);
    const rows = GATES[this.#mode] * this.hiddenSize;
    const make = (shape: number[], spec: Initializer | InitializerName | undefined) => makeWeight(shape, spec, u, dtype, backend);
    for (let k = 0; k < this.numLayers; k++) {
      const inSize = k === 0 ? inputSize : this.hiddenSize * this.numDirections;
      for (let d = 0; d < this.numDirections; d++) {
        const suffix = `_l${k}${d === 1 ? '_reverse' : ''}`;
        this.weightIh.push(this.registerParameter(`weight_ih${suffix}`, make([rows, inSize], options.weightInit)));
        this.weightHh.push(this.registerParameter(`weight_hh${suffix}`, make([rows, this.hiddenSize], options.weightInit)));
        if (this.bias) {
          this.biasIh.push(this.registerParameter(`bias_ih${suffix}`, make([rows], options.biasInit)));
          this.biasHh.push(this.registerParameter(`bias_hh${suffix}`, make([rows], options.biasInit)));
        }
      }
    }
    this.markBuilt();
  }

  protected override buildFromShapes(shapes: Readonly<Record<string, readonly number[]>>): string | null {
    const w = shapes.weight_ih_l0;
    const rows = GATES[this.#mode] * this.hiddenSize;
    if (w === undefined || w.length !== 2 || w[0] !== rows) return `expected a 'weight_ih_l0' of shape [${rows}, inputSize], got ${w === undefined ? 'none' : formatShape(w)}`;
    this.#build(w[1], undefined);
    return null;
  }

  /** [L, inputSize] when given and the layer is batch-first (a time-major sample is not one slice of the batch). */
  override expectedInputShape(): readonly number[] | null {
    return this.batchFirst ? (this.inputShape ?? null) : null;
  }

  /** The options with a built lazy layer's inferred inputSize. */
  override getConfig(): Record<string, unknown> {
    const config = super.getConfig();
    if (this.inputSize !== null) config.inputSize = this.inputSize;
    return config;
  }

  /** D: 2 when bidirectional, else 1. */
  get numDirections(): number {
    return this.bidirectional ? 2 : 1;
  }

  /**
   * Run the stack over `x` ([L, N, in], [N, L, in] with batchFirst, or unbatched [L, in]).
   * `init` holds h0 (and c0 for LSTM), each [numLayers·D, N, H] ([numLayers·D, H] unbatched),
   * or undefined for zeros. Returns the last layer's outputs and the final states, shaped
   * like the input and like h0. `input` gives the input part of the gates for all time
   * steps at once from a layer's input as rows [L·N, in] (default x W_ihᵀ + b_ih); `layer`
   * runs one layer-direction over it ([L, N, gates·H]) from its initial states, returning
   * its sequence op's output y [L, N, W] (h_t for every t in columns 0 … H−1) and the
   * final states.
   */
  protected run(
    x: Tensor,
    init: readonly (Tensor | undefined)[],
    names: readonly string[],
    layer: (xp: Tensor, s: Tensor[], w: CellWeights, reverse: boolean) => { y: Tensor; finals: Tensor[] },
    input: (rows: Tensor, w: CellWeights) => Tensor = (rows, w) => linear(rows, w.weightIh, w.biasIh),
  ): { output: Tensor; finals: Tensor[] } {
    const kind = this.#kind;
    const D = this.numDirections;
    const H = this.hiddenSize;
    if (this.inputSize === null && (x.ndim === 2 || x.ndim === 3)) this.#build(x.shape[x.ndim - 1], x);
    if (x.ndim !== 2 && x.ndim !== 3) {
      const layout = this.batchFirst ? '[N, L, inputSize]' : '[L, N, inputSize]';
      throw new Error(`${kind}: expected input ${layout} or unbatched [L, inputSize], got ${formatShape(x.shape)}`);
    }
    if (x.shape[x.ndim - 1] !== this.inputSize) {
      throw new Error(`${kind}: input ${formatShape(x.shape)} has ${x.shape[x.ndim - 1]} features in its last dim, but inputSize is ${this.inputSize}`);
    }
    const unbatched = x.ndim === 2;
    const batchFirst = this.batchFirst && !unbatched;
    // internally [L, N, in]
    const seq = unbatched ? x.unsqueeze(1) : batchFirst ? x.transpose(0, 1) : x;
    const [len, n] = seq.shape;
    if (len === 0) throw new Error(`${kind}: input ${formatShape(x.shape)} has an empty sequence (length 0)`);

    const stateShape = unbatched ? [this.numLayers * D, this.hiddenSize] : [this.numLayers * D, n, this.hiddenSize];
    const states = init.map((s, i) => {
      if (s === undefined) return zeros([this.numLayers * D, n, this.hiddenSize], { dtype: seq.dtype, backend: seq.backend.name });
      if (!sameShape(s.shape, stateShape)) {
        throw new Error(
          `${kind}: ${names[i]} must have shape ${formatShape(stateShape)} (numLayers·numDirections, ${unbatched ? '' : 'batch, '}hiddenSize) for input ${formatShape(x.shape)}, got ${formatShape(s.shape)}`,
        );
      }
      return unbatched ? s.unsqueeze(1) : s;
    });

    // h_t of every step: columns 0 … H−1 of a sequence op's output (a view)
    const hidden = (y: Tensor): Tensor => (y.shape[2] === H ? y : narrow(y, 2, 0, H));
    let layerInput = seq;
    let ys: Tensor[] = [];
    const finals: Tensor[][] = init.map(() => []);
    for (let k = 0; k < this.numLayers; k++) {
      if (k > 0) layerInput = dropout(D === 1 ? hidden(ys[0]) : concat(ys.map(hidden), -1), this.dropout, this.training);
      // The layer's input as rows [L·N, in], time step by time step: a view when its rows
      // are evenly spaced (a time-major input, a previous layer's h_t); a batch-first input
      // is copied once (it is small: `in` values per row). Both directions read it.
      const rows = layerInput.reshape([len * n, layerInput.shape[2]]);
      ys = [];
      for (let d = 0; d < D; d++) {
        const j = k * D + d;
        const w: CellWeights = {
          weightIh: this.weightIh[j],
          weightHh: this.weightHh[j],
          biasIh: this.bias ? this.biasIh[j] : null,
          biasHh: this.bias ? this.biasHh[j] : null,
        };
        // the input part of every gate for all time steps at once: one product [L·N, in]·[in, gates·H]
        const xp = input(rows, w).reshape([len, n, GATES[this.#mode] * H]);
        const r = layer(xp, states.map((st) => st.select(0, j)), w, d === 1);
        ys.push(r.y);
        r.finals.forEach((st, m) => finals[m].push(st));
      }
    }
    // Batch-first: h_t is narrowed from the op's output seen batch-first (the same view as
    // the transpose of the narrow). The narrow's gradient is a zero padding to the op's
    // width: this way it pads the output's gradient as it arrives (contiguous, batch-first)
    // instead of first copying a transposed view of it, and the sequence op reads the
    // padded gradient through the transposed view (its kernels take any step and row strides).
    const outs = ys.map((y) => hidden(batchFirst ? y.transpose(0, 1) : y));
    let output = D === 1 ? outs[0] : concat(outs, -1);
    if (unbatched) output = output.squeeze(1);
    return { output, finals: finals.map((f) => (unbatched ? stack(f, 0).squeeze(1) : stack(f, 0))) };
  }

  override extraRepr(): string {
    const parts = [`${this.inputSize ?? '? (lazy)'}, ${this.hiddenSize}`];
    if (this.numLayers !== 1) parts.push(`numLayers=${this.numLayers}`);
    if (!this.bias) parts.push('bias=false');
    if (this.batchFirst) parts.push('batchFirst=true');
    if (this.dropout !== 0) parts.push(`dropout=${this.dropout}`);
    if (this.bidirectional) parts.push('bidirectional=true');
    return parts.join(', ');
  }
}

/**
 * Multi-layer Elman RNN (PyTorch's `nn.RNN`): at every step of every layer and direction
 *   h_t = tanh(x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh)   (or relu).
 * forward(x, h0?) → [output, hN]: output [L, N, D·H] (or [N, L, D·H] with batchFirst) holds
 * the last layer's h_t for every t (both directions concatenated); hN [numLayers·D, N, H]
 * the final state of every layer and direction (for the backward direction, its state
 * after reading x_0). Unbatched input [L, in] gives output [L, D·H] and hN [numLayers·D, H].
 */
export class RNN extends RNNBase<[Tensor, Tensor?], [Tensor, Tensor]> {
  readonly nonlinearity: RNNNonlinearity;

  constructor(options: RNNOptions) {
    checkOptions('RNN', options, RNN_KEYS, ELMAN_ALIASES);
    super('RNN', options, 'RNN');
    this.nonlinearity = checkNonlinearity('RNN', options.nonlinearity);
  }

  forward(x: Tensor, h0?: Tensor): [Tensor, Tensor] {
    const { output, finals } = this.run(
      x,
      [h0],
      ['h0'],
      (xp, [h], w, reverse) => lastOf(rnnSequence(xp, h, w.weightHh, { reverse, nonlinearity: this.nonlinearity }), reverse),
      foldedInput,
    );
    return [output, finals[0]];
  }

  override extraRepr(): string {
    return this.nonlinearity === 'tanh' ? super.extraRepr() : `${super.extraRepr()}, nonlinearity=${this.nonlinearity}`;
  }
}

/**
 * Multi-layer LSTM (PyTorch's `nn.LSTM`); each step is the `LSTMCell` update (gates i, f, g, o).
 * forward(x, [h0, c0]?) → [output, [hN, cN]], shapes as for `RNN`; cN has hN's shape.
 */
export class LSTM extends RNNBase<[Tensor, [Tensor, Tensor]?], [Tensor, [Tensor, Tensor]]> {
  constructor(options: RecurrentOptions) {
    checkOptions('LSTM', options, RECURRENT_KEYS, RECURRENT_ALIASES);
    super('LSTM', options, 'LSTM');
  }

  forward(x: Tensor, state?: [Tensor, Tensor]): [Tensor, [Tensor, Tensor]] {
    const { output, finals } = this.run(
      x,
      [state?.[0], state?.[1]],
      ['h0', 'c0'],
      (xw, [h, c], w, reverse) => {
        const H = this.hiddenSize;
        const y = lstmSequence(xw, h, c, w.weightHh, { reverse }); // [L, N, 2H] = [h_t | c_t]
        const last = select(y, 0, reverse ? 0 : y.shape[0] - 1);
        return { y, finals: [narrow(last, 1, 0, H), narrow(last, 1, H, H)] };
      },
      foldedInput,
    );
    return [output, [finals[0], finals[1]]];
  }
}

/**
 * Multi-layer GRU (PyTorch's `nn.GRU`); each step is the `GRUCell` update (gates r, z, n).
 * forward(x, h0?) → [output, hN], shapes as for `RNN`.
 */
export class GRU extends RNNBase<[Tensor, Tensor?], [Tensor, Tensor]> {
  constructor(options: RecurrentOptions) {
    checkOptions('GRU', options, RECURRENT_KEYS, RECURRENT_ALIASES);
    super('GRU', options, 'GRU');
  }

  forward(x: Tensor, h0?: Tensor): [Tensor, Tensor] {
    const { output, finals } = this.run(x, [h0], ['h0'], (xp, [h], w, reverse) => lastOf(gruSequence(xp, h, w.weightHh, w.biasHh, { reverse }), reverse));
    return [output, finals[0]];
  }
}
