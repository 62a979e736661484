// Every constructor and options-taking function of these layer families rejects a key it
// does not know, naming the public op and our spelling (never an option quietly ignored).
import { manualSeed, randn, tensor, zeros } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import {
  BatchNorm1d,
  BatchNorm2d,
  Dropout,
  EchoStateNetwork,
  Embedding,
  LayerNorm,
  LearnedPositionalEncoding,
  MultiheadAttention,
  SinusoidalPositionalEncoding,
  Transformer,
  TransformerDecoder,
  TransformerDecoderLayer,
  TransformerEncoder,
  TransformerEncoderLayer,
  bandedMask,
  causalMask,
  greedyDecode,
  init,
  paddingMask,
  scaledDotProductAttention,
  spectralRadius,
} from '../src/index.js';

const small = { dModel: 4, nhead: 2, dimFeedforward: 8, dropout: 0 };
const q = () => randn([2, 3, 4]);

const cases: [string, () => unknown, RegExp][] = [
  ['BatchNorm1d', () => new BatchNorm1d({ numFeatures: 3, track_running_stats: false } as never), /BatchNorm1d: unknown option 'track_running_stats'; did you mean 'trackRunningStats'\?/],
  ['BatchNorm2d', () => new BatchNorm2d({ numFeatures: 3, epsilon: 1e-3 } as never), /BatchNorm2d: unknown option 'epsilon'/],
  ['LayerNorm', () => new LayerNorm({ normalizedShape: 4, epsilon: 1e-6 } as never), /LayerNorm: unknown option 'epsilon'; did you mean 'eps'\?/],
  ['Embedding', () => new Embedding({ numEmbeddings: 10, embeddingDim: 4, mask_zero: true } as never), /Embedding: unknown option 'mask_zero'; did you mean 'paddingIdx'\?/],
  ['Embedding Keras', () => new Embedding({ input_dim: 10, embeddingDim: 4 } as never), /did you mean 'numEmbeddings'\?/],
  ['Dropout', () => new Dropout({ rate: 0.2 } as never), /Dropout: unknown option 'rate'; did you mean 'p'\?/],
  ['SinusoidalPositionalEncoding', () => new SinusoidalPositionalEncoding({ dModel: 4, max_len: 10 } as never), /SinusoidalPositionalEncoding: unknown option 'max_len'; did you mean 'maxLen'\?/],
  ['LearnedPositionalEncoding', () => new LearnedPositionalEncoding({ dModel: 4, maxLen: 10, batchfirst: true } as never), /LearnedPositionalEncoding: unknown option 'batchfirst'; did you mean 'batchFirst'\?/],
  ['init.xavierUniform', () => init.xavierUniform({ gian: 2 } as never), /init.xavierUniform: unknown option 'gian'; did you mean 'gain'\?/],
  ['init.kaimingNormal', () => init.kaimingNormal({ negative_slope: 0.1 } as never), /init.kaimingNormal: unknown option 'negative_slope'; did you mean 'a'\?/],
  ['init.kaimingUniform', () => init.kaimingUniform({ mode: 'fanIn', nonlinerity: 'relu' } as never), /did you mean 'nonlinearity'\?/],
  ['init.orthogonal', () => init.orthogonal({ scale: 2 } as never), /init.orthogonal: unknown option 'scale'/],
  ['scaledDotProductAttention', () => scaledDotProductAttention(q(), q(), q(), { mask: causalMask(3) } as never), /scaledDotProductAttention: unknown option 'mask'; did you mean 'attnMask'\?/],
  ['causalMask', () => causalMask(3, 3, { dtype: 'bool' } as never), /causalMask: unknown option 'dtype'/],
  ['bandedMask', () => bandedMask(4, { before: 1, afterr: 1 } as never), /bandedMask: unknown option 'afterr'; did you mean 'after'\?/],
  ['paddingMask', () => paddingMask([1, 2], 3, { device: 'cpu' } as never), /paddingMask: unknown option 'device'/],
  ['MultiheadAttention', () => new MultiheadAttention({ embedDim: 4, num_heads: 2 } as never), /MultiheadAttention: unknown option 'num_heads'; did you mean 'numHeads'\?/],
  ['TransformerEncoderLayer', () => new TransformerEncoderLayer({ ...small, num_heads: 2 } as never), /TransformerEncoderLayer: unknown option 'num_heads'; did you mean 'nhead'\?/],
  ['TransformerDecoderLayer', () => new TransformerDecoderLayer({ ...small, norm_first: true } as never), /TransformerDecoderLayer: unknown option 'norm_first'; did you mean 'normFirst'\?/],
  ['TransformerEncoderLayer.forward', () => new TransformerEncoderLayer({ ...small, batchFirst: true }).forward(q(), { src_key_padding_mask: zeros([2, 3]) } as never), /TransformerEncoderLayer.forward: unknown option 'src_key_padding_mask'; did you mean 'srcKeyPaddingMask'\?/],
  ['TransformerDecoderLayer.forward', () => new TransformerDecoderLayer({ ...small, batchFirst: true }).forward(q(), q(), { tgtCausal: true } as never), /TransformerDecoderLayer.forward: unknown option 'tgtCausal'/],
  ['TransformerEncoder', () => new TransformerEncoder({ encoderLayer: small, num_layers: 2 } as never), /TransformerEncoder: unknown option 'num_layers'; did you mean 'numLayers'\?/],
  ['TransformerEncoder.forward', () => new TransformerEncoder({ encoderLayer: { ...small, batchFirst: true }, numLayers: 1 }).forward(q(), { srcMask: causalMask(3) } as never), /TransformerEncoder.forward: unknown option 'srcMask'; did you mean 'mask'\?/],
  ['TransformerDecoder', () => new TransformerDecoder({ decoderLayer: small, numLayers: 1, finalNorm: null } as never), /TransformerDecoder: unknown option 'finalNorm'/],
  ['TransformerDecoder.forward', () => new TransformerDecoder({ decoderLayer: { ...small, batchFirst: true }, numLayers: 1 }).forward(q(), q(), { tgt_mask: causalMask(3) } as never), /TransformerDecoder.forward: unknown option 'tgt_mask'; did you mean 'tgtMask'\?/],
  ['Transformer', () => new Transformer({ ...small, numEncoderLayers: 1, numDecoderLayers: 1, num_encoder_layers: 1 } as never), /Transformer: unknown option 'num_encoder_layers'; did you mean 'numEncoderLayers'\?/],
  ['greedyDecode', () => greedyDecode({ src: zeros([1, 2]), encode: (s: unknown) => s, decodeStep: () => zeros([1, 3]), startSymbol: 0, maxLen: 2, max_length: 3 } as never), /greedyDecode: unknown option 'max_length'/],
  ['EchoStateNetwork', () => new EchoStateNetwork({ inputSize: 1, reservoirSize: 5, outputSize: 1, leak_rate: 0.5 } as never), /EchoStateNetwork: unknown option 'leak_rate'; did you mean 'leakingRate'\?/],
  ['spectralRadius', () => spectralRadius(tensor([[0.5, 0], [0, 0.2]]), { tolerance: 1e-3 } as never), /spectralRadius: unknown option 'tolerance'/],
];

describe('layer options never fail silently', () => {
  for (const [name, f, msg] of cases) it(`${name} rejects an unknown key`, () => expect(f).toThrow(msg));

  it('Transformer.forward, encode and decode check their own keys', () => {
    const t = new Transformer({ ...small, numEncoderLayers: 1, numDecoderLayers: 1, batchFirst: true });
    const src = q();
    expect(() => t.forward(src, src, { src_mask: causalMask(3) } as never)).toThrow(/Transformer.forward: unknown option 'src_mask'; did you mean 'srcMask'\?/);
    expect(() => t.encode(src, { tgtMask: causalMask(3) } as never)).toThrow(/Transformer.encode: unknown option 'tgtMask'/);
    expect(() => t.decode(src, src, { srcMask: causalMask(3) } as never)).toThrow(/Transformer.decode: unknown option 'srcMask'/);
    // all valid keys together still run
    expect(t.forward(src, src, { srcMask: causalMask(3), tgtIsCausal: true, memoryKeyPaddingMask: paddingMask([3, 2], 3) }).shape).toEqual([2, 3, 4]);
  });

  it('EchoStateNetwork.fit checks its options', () => {
    manualSeed(0);
    const esn = new EchoStateNetwork({ inputSize: 1, reservoirSize: 20, outputSize: 1, connectivity: 0.5 });
    expect(() => esn.fit(randn([1, 6, 1]), randn([1, 6, 1]), { alpha: 1e-3 } as never)).toThrow(/EchoStateNetwork.fit: unknown option 'alpha'; did you mean 'ridge'\?/);
  });

  it('valid options still build (configs round-trip through the same checks)', () => {
    expect(new BatchNorm1d({ numFeatures: 3, eps: 1e-3, momentum: null, affine: false, trackRunningStats: true, name: 'bn' }).name).toBe('bn');
    expect(new Dropout({ p: 0.2 }).p).toBe(0.2);
    expect(new Embedding({ numEmbeddings: 5, embeddingDim: 2, paddingIdx: 0 }).paddingIdx).toBe(0);
  });
});
