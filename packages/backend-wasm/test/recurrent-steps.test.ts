// A recurrent layer's whole forward pass, and its loop backward through time, in one kernel
// call each (recurrentSteps, recurrentStepsBack, split by blocks of four batch rows, each
// block running every step) against the loop of a product and a gate pass a step that
// they replace: the same bits, on one thread and on two, for
// each cell, both directions, hidden sizes whose gates are not whole panels of 8, with
// the activations saved (training) or not (inference), GRU with and without its bias, the
// RNN's two nonlinearities, and initial states whose rows lie apart (copied for the
// product). The loop hands products under 4,096 multiply-adds to the cpu code, whose sums
// round differently: there the two agree to float32 rounding. A batch that is not a
// multiple of 4, or initial states whose rows are not contiguous, keep the loop.
import { GRU, LSTM, RNN } from '@ml/nn';
import { noGrad } from '@ml/autograd';
import { manualSeed, narrow, randn, setBackend, tidy, transpose, type Tensor } from '@ml/tensor';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { enableRelaxedSimd, registerWasmBackend, type WasmBackend } from '../src/index.js';
import type { WasmGatePasses } from '../src/backend-recurrent.js';
import { MemoryFullError } from '../src/heap.js';

enableRelaxedSimd();
const backends: Record<number, WasmBackend> = {
  1: registerWasmBackend({ threads: 1, name: 'wasm-steps-1t' }),
  2: registerWasmBackend({ threads: 2, name: 'wasm-steps-2t' }),
};
beforeAll(async () => {
  await backends[2].gemm.whenReady();
});
afterAll(() => setBackend('cpu'));

/** The backend's gate passes (its host kernels' `gates`, a protected field). */
const passes = (b: WasmBackend): WasmGatePasses => (b as unknown as { hostIO: { gates: WasmGatePasses } }).hostIO.gates;

type Cell = 'lstm' | 'gru' | 'rnn';
interface Case {
  cell: Cell;
  B: number;
  L: number;
  H: number;
  bidirectional?: boolean;
  train?: boolean;
  bias?: boolean;
  relu?: boolean;
  /** initial states whose rows lie H + 3 floats apart (a narrow) */
  stridedH0?: boolean;
  /** initial states read through a transpose (not contiguous within a row) */
  transposedH0?: boolean;
}

/** The layer's outputs (and, training, every gradient) with the one-call forward on or off, and the calls it made. */
function run(b: WasmBackend, c: Case, on: boolean): { values: number[][]; calls: number; backCalls: number } {
  setBackend(b.name);
  const p = passes(b);
  p.sequences = on;
  const [before, backBefore] = [p.counts.sequence, p.counts.sequenceBackward];
  try {
    const values = tidy(() => {
      manualSeed(11);
      const o = { inputSize: 10, hiddenSize: c.H, numLayers: 2, bidirectional: c.bidirectional ?? false, batchFirst: true, bias: c.bias ?? true };
      const layer = c.cell === 'lstm' ? new LSTM(o) : c.cell === 'gru' ? new GRU(o) : new RNN({ ...o, nonlinearity: c.relu ? 'relu' : 'tanh' });
      const D = (c.bidirectional ? 2 : 1) * 2;
      const x = randn([c.B, c.L, 10]);
      // the initial states' leaves (their gradients are checked too: ∂h0 and ∂c0 come from the carried state)
      const leaves = [0, 1].map(() => (c.transposedH0 ? randn([D, c.H, c.B]) : c.stridedH0 ? randn([D, c.B, c.H + 3]) : randn([D, c.B, c.H])));
      const state = (leaf: Tensor): Tensor => (c.transposedH0 ? transpose(leaf, 1, 2) : c.stridedH0 ? narrow(leaf, 2, 0, c.H) : leaf);
      const forward = (): Tensor[] => (layer instanceof LSTM ? ((r) => [r[0], ...r[1]])(layer.forward(x, [state(leaves[0]), state(leaves[1])])) : (layer as GRU | RNN).forward(x, state(leaves[0])));
      if (!c.train) return noGrad(forward).map((t) => Array.from(t.dataSync()));
      x.requiresGrad_();
      leaves.forEach((l) => l.requiresGrad_());
      const out = forward();
      out.map((y) => y.mul(randn(y.shape)).sum()).reduce((s, t) => s.add(t)).backward();
      const stateGrads = (c.cell === 'lstm' ? leaves : leaves.slice(0, 1)).map((l) => l.grad!);
      return [...out, x.grad!, ...stateGrads, ...layer.parameters().map((q) => q.grad!)].map((t) => Array.from(t.dataSync()));
    });
    return { values, calls: p.counts.sequence - before, backCalls: p.counts.sequenceBackward - backBefore };
  } finally {
    p.sequences = true;
  }
}

const CASES: Case[] = [
  { cell: 'lstm', B: 16, L: 9, H: 24, train: true },
  { cell: 'lstm', B: 8, L: 5, H: 20, bidirectional: true }, // 4H = 80: whole panels
  { cell: 'lstm', B: 12, L: 3, H: 7, bidirectional: true, train: true }, // 4H = 28: a panel of 4 padded
  { cell: 'lstm', B: 4, L: 6, H: 16, stridedH0: true },
  { cell: 'gru', B: 16, L: 9, H: 24, train: true },
  { cell: 'gru', B: 8, L: 4, H: 13, bidirectional: true, train: true }, // 3H = 39
  { cell: 'gru', B: 8, L: 4, H: 16, bias: false, train: true },
  { cell: 'gru', B: 12, L: 5, H: 8, stridedH0: true },
  { cell: 'rnn', B: 16, L: 9, H: 24, train: true },
  { cell: 'rnn', B: 8, L: 6, H: 5, bidirectional: true, relu: true, train: true },
  { cell: 'rnn', B: 20, L: 4, H: 32, stridedH0: true, relu: true },
];

describe.each([1, 2])('recurrentSteps, %i thread(s): the loop it replaces, bit for bit', (threads) => {
  const b = backends[threads];
  it.each(CASES.map((c) => [`${c.cell} B ${c.B} L ${c.L} H ${c.H}${c.bidirectional ? ' bidirectional' : ''}${c.train ? ', training' : ''}${c.bias === false ? ', no bias' : ''}${c.relu ? ', relu' : ''}${c.stridedH0 ? ', h0 rows apart' : ''}`, c] as const))('%s', (_name, c) => {
    const on = run(b, c, true);
    const off = run(b, c, false);
    // one call per layer and direction, each way
    expect(on.calls).toBe(2 * (c.bidirectional ? 2 : 1));
    expect(on.backCalls).toBe(c.train ? on.calls : 0);
    expect(off.calls + off.backCalls).toBe(0);
    expect(on.values.length).toBe(off.values.length);
    const G = { lstm: 4, gru: 3, rnn: 1 }[c.cell];
    const exact = c.B * c.H * G * c.H >= 4096; // the loop's products on the wasm gemm too
    on.values.forEach((v, k) => {
      expect(v.length).toBe(off.values[k].length);
      const bad = v.findIndex((x, i) => (exact ? !Object.is(x, off.values[k][i]) : !(Math.abs(x - off.values[k][i]) <= 1e-5 * (1 + Math.abs(off.values[k][i])))));
      expect(bad, `output ${k}, element ${bad}: ${v[bad]} against ${off.values[k][bad]}`).toBe(-1);
    });
  });

  it('keeps the loop when the memory has no room for its work blocks', () => {
    const c: Case = { cell: 'lstm', B: 8, L: 4, H: 24, train: true };
    const want = run(b, c, false).values;
    // every work block refused: the whole-sequence calls decline, the products fall back to cpu code
    const full = vi.spyOn(b.gemm, 'alloc').mockImplementation(() => {
      throw new MemoryFullError('full');
    });
    try {
      const got = run(b, c, true);
      expect(got.calls + got.backCalls).toBe(0);
      got.values.forEach((v, k) => v.forEach((x, i) => expect(Math.abs(x - want[k][i])).toBeLessThan(1e-4 * (1 + Math.abs(want[k][i])))));
    } finally {
      full.mockRestore();
    }
  });

  it.each([
    ['a batch that is not a multiple of 4', { cell: 'lstm', B: 6, L: 4, H: 24, train: true }],
    ['initial states not contiguous within a row', { cell: 'gru', B: 8, L: 4, H: 24, transposedH0: true }],
  ] as const)('keeps the loop for %s', (_what, c: Case) => {
    const on = run(b, c, true);
    expect(on.calls + on.backCalls).toBe(0);
    expect(on.values).toEqual(run(b, c, false).values);
  });
});
