import { noGrad } from '@ml/autograd';
import { concat, full, indexSelect, arange, manualSeed, oneHot, randint, randn, tensor, tidy, zerosLike, type NestedArray, type Tensor } from '@ml/tensor';
import { assertClose } from '@ml/tensor/testing';
import { describe, expect, it } from 'vitest';
import { causalMask } from '../src/attention.js';
import { Embedding } from '../src/embedding.js';
import { Linear } from '../src/linear.js';
import type { AnyModule } from '../src/module.js';
import { LayerNorm } from '../src/normalization.js';
import { LearnedPositionalEncoding, SinusoidalPositionalEncoding } from '../src/positional.js';
import {
  greedyDecode,
  Transformer,
  TransformerDecoder,
  TransformerDecoderLayer,
  TransformerEncoder,
  TransformerEncoderLayer,
  type TransformerForwardOptions,
  type TransformerLayerOptions,
} from '../src/transformer.js';
import { f64, fixture, gradcheckLayer, stateOf } from './helpers.js';

interface Case {
  state: Record<string, NestedArray>;
  inputs: Record<string, NestedArray>;
  masks: Record<string, NestedArray>;
  out: NestedArray;
  gy: NestedArray;
  grads: Record<string, NestedArray>;
}

// recorded from PyTorch 1.13 in float64 by test/fixtures/transformer.py
const { cases } = fixture<{ cases: Record<string, Case> }>('transformer');
const TOL = { atol: 1e-10, rtol: 1e-10 };

/** JSON null stands for −∞. */
const withInf = (v: NestedArray | null): NestedArray => (v === null ? -Infinity : Array.isArray(v) ? (v as (NestedArray | null)[]).map(withInf) : v) as NestedArray;
const first = (v: NestedArray): unknown => (Array.isArray(v) ? first(v[0]) : v);
const maskOf = (m: NestedArray): Tensor => (typeof first(m) === 'boolean' ? tensor(m, { dtype: 'bool' }) : f64(withInf(m)));
/** PyTorch's snake_case mask arguments → our option names (`src_key_padding_mask` → `srcKeyPaddingMask`). */
const camel = (s: string): string => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

type Layer = TransformerEncoderLayer | TransformerDecoderLayer | Transformer;

/** Run the layer as PyTorch's forward(*inputs, **masks) would. */
function run(layer: Layer, xs: Tensor[], masks: Record<string, Tensor>): Tensor {
  if (layer instanceof TransformerEncoderLayer) return layer.forward(xs[0], masks);
  if (layer instanceof TransformerDecoderLayer) return layer.forward(xs[0], xs[1], masks);
  return layer.forward(xs[0], xs[1], masks as TransformerForwardOptions);
}

async function matchesPytorch(name: string, layer: Layer): Promise<void> {
  const c = cases[name];
  layer.double().eval();
  layer.loadStateDict(stateOf(c.state));
  expect([...layer.namedParameters()].map(([k]) => k), 'parameter keys in PyTorch order').toEqual(Object.keys(c.state));
  const names = Object.keys(c.inputs);
  const xs = names.map((n) => f64(c.inputs[n]).requiresGrad_());
  const masks = Object.fromEntries(Object.entries(c.masks).map(([k, m]) => [camel(k), maskOf(m)]));
  const out = run(layer, xs, masks);
  await assertClose(out, c.out, { ...TOL, label: `${name} output` });
  out.mul(f64(c.gy)).sum().backward();
  for (const [i, n] of names.entries()) await assertClose(xs[i].grad!, c.grads[n], { ...TOL, label: `${name} gradient of ${n}` });
  for (const [k, p] of layer.namedParameters()) {
    expect(p.grad, `${name}: no gradient reached ${k}`).toBeTruthy();
    await assertClose(p.grad!, c.grads[k], { ...TOL, label: `${name} gradient of ${k}` });
  }
}

const small = { dModel: 6, nhead: 2, dimFeedforward: 8, dropout: 0 } as const;

describe('Transformer layers match PyTorch 1.13 in eval mode (outputs and gradients of inputs and every weight; float64, 1e-10)', () => {
  it('TransformerEncoderLayer post-norm, relu, float srcMask + srcKeyPaddingMask', () => matchesPytorch('enc_post_relu', new TransformerEncoderLayer(small)));
  it('TransformerEncoderLayer post-norm, gelu', () => matchesPytorch('enc_post_gelu', new TransformerEncoderLayer({ ...small, activation: 'gelu' })));
  it('TransformerEncoderLayer pre-norm (normFirst), relu, key padding', () => matchesPytorch('enc_pre_relu', new TransformerEncoderLayer({ ...small, normFirst: true })));
  it('TransformerEncoderLayer pre-norm, gelu, batchFirst, causal bool mask', () =>
    matchesPytorch('enc_pre_gelu', new TransformerEncoderLayer({ ...small, activation: 'gelu', normFirst: true, batchFirst: true })));
  it('TransformerDecoderLayer post-norm, relu, causal tgtMask + memoryKeyPaddingMask', () => matchesPytorch('dec_post_relu', new TransformerDecoderLayer(small)));
  it('TransformerDecoderLayer pre-norm, gelu, batchFirst, tgtKeyPaddingMask + float memoryMask', () =>
    matchesPytorch('dec_pre_gelu', new TransformerDecoderLayer({ ...small, activation: 'gelu', normFirst: true, batchFirst: true })));
  it('Transformer with 2 encoder and 2 decoder layers, final norms, seq2seq masks', () =>
    matchesPytorch('transformer', new Transformer({ ...small, numEncoderLayers: 2, numDecoderLayers: 2 })));
  it('Transformer pre-norm, gelu, batchFirst, 2 encoder + 1 decoder layers', () =>
    matchesPytorch('transformer_pre_gelu_batch_first', new Transformer({ ...small, numEncoderLayers: 2, numDecoderLayers: 1, activation: 'gelu', normFirst: true, batchFirst: true })));
});

describe('gradcheck through Transformer layers (float64, dModel=4, 2 heads, L=3, N=2)', () => {
  const opts: TransformerLayerOptions = { dModel: 4, nhead: 2, dimFeedforward: 6, dropout: 0, dtype: 'float64', activation: 'gelu' };
  it('encoder layer (post-norm) with respect to the input and every weight, causal + padding masks', () => {
    manualSeed(11);
    const layer = new TransformerEncoderLayer(opts);
    const kpm = tensor([[false, false, true], [false, false, false]], { dtype: 'bool' });
    gradcheckLayer(layer as unknown as AnyModule, [randn([3, 2, 4], { dtype: 'float64' })], (x) => layer.forward(x, { srcMask: causalMask(3), srcKeyPaddingMask: kpm }), { atol: 1e-6 });
  });
  it('decoder layer (pre-norm) with respect to target, memory and every weight', () => {
    manualSeed(12);
    const layer = new TransformerDecoderLayer({ ...opts, normFirst: true });
    const tgt = randn([3, 2, 4], { dtype: 'float64' });
    const memory = randn([2, 2, 4], { dtype: 'float64' });
    gradcheckLayer(layer as unknown as AnyModule, [tgt, memory], (t, m) => layer.forward(t, m, { tgtIsCausal: true }), { atol: 1e-6 });
  });
});

describe('causality', () => {
  it('with a causal mask, changing token t+1 leaves outputs at positions ≤ t unchanged (encoder layer and full Transformer)', async () => {
    manualSeed(13);
    const enc = new TransformerEncoderLayer({ ...small, dtype: 'float64' }).eval();
    const model = new Transformer({ ...small, numEncoderLayers: 1, numDecoderLayers: 2, dtype: 'float64' }).eval();
    const src = randn([5, 2, 6], { dtype: 'float64' });
    const x = randn([5, 2, 6], { dtype: 'float64' });
    for (const t of [0, 2, 3]) {
      // change every position after t
      const after = tensor([0, 1, 2, 3, 4].map((i) => (i > t ? 1 : 0)), { dtype: 'float64' }).reshape([5, 1, 1]);
      const x2 = x.add(after.mul(randn([5, 2, 6], { dtype: 'float64' })));
      const pairs: [Tensor, Tensor][] = [
        [enc.forward(x, { isCausal: true }), enc.forward(x2, { isCausal: true })],
        [enc.forward(x, { srcMask: causalMask(5) }), enc.forward(x2, { srcMask: causalMask(5) })],
        [model.forward(src, x, { tgtMask: Transformer.generateSquareSubsequentMask(5, { dtype: 'float64' }) }), model.forward(src, x2, { tgtMask: Transformer.generateSquareSubsequentMask(5, { dtype: 'float64' }) })],
      ];
      for (const [y1, y2] of pairs) {
        await assertClose(y2.narrow(0, 0, t + 1), await y1.narrow(0, 0, t + 1).array(), { atol: 1e-12, rtol: 0 });
        expect(Math.max(...Array.from(y2.narrow(0, t + 1, 1).sub(y1.narrow(0, t + 1, 1)).abs().dataSync()))).toBeGreaterThan(1e-3);
      }
    }
  });
});

describe('encoder/decoder stacks and the Transformer', () => {
  it('TransformerEncoder builds numLayers fresh layers from options or a factory, keys layers.i.* and norm.*', () => {
    const fromOptions = new TransformerEncoder({ encoderLayer: small, numLayers: 2, norm: new LayerNorm({ normalizedShape: 6 }) });
    const keys = Object.keys(fromOptions.stateDict());
    expect(keys.filter((k) => k.startsWith('layers.1.')).length).toBe(12);
    expect(keys.slice(-2)).toEqual(['norm.weight', 'norm.bias']);
    expect(keys).toContain('layers.0.self_attn.in_proj_weight');
    const [a, b] = fromOptions.layers.items as TransformerEncoderLayer[];
    expect(a).not.toBe(b);
    expect(Array.from(a.linear1.weight.dataSync())).not.toEqual(Array.from(b.linear1.weight.dataSync()));
    const fromFactory = new TransformerDecoder({ decoderLayer: () => new TransformerDecoderLayer(small), numLayers: 3 });
    expect(fromFactory.numLayers).toBe(3);
    expect(Object.keys(fromFactory.stateDict())).toContain('layers.2.multihead_attn.out_proj.bias');
    expect(fromFactory.norm).toBeNull();
    const shared = new TransformerEncoderLayer(small);
    expect(() => new TransformerEncoder({ encoderLayer: () => shared, numLayers: 2 })).toThrow(/returned the same module twice/);
    expect(() => new TransformerEncoder({ encoderLayer: small, numLayers: 0 })).toThrow(/numLayers must be a positive integer/);
  });

  it('Transformer has PyTorch’s keys and xavier-uniform weights, encode/decode compose to forward', async () => {
    manualSeed(14);
    const model = new Transformer({ dModel: 8, nhead: 2, numEncoderLayers: 1, numDecoderLayers: 1, dimFeedforward: 16 });
    const keys = Object.keys(model.stateDict());
    expect(keys).toContain('encoder.layers.0.self_attn.in_proj_weight');
    expect(keys).toContain('decoder.layers.0.multihead_attn.in_proj_weight');
    expect(keys).toContain('encoder.norm.weight');
    expect(keys).toContain('decoder.norm.bias');
    // linear1.weight [16, 8]: xavier bound √(6 / 24) = 0.5 exceeds Linear's default bound 1/√8 ≈ 0.354
    const w = Array.from(model.encoder.layers.items[0].stateDict()['linear1.weight'].dataSync());
    const bound = Math.sqrt(6 / (16 + 8));
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(1 / Math.sqrt(8));
    model.eval();
    const src = randn([4, 2, 8]);
    const tgt = randn([3, 2, 8]);
    const mask = Transformer.generateSquareSubsequentMask(3);
    const viaParts = model.decode(tgt, model.encode(src), { tgtMask: mask });
    await assertClose(model.forward(src, tgt, { tgtMask: mask }), await viaParts.array());
    await assertClose(model.forward(src, tgt, { tgtIsCausal: true }), await viaParts.array());
  });

  it('generateSquareSubsequentMask is −∞ above the diagonal and 0 elsewhere', async () => {
    const m = await Transformer.generateSquareSubsequentMask(3).array();
    expect(m).toEqual([[0, -Infinity, -Infinity], [0, 0, -Infinity], [0, 0, 0]]);
  });

  it("takes any of Keras's activation names: 'swish' equals the function x·σ(x)", async () => {
    const opts = { dModel: 4, nhead: 2, dimFeedforward: 6, dropout: 0, dtype: 'float64' as const };
    manualSeed(5);
    const named = new TransformerEncoderLayer({ ...opts, activation: 'swish' });
    const fn = new TransformerEncoderLayer({ ...opts, activation: (x: Tensor) => x.mul(x.sigmoid()) });
    fn.loadStateDict(named.stateDict());
    const x = randn([3, 2, 4], { dtype: 'float64' });
    expect(named.activationName).toBe('swish');
    await assertClose(named.forward(x), await fn.forward(x).array(), { atol: 1e-12 });
  });

  it('rejects bad options and inputs with clear messages', () => {
    expect(() => new TransformerEncoderLayer({ dModel: 6, nhead: 4 })).toThrow(/dModel \(6\) must be divisible by nhead \(4\)/);
    expect(() => new TransformerDecoderLayer({ ...small, activation: 'tahn' as unknown as 'relu' })).toThrow(/TransformerDecoderLayer: activation: unknown activation 'tahn'; did you mean 'tanh'\?/);
    expect(() => new TransformerEncoderLayer({ ...small, dropout: -0.1 })).toThrow(/dropout must be in \[0, 1\]/);
    expect(() => new TransformerEncoderLayer({ ...small, dimFeedforward: 2.5 })).toThrow(/dimFeedforward must be a positive integer/);
    const model = new Transformer({ ...small, numEncoderLayers: 1, numDecoderLayers: 1 });
    expect(() => model.forward(randn([4, 2, 6]), randn([3, 3, 6]))).toThrow(/must have the same batch size \(dim 1\)/);
    expect(() => model.forward(randn([4, 2, 5]), randn([3, 2, 5]))).toThrow(/must be dModel=6/);
    expect(() => model.forward(randn([4, 2, 6]), randn([3, 2, 6]), { tgtMask: causalMask(4) })).toThrow(/attnMask must have shape \[L, S\] = \[3,3\]/);
  });
});

describe('positional encodings', () => {
  it('sinusoidal: PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(…), added to the input', async () => {
    const d = 6;
    const pe = new SinusoidalPositionalEncoding({ dModel: d, maxLen: 50, dtype: 'float64' });
    const table = (await pe.pe.array()) as number[][];
    for (const pos of [0, 1, 7, 49]) {
      for (let i = 0; i < d / 2; i++) {
        expect(table[pos][2 * i]).toBeCloseTo(Math.sin(pos / Math.pow(10000, (2 * i) / d)), 14);
        expect(table[pos][2 * i + 1]).toBeCloseTo(Math.cos(pos / Math.pow(10000, (2 * i) / d)), 14);
      }
    }
    expect(table[3][0]).toBeCloseTo(Math.sin(3), 14); // i = 0: frequency 1
    expect(Object.keys(pe.stateDict())).toEqual([]); // non-persistent buffer
    expect([...pe.namedBuffers()].map(([k]) => k)).toEqual(['pe']);
    // [L, N, d]: the same row is added to every batch element
    const x = randn([4, 3, d], { dtype: 'float64' });
    const y = pe.forward(x);
    await assertClose(y.sub(x).select(1, 2), table.slice(0, 4), { atol: 1e-12 });
    const bf = new SinusoidalPositionalEncoding({ dModel: d, maxLen: 50, batchFirst: true, dtype: 'float64' });
    await assertClose(bf.forward(zerosLike(x)).select(0, 1), table.slice(0, 3), { atol: 1e-12 });
    expect(() => pe.forward(randn([51, 1, d]))).toThrow(/sequence length 51 .* exceeds maxLen=50/);
    expect(() => pe.forward(randn([4, 1, 5]))).toThrow(/dModel=6/);
  });

  it('learned: a weight [maxLen, dModel] parameter, N(0, 1) initialized, whose first L rows are added', async () => {
    manualSeed(15);
    const lp = new LearnedPositionalEncoding({ maxLen: 64, dModel: 16, batchFirst: true });
    expect(Object.fromEntries(Object.entries(lp.stateDict()).map(([k, t]) => [k, t.shape]))).toEqual({ weight: [64, 16] });
    const w = Array.from(lp.weight.dataSync());
    const mean = w.reduce((a, b) => a + b, 0) / w.length;
    const sd = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / w.length);
    expect(Math.abs(mean)).toBeLessThan(0.1);
    expect(Math.abs(sd - 1)).toBeLessThan(0.1);
    const x = randn([2, 5, 16]);
    await assertClose(lp.forward(x).sub(x).select(0, 1), await lp.weight.narrow(0, 0, 5).array());
    const y = lp.forward(x);
    y.sum().backward();
    const g = (await lp.weight.grad!.array()) as number[][];
    expect(g[4][0]).toBe(2); // used by both batch elements
    expect(g[5][0]).toBe(0); // beyond the sequence
    expect(() => lp.forward(randn([2, 65, 16]))).toThrow(/exceeds maxLen=64/);
  });
});

describe('greedy decoding of a trained toy seq2seq Transformer', () => {
  it('learns to reverse 5-digit sequences in 100 Adam steps; greedy decoding gets ≥ 90% of 50 held-out sequences and ≥ 97% of their digits right', () => {
    manualSeed(16);
    const V = 10; // digits
    const BOS = 10;
    const T = 5;
    const d = 16;
    const B = 32;
    const emb = new Embedding({ numEmbeddings: V + 1, embeddingDim: d });
    const pos = new SinusoidalPositionalEncoding({ dModel: d, maxLen: 16, batchFirst: true });
    const model = new Transformer({ dModel: d, nhead: 2, numEncoderLayers: 1, numDecoderLayers: 1, dimFeedforward: 32, dropout: 0, batchFirst: true });
    const generator = new Linear({ inFeatures: d, outFeatures: V });
    const params = [...emb.parameters(), ...model.parameters(), ...generator.parameters()];
    // no √d scaling of the N(0, 1) embeddings: it would drown the ±1 positions
    const embed = (ids: Tensor) => pos.forward(emb.forward(ids));
    const reverse = (x: Tensor) => indexSelect(x, 1, arange(T - 1, -1, -1, { dtype: 'int32' }));

    // Adam (β = 0.9, 0.98), written out
    const lr = 0.015;
    const [b1, b2, eps] = [0.9, 0.98, 1e-9];
    const m = params.map((p) => zerosLike(p).keep());
    const v = params.map((p) => zerosLike(p).keep());
    let loss = Infinity;
    for (let step = 1; step <= 100; step++) {
      loss = tidy(() => {
        const src = randint(0, V, [B, T]);
        const tgt = reverse(src);
        const tgtIn = concat([full([B, 1], BOS, { dtype: 'int32' }), tgt.narrow(1, 0, T - 1)], 1);
        const h = model.forward(embed(src), embed(tgtIn), { tgtIsCausal: true });
        const logp = generator.forward(h).logSoftmax(-1);
        const l = logp.mul(oneHot(tgt, V)).sum().div(-B * T);
        for (const p of params) p.grad = null;
        l.backward();
        noGrad(() => {
          params.forEach((p, i) => {
            const g = p.grad!;
            m[i].assign(m[i].mul(b1).add(g.mul(1 - b1)));
            v[i].assign(v[i].mul(b2).add(g.mul(g).mul(1 - b2)));
            const mh = m[i].div(1 - b1 ** step);
            const vh = v[i].div(1 - b2 ** step);
            p.assign(p.sub(mh.mul(lr).div(vh.sqrt().add(eps))));
          });
        });
        return l.item();
      });
    }
    expect(loss).toBeLessThan(0.15);

    model.eval();
    const src = randint(0, V, [50, T]);
    const want = reverse(src).arraySync() as number[][];
    const got = greedyDecode({
      src,
      encode: (s) => model.encode(embed(s)),
      decodeStep: (ys, memory) => {
        const h = model.decode(embed(ys), memory, { tgtIsCausal: true });
        return generator.forward(h.select(1, ys.shape[1] - 1));
      },
      startSymbol: BOS,
      maxLen: T,
    });
    expect(got.map((r) => r.length)).toEqual(new Array(50).fill(T));
    const exact = got.filter((r, i) => r.every((t, j) => t === want[i][j])).length / 50;
    const digits = got.flatMap((r, i) => r.map((t, j) => (t === want[i][j] ? 1 : 0))).reduce((a: number, b: number) => a + b, 0) / (50 * T);
    expect(exact).toBeGreaterThanOrEqual(0.9);
    expect(digits).toBeGreaterThanOrEqual(0.97);
  });

  it('greedyDecode stops a sequence at endSymbol and ends when all have stopped', () => {
    // a fake model: next token = (last token + 1) mod 5, as one-hot logits; end symbol 4
    const calls: number[] = [];
    const got = greedyDecode({
      src: tensor([[0], [0]], { dtype: 'float32' }),
      encode: () => null,
      decodeStep: (ys) => {
        calls.push(ys.shape[1]);
        const rows = ys.arraySync() as number[][];
        return oneHot(tensor(rows.map((r) => (r[r.length - 1] + 1) % 5), { dtype: 'int32' }), 5);
      },
      startSymbol: 1,
      maxLen: 10,
      endSymbol: 4,
      batchSize: 2,
    });
    expect(got).toEqual([[2, 3, 4], [2, 3, 4]]);
    expect(calls).toEqual([1, 2, 3]);
  });
});

describe('Transformer layers save and load as architectures', () => {
  it('TransformerEncoderLayer, TransformerDecoderLayer and Transformer rebuild from their configs with the same outputs', async () => {
    const { moduleFromConfig, moduleToConfig } = await import('../src/serialize.js');
    manualSeed(12);
    const opts = { dModel: 8, nhead: 2, dimFeedforward: 16, dropout: 0, batchFirst: true };
    const src = randn([2, 5, 8]);
    const tgt = randn([2, 3, 8]);
    const cases: [AnyModule, (m: AnyModule) => Tensor][] = [
      [new TransformerEncoderLayer({ ...opts, normFirst: true, activation: 'gelu' }), (m) => (m as TransformerEncoderLayer).forward(src)],
      [new TransformerDecoderLayer(opts), (m) => (m as TransformerDecoderLayer).forward(tgt, src)],
      [new Transformer({ ...opts, numEncoderLayers: 2, numDecoderLayers: 1 }), (m) => (m as Transformer).forward(src, tgt)],
    ];
    for (const [m, run] of cases) {
      const copy = moduleFromConfig(JSON.parse(JSON.stringify(moduleToConfig(m))));
      expect(copy.constructor).toBe(m.constructor);
      copy.loadStateDict(m.stateDict());
      m.eval();
      copy.eval();
      expect(await run(copy).data()).toEqual(await run(m).data());
    }
  });
});
