// The transformer layers on the fused kernels (layerNorm, gelu, scaledDotProductAttention):
// outputs and every parameter gradient equal those of the composites (the path these
// layers took before the ops existed), in float64, with masks; every kernel ran.
import '@ml/autograd';
import { manualSeed, randn, setBackend, tensor, type Tensor } from '@ml/tensor';
import { registerCompositeBackend, registerCountingBackend } from '@ml/tensor/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { MultiheadAttention } from '../src/attention.js';
import { Transformer } from '../src/transformer.js';

/** A cpu backend counting the calls of its transformer kernels that did not decline. */
const { backend: spy, counts: calls } = registerCountingBackend('cpu-nn-transformer-spy', ['layerNorm', 'layerNormBackward', 'gelu', 'geluBackward', 'scaledDotProductAttention', 'scaledDotProductAttentionBackward']);
const COMPOSITE = registerCompositeBackend('cpu-nn-transformer-composite').name;

afterEach(() => setBackend('cpu'));

interface Result {
  out: number[];
  grads: Record<string, number[]>;
}

/** Build the model and inputs with one seed on `backend`, run forward and backward. */
function runOn(backend: string, build: () => { forward: () => Tensor; params: () => [string, Tensor][] }): Result {
  setBackend(backend);
  try {
    manualSeed(11);
    const m = build();
    const y = m.forward();
    y.mul(y).sum().backward();
    return { out: Array.from(y.dataSync()), grads: Object.fromEntries(m.params().map(([k, p]) => [k, Array.from(p.grad!.dataSync())])) };
  } finally {
    setBackend('cpu');
  }
}

function expectSame(a: Result, b: Result): void {
  const close = (x: number[], y: number[], label: string) => {
    expect(x.length, label).toBe(y.length);
    const worst = Math.max(0, ...x.map((v, i) => Math.abs(v - y[i]) / (1 + Math.abs(y[i]))));
    expect(worst, label).toBeLessThan(1e-10);
  };
  close(a.out, b.out, 'output');
  expect(Object.keys(a.grads).sort()).toEqual(Object.keys(b.grads).sort());
  for (const k of Object.keys(b.grads)) close(a.grads[k], b.grads[k], k);
}

describe('Transformer on the fused kernels equals the composite path (float64, 1e-10)', () => {
  it.each([
    ['post-norm, gelu, causal target, padded source', false],
    ['pre-norm (normFirst), gelu, causal target, padded source', true],
  ])('%s: output and every parameter gradient; every kernel ran', (_what, normFirst) => {
    const build = () => {
      const model = new Transformer({ dModel: 8, nhead: 2, numEncoderLayers: 2, numDecoderLayers: 2, dimFeedforward: 12, dropout: 0, activation: 'gelu', batchFirst: true, normFirst, dtype: 'float64' });
      const src = randn([3, 5, 8], { dtype: 'float64' });
      const tgt = randn([3, 4, 8], { dtype: 'float64' }).requiresGrad_();
      const pad = tensor([[false, false, false, false, false], [false, false, false, true, true], [false, true, true, true, true]], { dtype: 'bool' });
      return {
        forward: () => model.forward(src, tgt, { srcKeyPaddingMask: pad, memoryKeyPaddingMask: pad, tgtIsCausal: true }),
        params: (): [string, Tensor][] => [...model.namedParameters(), ['tgt', tgt]],
      };
    };
    const before = { ...calls };
    const fused = runOn(spy.name, build);
    // 2 encoder + 2 decoder layers: 2·2 + 3·2 + 2 final norms, 2 + 2·2 attentions, 4 activations
    const ran = (k: string) => (calls[k] ?? 0) - (before[k] ?? 0);
    expect([ran('layerNorm'), ran('layerNormBackward'), ran('scaledDotProductAttention'), ran('scaledDotProductAttentionBackward'), ran('gelu'), ran('geluBackward')]).toEqual([12, 12, 6, 6, 4, 4]);
    expectSame(fused, runOn(COMPOSITE, build));
  });
});

describe('MultiheadAttention: without weights (the one-op path) equals with weights (the composite)', () => {
  it('float mask [L,S] and key padding [N,S]: output and every gradient', () => {
    const build = (needWeights: boolean) => () => {
      const mha = new MultiheadAttention({ embedDim: 6, numHeads: 3, batchFirst: true, dtype: 'float64' });
      const q = randn([2, 4, 6], { dtype: 'float64' }).requiresGrad_();
      const kv = randn([2, 5, 6], { dtype: 'float64' }).requiresGrad_();
      const attnMask = randn([4, 5], { dtype: 'float64' });
      const keyPaddingMask = tensor([[false, false, true, false, true], [true, true, true, true, true]], { dtype: 'bool' });
      return {
        forward: () => mha.forward(q, kv, kv, { attnMask, keyPaddingMask, needWeights })[0],
        params: (): [string, Tensor][] => [...mha.namedParameters(), ['q', q], ['kv', kv]],
      };
    };
    const before = calls.scaledDotProductAttention ?? 0;
    const oneOp = runOn(spy.name, build(false));
    expect((calls.scaledDotProductAttention ?? 0) - before).toBe(1);
    expectSame(oneOp, runOn(spy.name, build(true)));
  });
});
