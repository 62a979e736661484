// lstmCell and lstmCellBackward: the composites and the host kernels (through a test-only
// backend offering them) against a plain-JavaScript LSTM step in float64, and the backward
// against central differences of that step.
import { describe, expect, it } from 'vitest';
import type { DataId, SaveForBackward, View } from '../src/backend.js';
import { CpuBackend } from '../src/backends/cpu.js';
import { lstmCellBackwardHost, lstmCellHost, type HostKernelIO } from '../src/backends/host-recurrent.js';
import type { DType } from '../src/dtype.js';
import { registerBackend } from '../src/engine.js';
import { fromArray, lstmCell, lstmCellBackward, manualSeed, narrow, randn, transpose, type Tensor } from '../src/index.js';
import { fromData } from '../src/backend-api.js';
import { registerCompositeBackend } from '../src/testing/index.js';

/** The cpu backend offering the host LSTM kernels, counting the calls that ran them. */
class LstmCpu extends CpuBackend {
  override readonly name = 'cpu-lstm-test';
  readonly calls = { forward: 0, backward: 0, keep: 0 };
  readonly #io: HostKernelIO = {
    array: (d) => this.hostArray(d),
    alloc: (dtype, n) => this.alloc.array(dtype, n),
    wrap: (a) => this.write(a, 'float32'), // cpu's write wraps the array without a copy
    matmul: (a, b) => this.matmul(a, b),
    dispose: (d) => this.dispose(d),
    keep: () => void this.calls.keep++,
  };
  override lstmCell(xw: View, h: View, c: View, whh: View, save: SaveForBackward): DataId | null {
    const out = lstmCellHost(this.#io, xw, h, c, whh, save);
    if (out !== null) this.calls.forward++;
    return out;
  }
  override lstmCellBackward(xw: View, h: View, c: View, whh: View, dy: View, saved: readonly View[]): DataId | null {
    const out = lstmCellBackwardHost(this.#io, xw, h, c, whh, dy, saved);
    if (out !== null) this.calls.backward++;
    return out;
  }
}
const lstmCpu = new LstmCpu();
registerBackend(lstmCpu);

/** The cpu backend with the LSTM kernels declined: the ops run their composites. */
const COMPOSITE = registerCompositeBackend('cpu-lstm-composite', ['lstmCell', 'lstmCellBackward']).name;

// ---- the reference: one LSTM step on plain arrays, written from the equations

interface Step {
  xw: number[];
  h: number[];
  c: number[];
  whh: number[];
  B: number;
  H: number;
}
const sig = (a: number) => 1 / (1 + Math.exp(-a));

/** [h' | c'] row by row: a = xw + h·whhᵀ, c' = σ(a_f)c + σ(a_i)tanh(a_g), h' = σ(a_o)tanh(c'). */
function referenceStep(s: Step): number[] {
  const { B, H } = s;
  const out = new Array<number>(B * 2 * H);
  for (let b = 0; b < B; b++) {
    const a = (k: number, j: number) => {
      let v = s.xw[b * 4 * H + k * H + j];
      for (let m = 0; m < H; m++) v += s.h[b * H + m] * s.whh[(k * H + j) * H + m];
      return v;
    };
    for (let j = 0; j < H; j++) {
      const c1 = sig(a(1, j)) * s.c[b * H + j] + sig(a(0, j)) * Math.tanh(a(2, j));
      out[b * 2 * H + j] = sig(a(3, j)) * Math.tanh(c1);
      out[b * 2 * H + H + j] = c1;
    }
  }
  return out;
}

/** ∂/∂xw and ∂/∂c of Σ dy ∘ step, by central differences: [B, 5H] = [∂xw | ∂c] row by row. */
function referenceBackward(s: Step, dy: number[]): number[] {
  const { B, H } = s;
  const loss = (t: Step) => referenceStep(t).reduce((acc, v, k) => acc + v * dy[k], 0);
  const eps = 1e-6;
  const diff = (key: 'xw' | 'c', k: number) => {
    const plus = { ...s, [key]: s[key].map((v, q) => (q === k ? v + eps : v)) };
    const minus = { ...s, [key]: s[key].map((v, q) => (q === k ? v - eps : v)) };
    return (loss(plus) - loss(minus)) / (2 * eps);
  };
  const out = new Array<number>(B * 5 * H);
  for (let b = 0; b < B; b++) {
    for (let q = 0; q < 4 * H; q++) out[b * 5 * H + q] = diff('xw', b * 4 * H + q);
    for (let j = 0; j < H; j++) out[b * 5 * H + 4 * H + j] = diff('c', b * H + j);
  }
  return out;
}

const values = (t: Tensor) => Array.from(t.dataSync());

function randomStep(B: number, H: number, dtype: DType, backend: string): { s: Step; t: Tensor[] } {
  const t = [randn([B, 4 * H], { dtype, backend }), randn([B, H], { dtype, backend }), randn([B, H], { dtype, backend }), randn([4 * H, H], { dtype, backend }).mul(0.5)];
  const [xw, h, c, whh] = t.map(values);
  return { s: { xw, h, c, whh, B, H }, t };
}

function expectClose(actual: number[], expected: number[], tol: number): void {
  expect(actual.length).toBe(expected.length);
  const worst = Math.max(0, ...actual.map((v, i) => Math.abs(v - expected[i]) / (1 + Math.abs(expected[i]))));
  expect(worst).toBeLessThan(tol);
}

const SIZES: [number, number][] = [[1, 1], [1, 3], [4, 1], [3, 5], [2, 8], [5, 7]];

describe('lstmCell: one LSTM step, [h | c] in one tensor', () => {
  it.each(SIZES)('B=%i, H=%i: composite and host kernel equal the reference step (float64)', (B, H) => {
    manualSeed(B * 100 + H);
    const { s, t } = randomStep(B, H, 'float64', COMPOSITE);
    const want = referenceStep(s);
    expectClose(values(lstmCell(t[0], t[1], t[2], t[3])), want, 1e-13);
    const before = lstmCpu.calls.forward;
    const onKernel = t.map((x) => fromArray(x.dataSync(), x.shape, { dtype: 'float64', backend: lstmCpu.name }));
    expectClose(values(lstmCell(onKernel[0], onKernel[1], onKernel[2], onKernel[3])), want, 1e-13);
    expect(lstmCpu.calls.forward).toBe(before + 1);
  });

  it('float32: the kernel agrees with the composite to float32 rounding', () => {
    manualSeed(32);
    const { t } = randomStep(6, 9, 'float32', COMPOSITE);
    const composite = values(lstmCell(t[0], t[1], t[2], t[3]));
    const onKernel = t.map((x) => fromArray(x.dataSync(), x.shape, { dtype: 'float32', backend: lstmCpu.name }));
    expectClose(values(lstmCell(onKernel[0], onKernel[1], onKernel[2], onKernel[3])), composite, 2e-6);
  });

  it('reads h and c as the row-strided halves of the previous [h | c], and xw as a slice', () => {
    manualSeed(5);
    const [B, H] = [3, 4];
    const { s, t } = randomStep(B, H, 'float64', lstmCpu.name);
    const before = lstmCpu.calls.forward;
    const hcRows: number[] = [];
    for (let b = 0; b < B; b++) hcRows.push(...s.h.slice(b * H, (b + 1) * H), ...s.c.slice(b * H, (b + 1) * H));
    const hc = fromArray(hcRows, [B, 2 * H], { dtype: 'float64', backend: lstmCpu.name });
    const xwRows: number[] = [];
    for (let b = 0; b < B; b++) xwRows.push(7, ...s.xw.slice(b * 4 * H, (b + 1) * 4 * H), -7);
    const xwStrided = narrow(fromArray(xwRows, [B, 4 * H + 2], { dtype: 'float64', backend: lstmCpu.name }), 1, 1, 4 * H); // row stride 4H + 2
    const y = lstmCell(xwStrided, narrow(hc, 1, 0, H), narrow(hc, 1, H, H), t[3]);
    expectClose(values(y), referenceStep(s), 1e-13);
    expect(lstmCpu.calls.forward).toBe(before + 1);
  });

  it('declines rows that are not contiguous (a transposed xw): the composite runs', () => {
    manualSeed(7);
    const { s, t } = randomStep(3, 2, 'float64', lstmCpu.name);
    const xwT = fromArray(s.xw, [3, 8], { dtype: 'float64', backend: lstmCpu.name }).T.contiguous().T; // strides [1, 3]
    const before = lstmCpu.calls.forward;
    expectClose(values(lstmCell(xwT, t[1], t[2], t[3])), referenceStep(s), 1e-13);
    expect(lstmCpu.calls.forward).toBe(before);
  });

  it('whh given transposed (a strided view) still works through the backend product', () => {
    manualSeed(6);
    const { s, t } = randomStep(2, 3, 'float64', lstmCpu.name);
    const wT = fromArray(s.whh, [12, 3], { dtype: 'float64', backend: lstmCpu.name }).T.contiguous();
    expectClose(values(lstmCell(t[0], t[1], t[2], transpose(wT, 0, 1))), referenceStep(s), 1e-13);
  });

  it('checks shapes and dtypes, naming the operands', () => {
    const f = (shape: number[], dtype: DType = 'float32') => randn(shape, { dtype });
    expect(() => lstmCell(f([2, 12]), f([2, 3]), f([2, 3]), f([12, 4]))).toThrow(/lstmCell: whh must be \[12,3\] for h \[2,3\]/);
    expect(() => lstmCell(f([2, 8]), f([2, 3]), f([2, 3]), f([12, 3]))).toThrow(/xw must be \[2,12\]/);
    expect(() => lstmCell(f([2, 12]), f([2, 3]), f([1, 3]), f([12, 3]))).toThrow(/c must be \[2,3\]/);
    expect(() => lstmCell(f([2, 12]), f([2, 3]), f([2, 3], 'float64'), f([12, 3]))).toThrow(/c is float64 but xw is float32/);
    expect(() => lstmCell(f([12]), f([2, 3]), f([2, 3]), f([12, 3]))).toThrow(/xw must be 2-D/);
  });
});

describe('lstmCellBackward: [∂xw | ∂c] for dy = [∂h | ∂c]', () => {
  it.each(SIZES)('B=%i, H=%i: composite, kernel from saved gates and kernel recomputing them equal central differences', (B, H) => {
    manualSeed(B * 1000 + H);
    const { s, t } = randomStep(B, H, 'float64', COMPOSITE);
    const dyT = randn([B, 2 * H], { dtype: 'float64', backend: COMPOSITE });
    const want = referenceBackward(s, values(dyT));
    const composite = values(lstmCellBackward(t[0], t[1], t[2], t[3], dyT));
    expectClose(composite, want, 1e-8);

    const k = [...t, dyT].map((x) => fromArray(x.dataSync(), x.shape, { dtype: 'float64', backend: lstmCpu.name }));
    const before = lstmCpu.calls.backward;
    const recomputed = values(lstmCellBackward(k[0], k[1], k[2], k[3], k[4]));
    // what the forward kernel saves: run it with a save callback
    const kept: Tensor[] = [];
    const keeps = lstmCpu.calls.keep;
    const v = (x: Tensor) => x.view_();
    lstmCpu.lstmCell(v(k[0]), v(k[1]), v(k[2]), v(k[3]), (data, shape, dtype) => void kept.push(fromData(lstmCpu, data, shape, dtype)));
    expect(kept.map((x) => x.shape)).toEqual([[B, 5 * H]]);
    expect(lstmCpu.calls.keep).toBe(keeps + 1); // taken out of the primitive's temporaries before it is saved
    lstmCpu.lstmCell(v(k[0]), v(k[1]), v(k[2]), v(k[3]), null);
    expect(lstmCpu.calls.keep).toBe(keeps + 1); // nothing kept when no gradient will be asked for
    const fromSaved = values(lstmCellBackward(k[0], k[1], k[2], k[3], k[4], kept));
    expect(lstmCpu.calls.backward).toBe(before + 2);
    expectClose(recomputed, composite, 1e-13);
    expectClose(fromSaved, composite, 1e-13);
  });

  it('checks dy against the output shape', () => {
    const f = (shape: number[]) => randn(shape);
    expect(() => lstmCellBackward(f([2, 12]), f([2, 3]), f([2, 3]), f([12, 3]), f([2, 3]))).toThrow(/dy must be \[2,6\]/);
  });
});
