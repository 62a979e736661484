// @ml/nn's sequence and transformer layers on webgpu against the cpu backend, from the same
// seed: the output and every parameter's gradient, with spies that fail when one of the
// new fused kernels did not run (or declined) on the way.
import '@ml/autograd';
import { GRU, LayerNorm, LSTM, RNN, TransformerEncoderLayer } from '@ml/nn';
import { getBackend, manualSeed, memory, mul, randn, setBackend, sum, tensor, tidy, type Tensor } from '@ml/tensor';
import { afterEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { gpu as found } from './gpu.js';
import { expectClose } from './reference.js';

const maybe = found === null ? describe.skip : describe;

const KERNELS = [
  'layerNorm',
  'layerNormBackward',
  'gelu',
  'geluBackward',
  'scaledDotProductAttention',
  'scaledDotProductAttentionBackward',
  'lstmSequence',
  'lstmSequenceBackward',
  'gruSequence',
  'gruSequenceBackward',
  'rnnSequence',
  'rnnSequenceBackward',
] as const;
type Kernel = (typeof KERNELS)[number];

/** What the test needs of a layer. */
interface Layer {
  namedParameters(): IterableIterator<[string, Tensor]>;
}

/** The layer's output and its parameters' gradients (by name) on `backend`, and how often each kernel ran there ('declined' if it ever returned null). */
async function run(backend: string, make: () => Layer, input: () => Tensor, out: (m: Layer, x: Tensor) => Tensor): Promise<{ values: Map<string, number[]>; ran: Record<Kernel, number | 'declined'> }> {
  const prev = getBackend().name;
  setBackend(backend);
  const b = getBackend() as unknown as Record<Kernel, (...a: unknown[]) => unknown>;
  const spies = KERNELS.filter((k) => typeof b[k] === 'function').map((k) => [k, vi.spyOn(b, k)] as [Kernel, MockInstance]);
  try {
    manualSeed(3);
    const m = make();
    const x = input();
    const kept = tidy(() => {
      const y = out(m, x);
      // Σ y·w with fixed weights: every output element gets its own gradient
      const w = randn(y.shape);
      sum(mul(y, w)).backward();
      return [y.detach().clone(), ...[...m.namedParameters()].map(([, p]) => p.grad!.clone())];
    });
    const names = ['output', ...[...m.namedParameters()].map(([n]) => `∂${n}`)];
    const values = new Map<string, number[]>();
    for (let i = 0; i < kept.length; i++) values.set(names[i], Array.from(await kept[i].data()));
    kept.forEach((t) => t.dispose());
    const ran = Object.fromEntries(KERNELS.map((k) => [k, 0])) as Record<Kernel, number | 'declined'>;
    for (const [k, s] of spies) ran[k] = s.mock.results.some((r) => r.type !== 'return' || r.value === null) ? 'declined' : s.mock.results.length;
    return { values, ran };
  } finally {
    vi.restoreAllMocks();
    setBackend(prev);
  }
}

afterEach(() => vi.restoreAllMocks());

interface LayerCase {
  name: string;
  make: () => Layer;
  input: () => Tensor;
  out: (m: Layer, x: Tensor) => Tensor;
  /** kernels that must have run on webgpu, and how often */
  expect: Partial<Record<Kernel, number>>;
}

/** A case whose `out` is written for its own layer class. */
function layer<M extends Layer>(c: Omit<LayerCase, 'make' | 'out'> & { make: () => M; out: (m: M, x: Tensor) => Tensor }): LayerCase {
  return { ...c, out: (m, x) => c.out(m as M, x) };
}

const seqOut = (m: LSTM | GRU | RNN, x: Tensor) => m.forward(x)[0];

const CASES: LayerCase[] = [
  layer({
    name: 'LSTM, 2 layers, bidirectional, batch-first [3, 5, 4] → hidden 6',
    make: () => new LSTM({ inputSize: 4, hiddenSize: 6, numLayers: 2, bidirectional: true, batchFirst: true }),
    input: () => randn([3, 5, 4]),
    out: seqOut,
    expect: { lstmSequence: 4, lstmSequenceBackward: 4 },
  }),
  layer({
    name: 'GRU, bidirectional [4, 2, 3] → hidden 5',
    make: () => new GRU({ inputSize: 3, hiddenSize: 5, bidirectional: true }),
    input: () => randn([4, 2, 3]),
    out: seqOut,
    expect: { gruSequence: 2, gruSequenceBackward: 2 },
  }),
  layer({
    name: 'RNN relu, 2 layers [3, 2, 4] → hidden 7',
    make: () => new RNN({ inputSize: 4, hiddenSize: 7, numLayers: 2, nonlinearity: 'relu' }),
    input: () => randn([3, 2, 4]),
    out: seqOut,
    expect: { rnnSequence: 2, rnnSequenceBackward: 2 },
  }),
  layer({
    name: 'LayerNorm over [3, 5] of a [2, 3, 5] input',
    make: () => new LayerNorm({ normalizedShape: [3, 5] }),
    input: () => randn([2, 3, 5]),
    out: (m, x) => m.forward(x),
    expect: { layerNorm: 1, layerNormBackward: 1 },
  }),
  layer({
    name: 'TransformerEncoderLayer, dModel 8, 2 heads, gelu, batch-first [2, 5, 8]',
    make: () => new TransformerEncoderLayer({ dModel: 8, nhead: 2, dimFeedforward: 12, dropout: 0, activation: 'gelu', batchFirst: true }),
    input: () => randn([2, 5, 8]),
    out: (m, x) => m.forward(x),
    expect: { layerNorm: 2, layerNormBackward: 2, gelu: 1, geluBackward: 1, scaledDotProductAttention: 1, scaledDotProductAttentionBackward: 1 },
  }),
  layer({
    // a float mask, a key padding mask and the causal mask together: sample 1's first query
    // sees only key 0, which is padding, so its row of weights is all zeros
    name: 'TransformerEncoderLayer, pre-norm, 4 heads, float + padding + causal masks [5, 2, 8]',
    make: () => new TransformerEncoderLayer({ dModel: 8, nhead: 4, dimFeedforward: 6, dropout: 0, normFirst: true }),
    input: () => randn([5, 2, 8]),
    out: (m, x) => {
      const srcMask = randn([5, 5]).mul(0.5);
      const srcKeyPaddingMask = tensor([[false, false, false, true, true], [true, false, false, false, false]], { dtype: 'bool' });
      return m.forward(x, { srcMask, srcKeyPaddingMask, isCausal: true });
    },
    expect: { layerNorm: 2, layerNormBackward: 2, scaledDotProductAttention: 1, scaledDotProductAttentionBackward: 1 },
  }),
];

maybe('nn layers on webgpu equal the cpu backend (values and parameter gradients, 1e-4) with the fused kernels', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const got = await run('webgpu', c.make, c.input, c.out);
      const want = await run('cpu', c.make, c.input, c.out);
      expect([...got.values.keys()]).toEqual([...want.values.keys()]);
      for (const [name, w] of want.values) expectClose(got.values.get(name)!, w, 1e-4, `${c.name}: ${name}`);
      for (const [k, n] of Object.entries(c.expect)) expect(got.ran[k as Kernel], `${k} on webgpu`).toBe(n);
    });
  }
});

maybe('the new kernels keep no buffer past a training step', () => {
  it('LSTM + GRU + RNN + TransformerEncoderLayer steps: the live buffers after step 2 and step 4 are the same, and match the live tensors', async () => {
    const prev = getBackend().name;
    setBackend('webgpu');
    try {
      manualSeed(5);
      const layers = [
        new LSTM({ inputSize: 3, hiddenSize: 4, bidirectional: true }),
        new GRU({ inputSize: 3, hiddenSize: 4 }),
        new RNN({ inputSize: 3, hiddenSize: 4 }),
        new TransformerEncoderLayer({ dModel: 8, nhead: 2, dimFeedforward: 8, dropout: 0, activation: 'gelu' }),
      ];
      const x = randn([5, 2, 3]);
      const src = randn([5, 2, 8]);
      const step = async () => {
        const loss = tidy(() => {
          let total = sum((layers[3] as TransformerEncoderLayer).forward(src, { isCausal: true }));
          for (const m of layers.slice(0, 3)) total = total.add(sum((m as LSTM | GRU | RNN).forward(x)[0]));
          total.backward();
          return total.detach().clone();
        });
        await loss.data();
        loss.dispose();
        for (const m of layers) m.zeroGrad();
      };
      const live: number[] = [];
      for (let i = 0; i < 4; i++) {
        await step();
        live.push(found!.heap().liveBlocks);
      }
      expect(live[3]).toBe(live[1]);
      expect(live[3]).toBe(memory().backends.webgpu.numStorages);
    } finally {
      setBackend(prev);
    }
  });
});
