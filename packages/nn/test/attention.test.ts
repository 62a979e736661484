import { gradcheck } from '@ml/autograd';
import { manualSeed, randn, tensor, where, type NestedArray, type Tensor } from '@ml/tensor';
import { assertClose } from '@ml/tensor/testing';
import { describe, expect, it } from 'vitest';
import { bandedMask, causalMask, MultiheadAttention, paddingMask, scaledDotProductAttention, type MultiheadAttentionOptions } from '../src/attention.js';
import type { AnyModule } from '../src/module.js';
import { fixture, f64, gradcheckLayer, stateOf } from './helpers.js';

type Mask = NestedArray | null;

interface Case {
  state: Record<string, NestedArray>;
  x?: NestedArray;
  q?: NestedArray;
  k?: NestedArray;
  v?: NestedArray;
  attn_mask?: Mask;
  key_padding_mask?: Mask;
  out: NestedArray;
  weights: NestedArray;
  head_weights: NestedArray;
  gy: NestedArray;
  gw: NestedArray;
  grads: Record<string, NestedArray>;
}

// recorded from PyTorch 1.13 in float64 by test/fixtures/attention.py
const { cases } = fixture<{ cases: Record<string, Case> }>('attention');
const TOL = { atol: 1e-10, rtol: 1e-10 };

/** JSON null stands for −∞ (JSON has no infinity). */
const withInf = (v: NestedArray | null): NestedArray => (v === null ? -Infinity : Array.isArray(v) ? (v as (NestedArray | null)[]).map(withInf) : v) as NestedArray;

/** A fixture mask: bool lists stay bool, number lists become float64 with −∞ restored. */
function maskOf(m: Mask | undefined): Tensor | undefined {
  if (m === undefined || m === null) return undefined;
  const first = (v: NestedArray): unknown => (Array.isArray(v) ? first(v[0]) : v);
  return typeof first(m) === 'boolean' ? tensor(m, { dtype: 'bool' }) : f64(withInf(m));
}

async function mhaMatchesPytorch(name: string, options: Omit<MultiheadAttentionOptions, 'dtype'>): Promise<void> {
  const c = cases[name];
  const mha = new MultiheadAttention({ ...options, dtype: 'float64' });
  mha.loadStateDict(stateOf(c.state));
  expect([...mha.namedParameters()].map(([k]) => k), 'parameter keys in PyTorch order').toEqual(Object.keys(c.state));
  const opts = { attnMask: maskOf(c.attn_mask), keyPaddingMask: maskOf(c.key_padding_mask) };
  const inputs: Record<string, Tensor> = c.x ? { x: f64(c.x).requiresGrad_() } : { q: f64(c.q!).requiresGrad_(), k: f64(c.k!).requiresGrad_(), v: f64(c.v!).requiresGrad_() };
  const [q, k, v] = inputs.x ? [inputs.x, inputs.x, inputs.x] : [inputs.q, inputs.k, inputs.v];

  const [, headWeights] = mha.forward(q, k, v, { ...opts, averageAttnWeights: false });
  await assertClose(headWeights!, c.head_weights, { ...TOL, label: `${name} per-head weights` });

  const [out, weights] = mha.forward(q, k, v, opts);
  await assertClose(out, c.out, { ...TOL, label: `${name} output` });
  await assertClose(weights!, c.weights, { ...TOL, label: `${name} averaged weights` });
  out.mul(f64(c.gy)).sum().add(weights!.mul(f64(c.gw)).sum()).backward();
  for (const [n, t] of Object.entries(inputs)) await assertClose(t.grad!, c.grads[n], { ...TOL, label: `${name} gradient of input ${n}` });
  for (const [key, p] of mha.namedParameters()) {
    expect(p.grad, `${name}: no gradient reached ${key}`).toBeTruthy();
    await assertClose(p.grad!, c.grads[key], { ...TOL, label: `${name} gradient of ${key}` });
  }
}

describe('MultiheadAttention matches PyTorch 1.13 (output, averaged and per-head weights, gradients of inputs and weights; float64, 1e-10)', () => {
  const E = 6;
  const H = 2;
  it('cross-attention without masks ([L, N, E] query, [S, N, E] key/value)', () => mhaMatchesPytorch('no_mask', { embedDim: E, numHeads: H }));
  it('bool key padding mask [N, S]', () => mhaMatchesPytorch('key_padding', { embedDim: E, numHeads: H }));
  it('self-attention with a causal bool mask (query = key = value)', () => mhaMatchesPytorch('causal', { embedDim: E, numHeads: H }));
  it('float additive mask with −∞ entries, merged with a bool key padding mask', () => mhaMatchesPytorch('float_mask', { embedDim: E, numHeads: H }));
  it('banded (local) mask: one neighbour on either side', () => mhaMatchesPytorch('banded', { embedDim: E, numHeads: H }));
  it('batchFirst [N, L, E] with key padding', () => mhaMatchesPytorch('batch_first', { embedDim: E, numHeads: H, batchFirst: true }));
  it('kdim=3, vdim=5 ≠ embedDim: separate q/k/v_proj_weight', () => mhaMatchesPytorch('kdim_vdim', { embedDim: E, numHeads: H, kdim: 3, vdim: 5 }));
  it('per-batch, per-head bool mask [N·H, L, S] with key padding', () => mhaMatchesPytorch('per_head_mask', { embedDim: E, numHeads: H }));
  it('unbatched [L, E] with key padding mask [S]', () => mhaMatchesPytorch('unbatched', { embedDim: E, numHeads: H }));
  it('no biases, 3 heads', () => mhaMatchesPytorch('no_bias', { embedDim: E, numHeads: 3, bias: false }));
});

describe('scaledDotProductAttention', () => {
  it('equals softmax(QKᵀ/√d)V worked by hand', async () => {
    // q·k = [2, 0] / √2 per key; weights = softmax([√2, 0])
    const q = tensor([[1, 1]], { dtype: 'float64' });
    const k = tensor([[1, 1], [1, -1]], { dtype: 'float64' });
    const v = tensor([[10, 0], [0, 10]], { dtype: 'float64' });
    const [out, w] = scaledDotProductAttention(q, k, v);
    const a = Math.exp(Math.SQRT2) / (Math.exp(Math.SQRT2) + 1);
    await assertClose(w, [[a, 1 - a]], { atol: 1e-12 });
    await assertClose(out, [[10 * a, 10 * (1 - a)]], { atol: 1e-12 });
  });

  it('a bool mask equals the float mask with −∞ at the same places, and isCausal equals causalMask', async () => {
    manualSeed(1);
    const [q, k, v] = [randn([2, 4, 3]), randn([2, 4, 3]), randn([2, 4, 2])];
    const m = causalMask(4);
    const [o1, w1] = scaledDotProductAttention(q, k, v, { attnMask: m });
    const [o2, w2] = scaledDotProductAttention(q, k, v, { attnMask: where(m, -Infinity, 0) });
    const [o3, w3] = scaledDotProductAttention(q, k, v, { isCausal: true });
    await assertClose(o2, await o1.array(), { atol: 1e-6 });
    await assertClose(w2, await w1.array(), { atol: 1e-6 });
    await assertClose(o3, await o1.array(), { atol: 1e-6 });
    await assertClose(w3, await w1.array(), { atol: 1e-6 });
    // masked weights are exactly zero
    const wv = (await w1.array()) as number[][][];
    expect(wv[0][0].slice(1)).toEqual([0, 0, 0]);
  });

  it('a fully masked query row gets zero weights and zero output (PyTorch: NaN), with finite gradients', async () => {
    manualSeed(2);
    const q = randn([1, 3, 2], { dtype: 'float64' }).requiresGrad_();
    const k = randn([1, 3, 2], { dtype: 'float64' }).requiresGrad_();
    const v = randn([1, 3, 2], { dtype: 'float64' }).requiresGrad_();
    // query 1 sees nothing; the others see keys 0 and 1
    const mask = tensor([[false, false, true], [true, true, true], [false, false, true]], { dtype: 'bool' });
    const [out, w] = scaledDotProductAttention(q, k, v, { attnMask: mask });
    const wv = (await w.array()) as number[][][];
    expect(wv[0][1]).toEqual([0, 0, 0]);
    expect(wv[0][0][0] + wv[0][0][1]).toBeCloseTo(1, 12);
    expect(((await out.array()) as number[][][])[0][1]).toEqual([0, 0]);
    out.sum().backward();
    for (const t of [q, k, v]) expect(Array.from(t.grad!.dataSync()).every(Number.isFinite)).toBe(true);
    expect(Array.from(q.grad!.dataSync()).slice(2, 4)).toEqual([0, 0]);
    // an all-padding key padding mask row behaves the same
    const [out2] = scaledDotProductAttention(q, k, v, { keyPaddingMask: tensor([[true, true, true]], { dtype: 'bool' }) });
    await assertClose(out2, 0, { shape: [1, 3, 2] });
  });

  it('gradcheck (float64) with a bool attn mask, a float mask and a key padding mask', () => {
    manualSeed(3);
    const [N, H, L, S, D] = [2, 2, 3, 3, 2];
    const q = randn([N, H, L, D], { dtype: 'float64' });
    const k = randn([N, H, S, D], { dtype: 'float64' });
    const v = randn([N, H, S, D], { dtype: 'float64' });
    const kpm = tensor([[false, false, true], [false, false, false]], { dtype: 'bool' });
    const floatMask = randn([L, S], { dtype: 'float64' });
    const opts = [{ attnMask: causalMask(L) }, { attnMask: floatMask, keyPaddingMask: kpm }, { attnMask: bandedMask(L, { before: 1 }), keyPaddingMask: kpm }];
    for (const o of opts) {
      gradcheck((a, b, c) => {
        const [out, w] = scaledDotProductAttention(a, b, c, o);
        return out.sum().add(w.mul(w).sum());
      }, [q, k, v], { atol: 1e-7 });
    }
  });

  it('dropout zeroes weights only in training and rescales the rest by 1/(1−p)', async () => {
    manualSeed(4);
    const [q, k, v] = [randn([1, 8, 4]), randn([1, 8, 4]), randn([1, 8, 4])];
    const [, w0] = scaledDotProductAttention(q, k, v);
    const [, w1] = scaledDotProductAttention(q, k, v, { dropoutP: 0.5 });
    const [, w2] = scaledDotProductAttention(q, k, v, { dropoutP: 0.5, training: false });
    await assertClose(w2, await w0.array());
    const a = w0.dataSync();
    const b = w1.dataSync();
    let zeros = 0;
    for (let i = 0; i < a.length; i++) {
      if (b[i] === 0) zeros++;
      else expect(b[i]).toBeCloseTo(2 * a[i], 5);
    }
    expect(zeros).toBeGreaterThan(16);
    expect(zeros).toBeLessThan(48);
  });

  it('rejects masks of the wrong shape or dtype, naming expected and actual shapes', () => {
    const [q, k, v] = [randn([2, 3, 4]), randn([2, 5, 4]), randn([2, 5, 4])];
    expect(() => scaledDotProductAttention(q, k, v, { attnMask: causalMask(3) })).toThrow(/attnMask must have shape \[\.\.\., L, S\] = \[2,3,5\].*got \[3,3\]/);
    expect(() => scaledDotProductAttention(q, k, v, { keyPaddingMask: paddingMask([4], 5).reshape([5]) })).not.toThrow();
    expect(() => scaledDotProductAttention(q, k, v, { keyPaddingMask: tensor([[true, false]], { dtype: 'bool' }) })).toThrow(/keyPaddingMask must have shape \[S\] = \[5\] or \[N, S\] = \[2,5\], got \[1,2\]/);
    expect(() => scaledDotProductAttention(q, k, v, { attnMask: tensor([[0, 1, 0, 0, 0]], { dtype: 'int32' }).expand([3, 5]) })).toThrow(/bool \(true = masked out\) or float/);
    expect(() => scaledDotProductAttention(q, randn([2, 5, 3]), v)).toThrow(/share the last dim/);
  });
});

describe('mask helpers (true = masked out)', () => {
  const asNumbers = async (t: Tensor) => ((await t.array()) as boolean[][]).map((r) => r.map(Number));
  it('causalMask(L) masks the upper triangle', async () => {
    expect(causalMask(3).dtype).toBe('bool');
    expect(await asNumbers(causalMask(3))).toEqual([[0, 1, 1], [0, 0, 1], [0, 0, 0]]);
    expect(await asNumbers(causalMask(2, 3))).toEqual([[0, 1, 1], [0, 0, 1]]);
  });
  it('bandedMask keeps a window of `before` past and `after` future positions', async () => {
    expect(await asNumbers(bandedMask(4, { before: 1 }))).toEqual([[0, 1, 1, 1], [0, 0, 1, 1], [1, 0, 0, 1], [1, 1, 0, 0]]);
    expect(await asNumbers(bandedMask(4, { before: 0, after: 1 }))).toEqual([[0, 0, 1, 1], [1, 0, 0, 1], [1, 1, 0, 0], [1, 1, 1, 0]]);
    expect(await asNumbers(bandedMask(3, { before: Infinity }))).toEqual(await asNumbers(causalMask(3)));
    expect(() => bandedMask(3, { before: -1 })).toThrow(/before must be a non-negative integer/);
  });
  it('paddingMask marks positions at or beyond each length', async () => {
    expect(await asNumbers(paddingMask([2, 4, 0], 4))).toEqual([[0, 0, 1, 1], [0, 0, 0, 0], [1, 1, 1, 1]]);
    expect(await asNumbers(paddingMask(tensor([1, 3], { dtype: 'int32' }), 3))).toEqual([[0, 1, 1], [0, 0, 0]]);
    expect(() => paddingMask([5], 4)).toThrow(/lengths\[0\] = 5 must be an integer in \[0, L = 4\]/);
  });
});

describe('MultiheadAttention behaviour', () => {
  it('initializes like PyTorch: in_proj_weight xavier-uniform [3E, E], zero biases, out_proj [E, E]', async () => {
    manualSeed(5);
    const E = 16;
    const mha = new MultiheadAttention({ embedDim: E, numHeads: 4 });
    expect(Object.fromEntries(Object.entries(mha.stateDict()).map(([k, t]) => [k, t.shape]))).toEqual({
      in_proj_weight: [3 * E, E],
      in_proj_bias: [3 * E],
      'out_proj.weight': [E, E],
      'out_proj.bias': [E],
    });
    const bound = Math.sqrt(6 / (E + 3 * E));
    const w = Array.from(mha.inProjWeight!.dataSync());
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.9 * bound);
    await assertClose(mha.inProjBias!, 0, { shape: [3 * E] });
    await assertClose(mha.outProj.bias!, 0, { shape: [E] });
    const sep = new MultiheadAttention({ embedDim: 4, numHeads: 2, kdim: 3, vdim: 5, bias: false });
    expect(Object.keys(sep.stateDict())).toEqual(['q_proj_weight', 'k_proj_weight', 'v_proj_weight', 'out_proj.weight']);
    expect(sep.kProjWeight!.shape).toEqual([4, 3]);
  });

  it('is causal: with a causal mask, changing token t+1 leaves outputs at positions ≤ t unchanged', async () => {
    manualSeed(6);
    const mha = new MultiheadAttention({ embedDim: 8, numHeads: 2, dtype: 'float64' });
    const x = randn([5, 2, 8], { dtype: 'float64' });
    const t = 2;
    const x2 = x.add(tensor([0, 0, 0, 1, 1], { dtype: 'float64' }).reshape([5, 1, 1]).mul(randn([5, 2, 8], { dtype: 'float64' }))); // changes positions 3, 4
    for (const opts of [{ attnMask: causalMask(5) }, { isCausal: true }]) {
      const [y1] = mha.forward(x, x, x, opts);
      const [y2] = mha.forward(x2, x2, x2, opts);
      await assertClose(y2.narrow(0, 0, t + 1), await y1.narrow(0, 0, t + 1).array(), { atol: 1e-12, rtol: 0 });
      const later = Math.max(...Array.from(y2.narrow(0, t + 1, 2).sub(y1.narrow(0, t + 1, 2)).abs().dataSync()));
      expect(later).toBeGreaterThan(1e-3);
    }
    // without the mask, earlier positions do see the change
    const [y1] = mha.forward(x, x, x);
    const [y2] = mha.forward(x2, x2, x2);
    expect(Math.max(...Array.from(y2.narrow(0, 0, 1).sub(y1.narrow(0, 0, 1)).abs().dataSync()))).toBeGreaterThan(1e-3);
  });

  it('returns null weights when needWeights is false and [N, H, L, S] per-head weights otherwise', () => {
    const mha = new MultiheadAttention({ embedDim: 4, numHeads: 2, batchFirst: true });
    const x = randn([3, 5, 4]);
    const [out, w] = mha.forward(x, x, x, { needWeights: false });
    expect(out.shape).toEqual([3, 5, 4]);
    expect(w).toBeNull();
    expect(mha.forward(x, x, x, { averageAttnWeights: false })[1]!.shape).toEqual([3, 2, 5, 5]);
  });

  it('gradcheck (float64, E=4, 2 heads, L=3, N=2) with respect to query, key, value and every weight', () => {
    manualSeed(7);
    const mha = new MultiheadAttention({ embedDim: 4, numHeads: 2, dtype: 'float64' });
    const [q, k, v] = [randn([3, 2, 4], { dtype: 'float64' }), randn([3, 2, 4], { dtype: 'float64' }), randn([3, 2, 4], { dtype: 'float64' })];
    const kpm = tensor([[false, false, true], [false, false, false]], { dtype: 'bool' });
    gradcheckLayer(mha as unknown as AnyModule, [q, k, v], (a, b, c) => {
      const [out, w] = mha.forward(a, b, c, { keyPaddingMask: kpm, attnMask: causalMask(3) });
      return out.sum().add(w!.mul(w!).sum());
    }, { atol: 1e-7 });
    // separate projections (kdim, vdim) and self-attention through the fused projection
    const sep = new MultiheadAttention({ embedDim: 4, numHeads: 2, kdim: 3, vdim: 2, dtype: 'float64' });
    gradcheckLayer(sep as unknown as AnyModule, [q, randn([3, 2, 3], { dtype: 'float64' }), randn([3, 2, 2], { dtype: 'float64' })], (a, b, c) => sep.forward(a, b, c)[0], { atol: 1e-7 });
    gradcheckLayer(mha as unknown as AnyModule, [q], (x) => mha.forward(x, x, x, { isCausal: true })[0], { atol: 1e-7 });
  });

  it('rejects bad options and inputs with clear messages', () => {
    expect(() => new MultiheadAttention({ embedDim: 6, numHeads: 4 })).toThrow(/embedDim \(6\) must be divisible by numHeads \(4\)/);
    expect(() => new MultiheadAttention({ embedDim: 0, numHeads: 1 })).toThrow(/embedDim must be a positive integer/);
    expect(() => new MultiheadAttention({ embedDim: 4, numHeads: 2, dropout: 1.5 })).toThrow(/dropout must be in \[0, 1\]/);
    const mha = new MultiheadAttention({ embedDim: 4, numHeads: 2 });
    const q = randn([3, 2, 4]);
    const kv = randn([5, 2, 4]);
    expect(() => mha.forward(q, kv, kv, { attnMask: causalMask(3) })).toThrow(/attnMask must have shape \[L, S\] = \[3,5\] or \[N·numHeads, L, S\] = \[4,3,5\], got \[3,3\]/);
    expect(() => mha.forward(q, kv, kv, { keyPaddingMask: paddingMask([1, 2], 3) })).toThrow(/keyPaddingMask must have shape \[N, S\] = \[2,5\], got \[2,3\]/);
    expect(() => mha.forward(randn([3, 2, 5]), kv, kv)).toThrow(/embedDim=4 in query/);
    expect(() => mha.forward(q, randn([5, 3, 4]), randn([5, 3, 4]))).toThrow(/batch size N/);
    expect(() => mha.forward(q, kv, randn([5, 2]))).toThrow(/all be 3-D/);
  });
});

describe('MultiheadAttention.forward options', () => {
  it("a misspelt or Keras/PyTorch-spelt mask is an error naming ours, never an unmasked run ({ mask } ran unmasked)", () => {
    manualSeed(2);
    const mha = new MultiheadAttention({ embedDim: 4, numHeads: 2 });
    const x = randn([3, 1, 4]);
    const mask = causalMask(3);
    expect(() => mha.forward(x, x, x, { mask } as never)).toThrow(new TypeError("MultiheadAttention.forward: unknown option 'mask'; did you mean 'attnMask'?"));
    expect(() => mha.forward(x, x, x, { attn_mask: mask } as never)).toThrow(/did you mean 'attnMask'\?/);
    expect(() => mha.forward(x, x, x, { key_padding_mask: mask } as never)).toThrow(/did you mean 'keyPaddingMask'\?/);
    expect(() => mha.forward(x, x, x, { needWeight: false } as never)).toThrow(/did you mean 'needWeights'\?/);
    expect(mha.forward(x, x, x, { attnMask: mask, needWeights: false })[1]).toBeNull();
  });
});
