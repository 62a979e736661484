// The whole-sequence recurrent ops on the wasm backend: CpuBackend's host kernels run there
// with the wasm gemm as their per-step product, in the module memory. Each layer's outputs
// and gradients equal the composite path (float32 and float64), the kernels really ran,
// and repeated training steps leave no memory behind (the per-step products go back, the
// saved activations live as long as their graph).
import '@ml/autograd';
import { GRU, LSTM, RNN } from '@ml/nn';
import { lstmSequence, manualSeed, memory, narrow, randn, tidy, transpose, type DType, type Tensor } from '@ml/tensor';
import { onBackend as on, registerCompositeBackend } from '@ml/tensor/testing';
import { describe, expect, it, vi } from 'vitest';
import { enableRelaxedSimd, registerWasmBackend, type WasmBackend } from '../src/index.js';

enableRelaxedSimd();
const wasm: WasmBackend = registerWasmBackend({ threads: 1, name: 'wasm-sequence-test' });
const COMPOSITE = registerCompositeBackend('cpu-sequence-composite-wasm-test', [
  'lstmCell', 'lstmCellBackward', 'lstmSequence', 'lstmSequenceBackward', 'gruSequence', 'gruSequenceBackward', 'rnnSequence', 'rnnSequenceBackward',
]).name;

const METHODS = ['lstmSequence', 'lstmSequenceBackward', 'gruSequence', 'gruSequenceBackward', 'rnnSequence', 'rnnSequenceBackward'] as const;

/** Run `f` and count the sequence kernel calls on the wasm backend that gave a result. */
function counting<R>(f: () => R): { result: R; ran: Record<(typeof METHODS)[number], number> } {
  const spies = METHODS.map((m) => vi.spyOn(wasm, m));
  try {
    const result = f();
    const ran = Object.fromEntries(METHODS.map((m, i) => [m, spies[i].mock.results.filter((r) => r.type === 'return' && r.value !== null).length]));
    return { result, ran: ran as Record<(typeof METHODS)[number], number> };
  } finally {
    spies.forEach((s) => s.mockRestore());
  }
}

function expectClose(actual: number[], expected: number[], tol: number, label: string): void {
  expect(actual.length, label).toBe(expected.length);
  const worst = Math.max(0, ...actual.map((v, i) => Math.abs(v - expected[i]) / (1 + Math.abs(expected[i]))));
  expect(worst, label).toBeLessThan(tol);
}

type Mode = 'lstm' | 'gru' | 'rnn';

/** A seeded 2-layer bidirectional batch-first layer's training step: outputs and every gradient as plain arrays. */
function step(mode: Mode, dtype: DType): number[][] {
  return tidy(() => {
    manualSeed(5);
    const o = { inputSize: 12, hiddenSize: 24, numLayers: 2, bidirectional: true, batchFirst: true, dtype };
    const layer = mode === 'lstm' ? new LSTM(o) : mode === 'gru' ? new GRU(o) : new RNN({ ...o, nonlinearity: 'relu' });
    const x = randn([16, 7, 12], { dtype }).requiresGrad_();
    const h0 = randn([4, 16, 24], { dtype }).requiresGrad_();
    const out: Tensor[] = layer instanceof LSTM ? ((r) => [r[0], ...r[1]])(layer.forward(x, [h0, randn([4, 16, 24], { dtype })])) : layer.forward(x, h0);
    out.map((y) => y.mul(randn(y.shape, { dtype })).sum()).reduce((a, b) => a.add(b)).backward();
    return [...out, x.grad!, h0.grad!, ...layer.parameters().map((p) => p.grad!)].map((t) => Array.from(t.dataSync()));
  });
}

describe('the sequence layers on wasm run on the sequence kernels and equal the composite path', () => {
  it.each([
    ['lstm', 'float32', 2e-4],
    ['gru', 'float32', 2e-4],
    ['rnn', 'float32', 2e-4],
    ['lstm', 'float64', 1e-12],
    ['gru', 'float64', 1e-12],
    ['rnn', 'float64', 1e-12],
  ] as const)('%s (%s): outputs and every gradient; one forward and one backward kernel per layer-direction, W_hh packed once in each', (mode, dtype, tol) => {
    const before = wasm.stats.wasm;
    const packs = vi.spyOn(wasm.gemm, 'packInto');
    const { result: got, ran } = counting(() => on(wasm.name, () => step(mode, dtype)));
    // float32: W_hh (or its transpose) packed once per layer-direction and pass, not at each of the 7 steps
    expect(packs.mock.calls.length).toBe(dtype === 'float32' ? 8 : 0);
    packs.mockRestore();
    expect(ran[`${mode}Sequence`]).toBe(4);
    expect(ran[`${mode}SequenceBackward`]).toBe(4);
    if (dtype === 'float32') expect(wasm.stats.wasm).toBeGreaterThan(before); // the per-step products ran on the wasm gemm
    const want = on(COMPOSITE, () => step(mode, dtype));
    got.forEach((v, i) => expectClose(v, want[i], tol, `${mode} result ${i}`));
  });

  it('reads strided operands in the module memory (x a batch-first transpose of a narrow, h0 and c0 row-strided)', () => {
    const run = (name: string) =>
      on(name, () =>
        tidy(() => {
          manualSeed(9);
          const x = transpose(narrow(randn([8, 5, 4 * 16 + 3]), 2, 2, 4 * 16), 0, 1);
          const hc = randn([8, 2 * 16]);
          return Array.from(lstmSequence(x, narrow(hc, 1, 0, 16), narrow(hc, 1, 16, 16), randn([4 * 16, 16]), { reverse: true }).dataSync());
        }),
      );
    const { result, ran } = counting(() => run(wasm.name));
    expect(ran.lstmSequence).toBe(1);
    expectClose(result, run(COMPOSITE), 2e-5, 'lstmSequence');
  });

  it('training steps leave no tensors or memory blocks behind (the per-step products go back, the saved activations with their graph)', () => {
    on(wasm.name, () => {
      for (const mode of ['lstm', 'gru', 'rnn'] as const) {
        const o = { inputSize: 12, hiddenSize: 24, numLayers: 2, bidirectional: true };
        const layer = mode === 'lstm' ? new LSTM(o) : mode === 'gru' ? new GRU(o) : new RNN(o);
        const x = randn([7, 16, 12]).keep();
        const once = () =>
          tidy(() => {
            layer.zeroGrad();
            const [y] = layer instanceof LSTM ? layer.forward(x) : layer.forward(x);
            y.square().mean().backward();
          });
        once();
        const [tensors, heap] = [memory().numTensors, wasm.heap().liveBytes];
        once();
        once();
        expect(memory().numTensors, mode).toBe(tensors);
        expect(wasm.heap().liveBytes, mode).toBe(heap);
      }
    });
  });
});
