import { GRU, LSTM, Linear, Module, ReLU, RNN, Sequential, SinusoidalPositionalEncoding, TransformerEncoderLayer } from '@ml/nn';
import type { Tensor } from '@ml/tensor';

export const NEURAL = ['mlp', 'rnn', 'lstm', 'gru', 'transformer'] as const;
export const MODELS = [...NEURAL, 'esn'] as const;
/** The notes' linear model y = b + Σⱼ wⱼ·xⱼ over the window: not in `all`, chosen by name */
export const LINEAR = 'linear';
export type NeuralKind = (typeof NEURAL)[number] | typeof LINEAR;
export type ModelKind = (typeof MODELS)[number] | typeof LINEAR;

/** A recurrent layer over the window, its last output, and a linear head: [N, L] → [N, H]. */
export class RecurrentForecaster extends Module {
  readonly cell: RNN | LSTM | GRU;
  readonly head: Linear;
  constructor(kind: 'rnn' | 'lstm' | 'gru', horizon: number, hidden = 32) {
    super();
    const options = { inputSize: 1, hiddenSize: hidden, batchFirst: true };
    const cell = kind === 'rnn' ? new RNN(options) : kind === 'lstm' ? new LSTM(options) : new GRU(options);
    this.cell = this.registerModule(kind, cell);
    this.head = this.registerModule('head', new Linear({ inFeatures: hidden, outFeatures: horizon }));
  }
  forward(x: Tensor): Tensor {
    const [out] = this.cell.forward(x.unsqueeze(-1));
    const last = out.narrow(1, out.shape[1] - 1, 1).squeeze(1);
    return this.head.forward(last);
  }
}

/**
 * A one-block Transformer encoder over the window: each step embedded by a linear map,
 * sinusoidal positions added, self-attention + feed-forward, the last position's vector
 * mapped to the horizon: [N, L] → [N, H].
 */
export class TransformerForecaster extends Module {
  readonly embed: Linear;
  readonly position: SinusoidalPositionalEncoding;
  readonly encoder: TransformerEncoderLayer;
  readonly head: Linear;
  constructor(lookback: number, horizon: number, dModel = 32) {
    super();
    this.embed = this.registerModule('embed', new Linear({ inFeatures: 1, outFeatures: dModel }));
    this.position = this.registerModule('position', new SinusoidalPositionalEncoding({ dModel, maxLen: lookback, batchFirst: true }));
    this.encoder = this.registerModule('encoder', new TransformerEncoderLayer({ dModel, nhead: 4, dimFeedforward: 64, dropout: 0, batchFirst: true, normFirst: true }));
    this.head = this.registerModule('head', new Linear({ inFeatures: dModel, outFeatures: horizon }));
  }
  forward(x: Tensor): Tensor {
    const h = this.encoder.forward(this.position.forward(this.embed.forward(x.unsqueeze(-1))));
    return this.head.forward(h.narrow(1, h.shape[1] - 1, 1).squeeze(1));
  }
}

export function buildModel(kind: NeuralKind, lookback: number, horizon: number): Module {
  switch (kind) {
    case 'linear':
      // y = b + Σⱼ wⱼ·xⱼ (one output per horizon step)
      return new Sequential([new Linear({ inFeatures: lookback, outFeatures: horizon })]);
    case 'mlp':
      return new Sequential([new Linear({ inFeatures: lookback, outFeatures: 64 }), new ReLU(), new Linear({ inFeatures: 64, outFeatures: 64 }), new ReLU(), new Linear({ inFeatures: 64, outFeatures: horizon })]);
    case 'rnn':
    case 'lstm':
    case 'gru':
      return new RecurrentForecaster(kind, horizon);
    case 'transformer':
      return new TransformerForecaster(lookback, horizon);
  }
}
