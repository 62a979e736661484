// MultiheadAttention, the Transformer layers and stacks and the positional encodings exported to
// ONNX (MatMul/Reshape/Transpose/Softmax…), run in ONNX Runtime (CPU) and compared with @ml's
// forward: |ort − ml| ≤ 1e-5·max(1, |ml|) elementwise in float32, on every output. Traced at
// batch 2, run at batch 2 and, where the batch is dim 0 of every input, at batch 3. Masks are
// graph inputs (bool or float, random, with fully masked rows) or constants.
import { noGrad } from '@ml/autograd';
import {
  LearnedPositionalEncoding, Module, MultiheadAttention, SinusoidalPositionalEncoding, Transformer, TransformerDecoderLayer, TransformerEncoder, TransformerEncoderLayer,
  type AnyModule, type MultiheadAttentionOptions, type TransformerLayerOptions,
} from '@ml/nn';
import { fromArray, manualSeed, rand, randn, type DType, type Tensor } from '@ml/tensor';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { exportDecoderLayer, exportEncoderLayer, exportMultiheadAttention, exportOnnx, registerOnnxExporter } from '../src/index.js';
import { onnx } from '../src/proto.js';
import { expectClose } from './helpers.js';

const E = 8;
const HEADS = 2;

/** ONNX Runtime on float32 and bool inputs. */
async function run(bytes: Uint8Array, feeds: Record<string, Tensor>): Promise<Record<string, { data: Float32Array; dims: readonly number[] }>> {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled' });
  try {
    const inputs: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) {
      inputs[name] = t.dtype === 'bool' ? new ort.Tensor('bool', Uint8Array.from(t.dataSync()), [...t.shape]) : new ort.Tensor('float32', Float32Array.from(t.dataSync()), [...t.shape]);
    }
    const out = await session.run(inputs);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, { data: Float32Array.from(v.data as Float32Array), dims: v.dims }]));
  } finally {
    await session.release();
  }
}

/** A bool mask with about `p` of its entries true, and row 0 fully true (a query that sees no key). */
function boolMask(shape: number[], p: number): Tensor {
  const u = rand(shape).dataSync();
  const last = shape[shape.length - 1];
  const v = Uint8Array.from(u, (x, i) => (i < last || x < p ? 1 : 0));
  return fromArray(v, shape, { dtype: 'bool' });
}

/** A float additive mask: 0 or −∞ at random, and −1.5 elsewhere in places. */
function floatMask(shape: number[]): Tensor {
  const u = rand(shape).dataSync();
  return fromArray(Float32Array.from(u, (x) => (x < 0.25 ? -Infinity : x < 0.5 ? -1.5 : 0)), shape);
}

// ------------------------------------------------------------ wrappers: masks as tensors

/** Self-attention x → mha(x, x, x): one projection input for Q, K and V. */
class SelfAttention extends Module<[Tensor], Tensor[]> {
  readonly mha: MultiheadAttention;
  constructor(o: MultiheadAttentionOptions) {
    super();
    this.mha = this.registerModule('mha', new MultiheadAttention(o));
  }
  forward(x: Tensor): Tensor[] {
    const [out, w] = this.mha.forward(x, x, x);
    return [out, w!];
  }
}
registerOnnxExporter(SelfAttention, (ctx, m, [x]) => {
  const { output, weights } = exportMultiheadAttention(ctx, m.mha, { query: x, key: x, value: x, prefix: 'mha' });
  return [output, weights!];
});

/** Attention with attnMask and keyPaddingMask as graph inputs, and options fixed at build time. */
class MaskedAttention extends Module<[Tensor, Tensor, Tensor, Tensor, Tensor], Tensor[]> {
  readonly mha: MultiheadAttention;
  constructor(o: MultiheadAttentionOptions, readonly flags: { isCausal?: boolean; needWeights?: boolean; averageAttnWeights?: boolean }) {
    super();
    this.mha = this.registerModule('mha', new MultiheadAttention(o));
  }
  forward(q: Tensor, k: Tensor, v: Tensor, attnMask: Tensor, keyPaddingMask: Tensor): Tensor[] {
    const [out, w] = this.mha.forward(q, k, v, { attnMask, keyPaddingMask, ...this.flags });
    return w === null ? [out] : [out, w];
  }
}
registerOnnxExporter(MaskedAttention, (ctx, m, [query, key, value, attnMask, keyPaddingMask]) => {
  const { output, weights } = exportMultiheadAttention(ctx, m.mha, { query, key, value, attnMask, keyPaddingMask, ...m.flags, prefix: 'mha' });
  return weights === null ? [output] : [output, weights];
});

/** Self-attention with a constant float mask (a buffer, written as an initializer) and isCausal. */
class ConstantMaskAttention extends Module<[Tensor], Tensor[]> {
  readonly mha: MultiheadAttention;
  readonly mask: Tensor;
  constructor(o: MultiheadAttentionOptions, L: number) {
    super();
    this.mha = this.registerModule('mha', new MultiheadAttention(o));
    this.mask = floatMask([L, L]);
  }
  forward(x: Tensor): Tensor[] {
    const [out, w] = this.mha.forward(x, x, x, { attnMask: this.mask, isCausal: true, averageAttnWeights: false });
    return [out, w!];
  }
}
registerOnnxExporter(ConstantMaskAttention, (ctx, m, [x]) => {
  const mask = ctx.addInitializer('mask', m.mask);
  const { output, weights } = exportMultiheadAttention(ctx, m.mha, { query: x, key: x, value: x, attnMask: mask, isCausal: true, averageAttnWeights: false, prefix: 'mha' });
  return [output, weights!];
});

/** An encoder layer with srcKeyPaddingMask as a graph input and a causal mask. */
class MaskedEncoderLayer extends Module<[Tensor, Tensor], Tensor> {
  readonly layer: TransformerEncoderLayer;
  constructor(o: TransformerLayerOptions) {
    super();
    this.layer = this.registerModule('layer', new TransformerEncoderLayer(o));
  }
  forward(src: Tensor, padding: Tensor): Tensor {
    return this.layer.forward(src, { srcKeyPaddingMask: padding, isCausal: true });
  }
}
registerOnnxExporter(MaskedEncoderLayer, (ctx, m, [src, padding]) => [exportEncoderLayer(ctx, m.layer, src, { srcKeyPaddingMask: padding, isCausal: true, prefix: 'layer' })]);

/** A decoder layer with a float tgtMask and a bool memoryKeyPaddingMask as graph inputs, causal self-attention. */
class MaskedDecoderLayer extends Module<[Tensor, Tensor, Tensor, Tensor], Tensor> {
  readonly layer: TransformerDecoderLayer;
  constructor(o: TransformerLayerOptions) {
    super();
    this.layer = this.registerModule('layer', new TransformerDecoderLayer(o));
  }
  forward(tgt: Tensor, memory: Tensor, tgtMask: Tensor, memoryPadding: Tensor): Tensor {
    return this.layer.forward(tgt, memory, { tgtMask, memoryKeyPaddingMask: memoryPadding, tgtIsCausal: true });
  }
}
registerOnnxExporter(MaskedDecoderLayer, (ctx, m, [tgt, memory, tgtMask, memoryPadding]) => [
  exportDecoderLayer(ctx, m.layer, tgt, memory, { tgtMask, memoryKeyPaddingMask: memoryPadding, tgtIsCausal: true, prefix: 'layer' }),
]);

// ------------------------------------------------------------ cases

interface Input {
  shape: (n: number) => number[];
  dtype?: DType;
  /** values at batch n (default randn) */
  make?: (n: number) => Tensor;
}

interface Case {
  title: string;
  build: () => AnyModule;
  inputs: readonly Input[];
  ops?: readonly string[];
}

const L = 5;
const S = 6;
const layer = (o: Partial<TransformerLayerOptions> = {}): TransformerLayerOptions => ({ dModel: E, nhead: HEADS, dimFeedforward: 16, ...o });
const seq = (len: number, batchFirst: boolean) => (n: number) => (batchFirst ? [n, len, E] : [len, n, E]);
const x = (len: number, batchFirst: boolean): Input => ({ shape: seq(len, batchFirst) });

const CASES: Case[] = [
  { title: 'MultiheadAttention, time-major, query/key/value apart', build: () => new MultiheadAttention({ embedDim: E, numHeads: HEADS }), inputs: [x(L, false), x(S, false), x(S, false)], ops: ['Softmax', 'MatMul'] },
  { title: 'MultiheadAttention, batchFirst', build: () => new MultiheadAttention({ embedDim: E, numHeads: HEADS, batchFirst: true }), inputs: [x(L, true), x(S, true), x(S, true)] },
  {
    title: 'MultiheadAttention, kdim/vdim, no bias, batchFirst',
    build: () => new MultiheadAttention({ embedDim: E, numHeads: 4, kdim: 3, vdim: 5, bias: false, batchFirst: true }),
    inputs: [x(L, true), { shape: (n) => [n, S, 3] }, { shape: (n) => [n, S, 5] }],
  },
  { title: 'self-attention (one input for Q, K, V)', build: () => new SelfAttention({ embedDim: E, numHeads: HEADS, batchFirst: true }), inputs: [x(L, true)] },
  {
    title: 'bool attnMask [L, S] and keyPaddingMask [N, S] as graph inputs, fully masked rows',
    build: () => new MaskedAttention({ embedDim: E, numHeads: HEADS, batchFirst: true }, {}),
    inputs: [x(L, true), x(S, true), x(S, true), { shape: () => [L, S], dtype: 'bool', make: () => boolMask([L, S], 0.3) }, { shape: (n) => [n, S], dtype: 'bool', make: (n) => boolMask([n, S], 0.3) }],
    ops: ['Where', 'IsInf'],
  },
  {
    title: 'float attnMask per head [N·H, L, S] and float keyPaddingMask, weights per head, time-major',
    build: () => new MaskedAttention({ embedDim: E, numHeads: HEADS }, { averageAttnWeights: false }),
    inputs: [x(L, false), x(S, false), x(S, false), { shape: (n) => [n * HEADS, L, S], make: (n) => floatMask([n * HEADS, L, S]) }, { shape: (n) => [n, S], make: (n) => floatMask([n, S]) }],
  },
  {
    title: 'masks with isCausal, needWeights false',
    build: () => new MaskedAttention({ embedDim: E, numHeads: HEADS, batchFirst: true }, { isCausal: true, needWeights: false }),
    inputs: [x(L, true), x(L, true), x(L, true), { shape: () => [L, L], dtype: 'bool', make: () => boolMask([L, L], 0.2) }, { shape: (n) => [n, L], dtype: 'bool', make: (n) => boolMask([n, L], 0.2) }],
  },
  { title: 'constant float mask and isCausal', build: () => new ConstantMaskAttention({ embedDim: E, numHeads: HEADS, batchFirst: true }, L), inputs: [x(L, true)] },
  { title: 'TransformerEncoderLayer post-norm relu, time-major', build: () => new TransformerEncoderLayer(layer()), inputs: [x(L, false)], ops: ['LayerNormalization', 'Relu'] },
  { title: 'TransformerEncoderLayer pre-norm gelu, batchFirst', build: () => new TransformerEncoderLayer(layer({ normFirst: true, activation: 'gelu', batchFirst: true })), inputs: [x(L, true)], ops: ['Erf'] },
  {
    title: 'TransformerEncoderLayer with srcKeyPaddingMask input and isCausal',
    build: () => new MaskedEncoderLayer(layer({ batchFirst: true })),
    inputs: [x(L, true), { shape: (n) => [n, L], dtype: 'bool', make: (n) => boolMask([n, L], 0.3) }],
  },
  { title: 'TransformerDecoderLayer post-norm, batchFirst', build: () => new TransformerDecoderLayer(layer({ batchFirst: true })), inputs: [x(L, true), x(S, true)] },
  { title: 'TransformerDecoderLayer pre-norm gelu, time-major', build: () => new TransformerDecoderLayer(layer({ normFirst: true, activation: 'gelu' })), inputs: [x(L, false), x(S, false)] },
  {
    title: 'TransformerDecoderLayer with tgtMask, memoryKeyPaddingMask inputs and tgtIsCausal',
    build: () => new MaskedDecoderLayer(layer({ batchFirst: true, normFirst: true })),
    inputs: [x(L, true), x(S, true), { shape: () => [L, L], make: () => floatMask([L, L]) }, { shape: (n) => [n, S], dtype: 'bool', make: (n) => boolMask([n, S], 0.3) }],
  },
  { title: 'TransformerEncoder, 2 layers and a final norm', build: () => new TransformerEncoder({ encoderLayer: layer({ batchFirst: true }), numLayers: 2 }), inputs: [x(L, true)] },
  {
    title: 'Transformer (2 + 2 layers), batchFirst',
    build: () => new Transformer({ dModel: E, nhead: HEADS, numEncoderLayers: 2, numDecoderLayers: 2, dimFeedforward: 16, batchFirst: true }),
    inputs: [x(S, true), x(L, true)],
  },
  { title: 'SinusoidalPositionalEncoding, batchFirst', build: () => new SinusoidalPositionalEncoding({ dModel: E, maxLen: 16, batchFirst: true }), inputs: [x(L, true)] },
  { title: 'SinusoidalPositionalEncoding, time-major', build: () => new SinusoidalPositionalEncoding({ dModel: E, maxLen: 16 }), inputs: [x(L, false)] },
  { title: 'LearnedPositionalEncoding (Gather + Add)', build: () => new LearnedPositionalEncoding({ dModel: E, maxLen: 16, batchFirst: true }), inputs: [x(L, true)], ops: ['Gather'] },
];

function flat(out: unknown): Tensor[] {
  return Array.isArray(out) ? (out as unknown[]).flatMap(flat) : [out as Tensor];
}

describe('ONNX export of attention and Transformer layers, checked by ONNX Runtime', () => {
  for (const c of CASES) {
    const batchAtDim0 = c.inputs.every((i) => i.shape(2).every((d, k) => k === 0 || d === i.shape(3)[k]));
    // exportOnnx can make dim 0 of every input dynamic (one symbolic dim 'batch' for all): where the
    // batch sits elsewhere (time-major [L, N, E]) the graph is written with static dims and runs at
    // the traced batch only
    const batches = batchAtDim0 ? [2, 3] : [2];
    it(`${c.title}: every output within 1e-5 at batch ${batches.join(' and ')}`, async () => {
      manualSeed(5);
      const model = c.build();
      noGrad(() => {
        for (const p of model.parameters()) p.assign(randn(p.shape, { dtype: p.dtype }).mul(0.5));
      });
      model.eval();
      const make = (n: number) => c.inputs.map((i) => (i.make ? i.make(n) : randn(i.shape(n))));
      const call = (xs: Tensor[]) => flat((model.forward as (...a: Tensor[]) => unknown)(...xs));
      const inputNames = c.inputs.map((_, i) => `in_${i}`);
      const outputNames = call(make(2)).map((_, i) => `out_${i}`);
      const bytes = exportOnnx(model, { inputShapes: c.inputs.map((i) => i.shape(2)), inputDtypes: c.inputs.map((i) => i.dtype ?? 'float32'), inputNames, outputNames, dynamicBatch: batchAtDim0 });
      const ops = onnx.ModelProto.decode(bytes).graph!.node!.map((n) => n.opType!);
      for (const op of c.ops ?? []) expect(ops).toContain(op);
      for (const batch of batches) {
        const xs = make(batch);
        const expected = call(xs);
        const got = await run(bytes, Object.fromEntries(xs.map((t, i) => [inputNames[i], t])));
        expected.forEach((e, i) => expectClose(got[outputNames[i]], e));
      }
    });
  }

  for (const opset of [13, 18, 21]) {
    it(`a masked pre-norm gelu encoder layer at opset ${opset} (LayerNorm decomposed before 17, reduce axes as inputs from 18)`, async () => {
      manualSeed(12);
      const model = new MaskedEncoderLayer(layer({ batchFirst: true, normFirst: true, activation: 'gelu' }));
      noGrad(() => {
        for (const p of model.parameters()) p.assign(randn(p.shape).mul(0.5));
      });
      model.eval();
      const bytes = exportOnnx(model, { inputShapes: [[2, L, E], [2, L]], inputDtypes: ['float32', 'bool'], opset, inputNames: ['src', 'padding'] });
      const ops = onnx.ModelProto.decode(bytes).graph!.node!.map((n) => n.opType);
      expect(ops.includes('LayerNormalization')).toBe(opset >= 17);
      const src = randn([3, L, E]);
      const padding = boolMask([3, L], 0.3);
      expectClose((await run(bytes, { src, padding })).output, model.forward(src, padding));
    });
  }

  it('writes the exact opset-20 Gelu op when asked for opset 20, with the same numbers', async () => {
    manualSeed(9);
    const model = new TransformerEncoderLayer(layer({ activation: 'gelu', batchFirst: true }));
    model.eval();
    const bytes = exportOnnx(model, { inputShapes: [[2, L, E]], opset: 20 });
    expect(onnx.ModelProto.decode(bytes).graph!.node!.map((n) => n.opType)).toContain('Gelu');
    const xs = randn([2, L, E]);
    expectClose((await run(bytes, { input: xs })).output, model.forward(xs));
  });

  it('exports with the default names input_0…2, output_0 and output_1', async () => {
    manualSeed(4);
    const mha = new MultiheadAttention({ embedDim: E, numHeads: HEADS });
    mha.eval();
    const [q, k, v] = [randn([L, 2, E]), randn([S, 2, E]), randn([S, 2, E])];
    const got = await run(exportOnnx(mha, { inputShapes: [[L, 2, E], [S, 2, E], [S, 2, E]], dynamicBatch: false }), { input_0: q, input_1: k, input_2: v });
    const [out, w] = mha.forward(q, k, v);
    expectClose(got.output_0, out);
    expectClose(got.output_1, w!);
  });

  it('rejects misspelt mask options of the composing exporters, suggesting the key meant', () => {
    class Wrapped extends Module<[Tensor, Tensor], Tensor> {
      readonly enc = this.registerModule('enc', new TransformerEncoderLayer(layer({ batchFirst: true })));
      readonly dec = this.registerModule('dec', new TransformerDecoderLayer(layer({ batchFirst: true })));
      constructor(readonly which: 'enc' | 'dec' | 'mha') {
        super();
      }
      forward(x: Tensor): Tensor {
        return x;
      }
    }
    registerOnnxExporter(Wrapped, (ctx, m, [x, mask]) => {
      if (m.which === 'enc') return [exportEncoderLayer(ctx, m.enc, x, { src_key_padding_mask: mask } as never)];
      if (m.which === 'dec') return [exportDecoderLayer(ctx, m.dec, x, x, { memory_mask: mask } as never)];
      return [exportMultiheadAttention(ctx, m.enc.selfAttn, { query: x, key: x, value: x, attn_mask: mask } as never).output];
    });
    const shapes = { inputShapes: [[2, L, E], [2, L]] };
    expect(() => exportOnnx(new Wrapped('enc'), shapes)).toThrow("exportEncoderLayer: unknown option 'src_key_padding_mask'; did you mean 'srcKeyPaddingMask'?");
    expect(() => exportOnnx(new Wrapped('dec'), shapes)).toThrow("exportDecoderLayer: unknown option 'memory_mask'; did you mean 'memoryMask'?");
    expect(() => exportOnnx(new Wrapped('mha'), shapes)).toThrow("exportMultiheadAttention: unknown option 'attn_mask'; did you mean 'attnMask'?");
  });

  it('refuses unbatched sequences, naming the module', () => {
    const pre = new TransformerEncoderLayer(layer({ normFirst: true }));
    expect(() => exportOnnx(pre, { inputShapes: [[L, E]] })).toThrow(/model \(TransformerEncoderLayer\): expected 3-D src \[L, N, dModel\], got \[5, 8\]/);
    const mha = new MultiheadAttention({ embedDim: E, numHeads: HEADS });
    expect(() => exportOnnx(mha, { inputShapes: [[L, E], [S, E], [S, E]] })).toThrow(/model \(MultiheadAttention\): expected 3-D query/);
  });

  it('refuses a custom feed-forward activation, naming the module', () => {
    const model = new TransformerEncoder({ encoderLayer: layer({ activation: (t: Tensor) => t.mul(2), batchFirst: true }), numLayers: 1 });
    expect(() => exportOnnx(model, { inputShapes: [[2, L, E]] })).toThrow(/model\.layers\.0 \(TransformerEncoderLayer\): the feed-forward activation/);
  });
});
