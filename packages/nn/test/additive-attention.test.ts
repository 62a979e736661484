import '@ml/autograd';
import { manualSeed, randn, tensor, type Tensor } from '@ml/tensor';
import { assertClose } from '@ml/tensor/testing';
import { describe, expect, it } from 'vitest';
import { AdditiveAttention, moduleFromConfig, moduleToConfig } from '../src/index.js';
import { f64, gradcheckLayer } from './helpers.js';

// a small case worked by hand (plain loops below, and the numbers printed by a separate
// Python script with the same inputs: scores 2.46440, 0.56412, −1.18702)
const Wq = [[1, 0], [0.5, -1]];
const bq = [0.1, -0.2];
const Wk = [[0.3, 0.2], [-0.4, 1]];
const v = [1, -2];
const s = [0.5, 1];
const H = [[1, 0], [0, 1], [-1, 2]];
const V = [[1, 2], [3, 4], [5, 6]];

/** e_j = vᵀ tanh(W_q s + b + W_k h_j), α = softmax(e) over the unmasked keys, c = Σ α_j V_j */
function byHand(query: number[], keep: boolean[] = [true, true, true]): { e: number[]; a: number[]; c: number[] } {
  const e = H.map((h) => [0, 1].reduce((acc, i) => acc + v[i] * Math.tanh(Wq[i][0] * query[0] + Wq[i][1] * query[1] + bq[i] + Wk[i][0] * h[0] + Wk[i][1] * h[1]), 0));
  const ex = e.map((x, j) => (keep[j] ? Math.exp(x) : 0));
  const z = ex.reduce((p, q) => p + q, 0);
  const a = ex.map((x) => x / z);
  const c = [0, 1].map((k) => a.reduce((acc, w, j) => acc + w * V[j][k], 0));
  return { e, a, c };
}

function layer(): AdditiveAttention {
  const m = new AdditiveAttention({ queryDim: 2, keyDim: 2, hiddenSize: 2, bias: true, dtype: 'float64' });
  m.loadStateDict({ 'query_proj.weight': f64(Wq), 'query_proj.bias': f64(bq), 'key_proj.weight': f64(Wk), v: f64(v) });
  return m;
}

describe('AdditiveAttention (Bahdanau)', () => {
  it('scores vᵀ tanh(W_q s + W_k h), softmax over keys, weighted sum of values: a hand computation', async () => {
    const want = byHand(s);
    expect(want.e.map((x) => x.toFixed(5))).toEqual(['2.46440', '0.56412', '-1.18702']);
    const [c, a] = layer().forward(f64([s]), f64([H]), f64([V]));
    expect(c.shape).toEqual([1, 2]);
    expect(a.shape).toEqual([1, 3]);
    await assertClose(a, [want.a], { atol: 1e-12 });
    await assertClose(c, [want.c], { atol: 1e-12 });
    await assertClose(c, [[1.3427270693322573, 2.3427270693322573]], { atol: 1e-12 });
  });

  it('several queries [N, L, Eq] give [N, L, Ev] and [N, L, S]; values default to the keys', async () => {
    const q2 = [-1, 0.25];
    const [c, a] = layer().forward(f64([[s, q2]]), f64([H]));
    expect(c.shape).toEqual([1, 2, 2]);
    const ctx = (q: number[]) => {
      const { a: w } = byHand(q);
      return [0, 1].map((k) => w.reduce((acc, x, j) => acc + x * H[j][k], 0));
    };
    await assertClose(a, [[byHand(s).a, byHand(q2).a]], { atol: 1e-12 });
    await assertClose(c, [[ctx(s), ctx(q2)]], { atol: 1e-12 });
  });

  it('a padding mask (true = masked out) gives those keys zero weight; an all-masked query gets zeros', async () => {
    const keep = [true, false, true];
    const want = byHand(s, keep);
    const [c, a] = layer().forward(f64([s, s]), f64([H, H]), f64([V, V]), { keyPaddingMask: tensor([[false, true, false], [true, true, true]], { dtype: 'bool' }) });
    await assertClose(a, [want.a, [0, 0, 0]], { atol: 1e-12 });
    await assertClose(c, [want.c, [0, 0]], { atol: 1e-12 });
  });

  it('passes gradcheck with respect to query, keys, values and every parameter', () => {
    manualSeed(4);
    const m = new AdditiveAttention({ queryDim: 3, keyDim: 2, hiddenSize: 4, bias: true, dtype: 'float64' });
    const q = randn([2, 3], { dtype: 'float64' });
    const k = randn([2, 5, 2], { dtype: 'float64' });
    const val = randn([2, 5, 3], { dtype: 'float64' });
    const mask = tensor([[false, false, true, false, false], [false, false, false, false, true]], { dtype: 'bool' });
    gradcheckLayer(m, [q, k, val], (a: Tensor, b: Tensor, c: Tensor) => {
      const [ctx, w] = m.forward(a, b, c, { keyPaddingMask: mask });
      return ctx.sum().add(w.mul(w).sum());
    });
  });

  it('checks shapes and options, naming the layer', () => {
    const m = layer();
    expect(() => m.forward(f64([[1, 2, 3]]), f64([H]))).toThrow(/AdditiveAttention: query \[1, ?3\] must have queryDim = 2/);
    expect(() => m.forward(f64([s]), f64(H))).toThrow(/AdditiveAttention: expected query/);
    expect(() => m.forward(f64([s]), f64([H]), f64([V]), { mask: tensor([[false, false, false]], { dtype: 'bool' }) } as never)).toThrow(/AdditiveAttention.forward: unknown option 'mask'; did you mean 'keyPaddingMask'\?/);
    expect(() => new AdditiveAttention({ queryDim: 2, units: 8 } as never)).toThrow(/AdditiveAttention: unknown option 'units'; did you mean 'hiddenSize'\?/);
    expect(() => new AdditiveAttention({ queryDim: 0 })).toThrow(/queryDim must be a positive integer/);
  });

  it('round-trips through its config and has the documented parameter names', async () => {
    const m = layer();
    expect([...m.namedParameters()].map(([k, p]) => [k, p.shape])).toEqual([
      ['v', [2]],
      ['query_proj.weight', [2, 2]],
      ['query_proj.bias', [2]],
      ['key_proj.weight', [2, 2]],
    ]);
    const back = moduleFromConfig(moduleToConfig(m)) as AdditiveAttention;
    expect(back).toBeInstanceOf(AdditiveAttention);
    back.loadStateDict(m.stateDict());
    const [c] = back.forward(f64([s]), f64([H]), f64([V]));
    await assertClose(c, [byHand(s).c], { atol: 1e-12 });
  });
});

describe('README: additive attention', () => {
  it('the example: context [8, 128], weights [8, 20] summing to 1 per row', async () => {
    const attention = new AdditiveAttention({ queryDim: 64, keyDim: 128, hiddenSize: 32 });
    const decoderState = randn([8, 64]);
    const encoderStates = randn([8, 20, 128]);
    const [context, weights] = attention.forward(decoderState, encoderStates);
    expect(context.shape).toEqual([8, 128]);
    expect(weights.shape).toEqual([8, 20]);
    await assertClose(weights.sum(1), new Array<number>(8).fill(1), { atol: 1e-5 });
  });
});
