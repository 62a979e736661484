// The recurrent ops' gate passes on the SIMD kernels (kernels/recurrent.ts through
// backend-recurrent.ts). Each pass against the gate equations evaluated in float64 on the
// same float32 inputs, over odd hidden sizes (the one-column tail), one row, padded rows at
// unaligned addresses, absent and in-place operands, with nothing written outside the
// rows; then the ops and the nn layers on wasm against the cpu backend (values and
// gradients), with the kernels' use checked by a spy, and memory flat over training steps.
import '@ml/autograd';
import { GRU, LSTM, RNN } from '@ml/nn';
import * as T from '@ml/tensor';
import { manualSeed, memory, randn, tidy, type DType, type Tensor } from '@ml/tensor';
import { flushTiny, GRADIENT_FLUSH_BELOW, type Rows } from '@ml/tensor/backend';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WasmGatePasses } from '../src/backend-recurrent.js';
import { enableRelaxedSimd, registerWasmBackend, type WasmBackend } from '../src/index.js';
import { onBackend as on } from '@ml/tensor/testing';

enableRelaxedSimd();
const wasm: WasmBackend = registerWasmBackend({ threads: 1, name: 'wasm-gates-test' });
const passes = new WasmGatePasses(wasm.gemm);

// ------------------------------------------------------------------ operands in the module memory

/** A seeded generator of normal values (mulberry32 + Box–Muller). */
function normals(seed: number): (scale?: number) => number {
  let s = seed >>> 0;
  const u = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  return (scale = 1) => scale * Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

const SENTINEL = 7.5;
const taken: Float32Array[] = [];
afterEach(() => {
  taken.splice(0).forEach((a) => wasm.gemm.heap.freeArray(a));
});

/** B rows of C floats in the module memory, `pad` floats apart and `off` floats in (unaligned when off % 4 ≠ 0). */
class Operand {
  readonly rows: Rows;
  readonly a: Float32Array;
  readonly stride: number;
  readonly off: number;
  constructor(readonly B: number, readonly C: number, pad: number, off: number, fill: (b: number, j: number) => number) {
    const stride = C + pad;
    this.a = wasm.gemm.heap.array('float32', off + B * stride + 3) as Float32Array;
    expect(wasm.gemm.heap.owns(this.a)).toBe(true);
    taken.push(this.a);
    this.a.fill(SENTINEL);
    this.rows = { a: this.a, off, stride: B === 1 && pad > 0 ? 12345 : stride }; // one row: its stride is never used
    for (let b = 0; b < B; b++) for (let j = 0; j < C; j++) this.a[off + b * stride + j] = fill(b, j);
    this.stride = stride;
    this.off = off;
  }
  at(b: number, j: number): number {
    return this.a[this.off + b * this.stride + j];
  }
  /** every element outside the rows still holds the sentinel */
  untouchedOutside(): boolean {
    const inRow = (k: number) => k >= this.off && (k - this.off) % this.stride < this.C && k < this.off + this.B * this.stride;
    return this.a.every((v, k) => inRow(k) || v === SENTINEL);
  }
}

/** Check `got` (rows of float32) against float64 values `want(b, j)`: |got − want| ≤ tol·(1 + |want|). */
function expectRows(got: Operand, want: (b: number, j: number) => number, tol: number, label: string): void {
  let worst = 0;
  for (let b = 0; b < got.B; b++) for (let j = 0; j < got.C; j++) {
    const w = want(b, j);
    const e = Math.abs(got.at(b, j) - w) / (1 + Math.abs(w));
    if (!(e <= worst)) worst = e;
  }
  expect(worst, label).toBeLessThan(tol);
  expect(got.untouchedOutside(), `${label}: nothing written outside the rows`).toBe(true);
}

const sig = (a: number) => 1 / (1 + Math.exp(-a));
const TOL = 1e-6;

/** The shapes each pass runs on: odd and even H (tails of 1 to 3 columns and none), one row, padded rows. */
const SHAPES = [
  { B: 1, H: 1, pad: 0 },
  { B: 3, H: 3, pad: 2 },
  { B: 2, H: 4, pad: 0 },
  { B: 4, H: 5, pad: 3 },
  { B: 1, H: 13, pad: 1 },
  { B: 5, H: 16, pad: 5 },
  { B: 3, H: 30, pad: 1 },
];

// ------------------------------------------------------------------ each pass against the equations

describe('the gate passes on the SIMD kernels equal the gate equations in float64', () => {
  it.each(SHAPES)('lstm forward (B $B, H $H, row padding $pad): [h | c] and the saved i, f, g, o, tanh c', ({ B, H, pad }) => {
    for (const [withOut, withActs] of [[true, true], [true, false], [false, true]]) {
      const r = normals(B * 100 + H);
      const x = new Operand(B, 4 * H, pad, 1, () => r(2));
      const hw = new Operand(B, 4 * H, 0, 0, () => r(2));
      const c = new Operand(B, H, pad + 1, 3, () => r(3));
      const out = new Operand(B, 2 * H, pad, 2, () => SENTINEL);
      const acts = new Operand(B, 5 * H, 0, 1, () => SENTINEL);
      expect(passes.lstm({ B, H, x: x.rows, hw: hw.rows, c: c.rows, out: withOut ? out.rows : null, acts: withActs ? acts.rows : null })).toBe(true);
      const a = (b: number, k: number, j: number) => x.at(b, k * H + j) + hw.at(b, k * H + j);
      const gate = (b: number, j: number) => ({ i: sig(a(b, 0, j)), f: sig(a(b, 1, j)), g: Math.tanh(a(b, 2, j)), o: sig(a(b, 3, j)) });
      const cNew = (b: number, j: number) => ((g) => g.f * c.at(b, j) + g.i * g.g)(gate(b, j));
      if (withOut) expectRows(out, (b, j) => (j < H ? gate(b, j).o * Math.tanh(cNew(b, j)) : cNew(b, j - H)), TOL, 'out');
      else expect(out.a.every((v) => v === SENTINEL)).toBe(true);
      if (withActs) expectRows(acts, (b, j) => ((k, jj) => (k === 4 ? Math.tanh(cNew(b, jj)) : Object.values(gate(b, jj))[k]))(Math.floor(j / H), j % H), TOL, 'acts');
      else expect(acts.a.every((v) => v === SENTINEL)).toBe(true);
    }
  });

  it.each(SHAPES)('lstm backward (B $B, H $H, row padding $pad): gate gradients and ∂c·f, with and without the carried ∂h and ∂c (in place)', ({ B, H, pad }) => {
    for (const carried of [true, false]) {
      const r = normals(B * 7 + H);
      const sigs = () => sig(r(2));
      const acts = new Operand(B, 5 * H, pad, 1, (_, j) => (j < 2 * H || (j >= 3 * H && j < 4 * H) ? sigs() : Math.tanh(r(2))));
      const d = new Operand(B, 2 * H, pad, 0, () => r());
      const dh = new Operand(B, H, 0, 0, () => r());
      const c = new Operand(B, H, pad, 2, () => r(2));
      const grads = new Operand(B, 4 * H, 0, 3, () => SENTINEL);
      const dc = new Operand(B, H, 3 * H + pad, 1, () => r()); // ∂c carried in, ∂c·f out, in place
      const dcIn = Float64Array.from({ length: B * H }, (_, k) => dc.at(Math.floor(k / H), k % H));
      const cell = new Operand(B, H, 0, 0, () => SENTINEL); // the cell's ∂c·f when nothing is carried
      const dcOut = carried ? dc : cell;
      expect(passes.lstmBackward({ B, H, acts: acts.rows, d: d.rows, dh: carried ? dh.rows : null, c: c.rows, dcIn: carried ? dc.rows : null, dcOut: dcOut.rows, grads: grads.rows })).toBe(true);
      const v = (b: number, k: number, j: number) => acts.at(b, k * H + j);
      const dhAt = (b: number, j: number) => d.at(b, j) + (carried ? dh.at(b, j) : 0);
      const dcAt = (b: number, j: number) => d.at(b, H + j) + (carried ? dcIn[b * H + j] : 0) + dhAt(b, j) * v(b, 3, j) * (1 - v(b, 4, j) ** 2);
      const want = (b: number, k: number, j: number) => {
        const [i, f, g, o, tc] = [0, 1, 2, 3, 4].map((q) => v(b, q, j));
        return [dcAt(b, j) * g * i * (1 - i), dcAt(b, j) * c.at(b, j) * f * (1 - f), dcAt(b, j) * i * (1 - g * g), dhAt(b, j) * tc * o * (1 - o)][k];
      };
      expectRows(grads, (b, j) => want(b, Math.floor(j / H), j % H), TOL, 'gate gradients');
      expectRows(dcOut, (b, j) => dcAt(b, j) * v(b, 1, j), TOL, '∂c·f');
    }
  });

  it.each(SHAPES)('gru forward (B $B, H $H, row padding $pad): h and the saved r, z, n, hn, each or both, with and without the bias', ({ B, H, pad }) => {
    for (const [withBias, withOut, withActs] of [[true, true, true], [false, true, true], [true, true, false], [false, false, true]]) {
      const r = normals(B * 31 + H);
      const x = new Operand(B, 3 * H, pad, 2, () => r(2));
      const hw = new Operand(B, 3 * H, 0, 0, () => r(2));
      const bias = new Operand(1, 3 * H, 0, 1, () => r());
      const h = new Operand(B, H, pad, 0, () => r());
      const out = new Operand(B, H, pad, 1, () => SENTINEL);
      const acts = new Operand(B, 4 * H, 0, 0, () => SENTINEL);
      expect(passes.gru({ B, H, x: x.rows, hw: hw.rows, bias: withBias ? { ...bias.rows, stride: 0 } : null, h: h.rows, out: withOut ? out.rows : null, acts: withActs ? acts.rows : null })).toBe(true);
      const bh = (k: number) => (withBias ? bias.at(0, k) : 0);
      const gate = (b: number, j: number) => {
        const rr = sig(x.at(b, j) + hw.at(b, j) + bh(j));
        const z = sig(x.at(b, H + j) + hw.at(b, H + j) + bh(H + j));
        const hn = hw.at(b, 2 * H + j) + bh(2 * H + j);
        return [rr, z, Math.tanh(x.at(b, 2 * H + j) + rr * hn), hn];
      };
      if (withOut) expectRows(out, (b, j) => ((g) => (1 - g[1]) * g[2] + g[1] * h.at(b, j))(gate(b, j)), TOL, 'h');
      else expect(out.a.every((v) => v === SENTINEL)).toBe(true);
      if (withActs) expectRows(acts, (b, j) => gate(b, j % H)[Math.floor(j / H)], TOL, 'acts');
      else expect(acts.a.every((v) => v === SENTINEL)).toBe(true);
    }
  });

  it.each(SHAPES)('gru backward (B $B, H $H, row padding $pad): [∂r, ∂z, ∂n], [∂r, ∂z, ∂n·r] and the direct ∂h·z (in place)', ({ B, H, pad }) => {
    for (const carried of [true, false]) {
      const r = normals(B * 57 + H);
      const acts = new Operand(B, 4 * H, pad, 0, (_, j) => (j < 2 * H ? sig(r(2)) : j < 3 * H ? Math.tanh(r(2)) : r()));
      const d = new Operand(B, H, pad, 1, () => r());
      const carry = new Operand(B, H, 2 * H, 2, () => r());
      const carryIn = Float64Array.from({ length: B * H }, (_, k) => carry.at(Math.floor(k / H), k % H));
      const dh = new Operand(B, H, 0, 0, () => r());
      const h = new Operand(B, H, pad, 3, () => r());
      const gx = new Operand(B, 3 * H, 0, 0, () => SENTINEL);
      const gh = new Operand(B, 3 * H, pad, 1, () => SENTINEL);
      expect(passes.gruBackward({ B, H, acts: acts.rows, d: d.rows, carry: carry.rows, dh: carried ? dh.rows : null, h: h.rows, gx: gx.rows, gh: gh.rows })).toBe(true);
      const grads = (b: number, j: number) => {
        const [rr, z, n, hn] = [0, 1, 2, 3].map((k) => acts.at(b, k * H + j));
        const g = d.at(b, j) + carryIn[b * H + j] + (carried ? dh.at(b, j) : 0);
        const dn = g * (1 - z) * (1 - n * n);
        return { dr: dn * hn * rr * (1 - rr), dz: g * (h.at(b, j) - n) * z * (1 - z), dn, r: rr, direct: g * z };
      };
      expectRows(gx, (b, j) => ((q) => [q.dr, q.dz, q.dn][Math.floor(j / H)])(grads(b, j % H)), TOL, 'gx');
      expectRows(gh, (b, j) => ((q) => [q.dr, q.dz, q.dn * q.r][Math.floor(j / H)])(grads(b, j % H)), TOL, 'gh');
      expectRows(carry, (b, j) => grads(b, j).direct, TOL, 'carry');
    }
  });

  it.each(SHAPES)('rnn forward and backward, tanh and relu (B $B, H $H, row padding $pad)', ({ B, H, pad }) => {
    for (const tanh of [true, false]) {
      const r = normals(B * 13 + H + (tanh ? 1 : 0));
      const x = new Operand(B, H, pad, 1, () => r(2));
      const hw = new Operand(B, H, 0, 0, () => r(2));
      const out = new Operand(B, H, pad, 2, () => SENTINEL);
      expect(passes.rnn({ B, H, tanh, x: x.rows, hw: hw.rows, out: out.rows })).toBe(true);
      const act = (a: number) => (tanh ? Math.tanh(a) : Math.max(a, 0));
      expectRows(out, (b, j) => act(x.at(b, j) + hw.at(b, j)), TOL, 'y');
      for (const carried of [true, false]) {
        const d = new Operand(B, H, pad, 3, () => r());
        const dh = new Operand(B, H, 0, 0, () => r());
        const g = new Operand(B, H, 0, 1, () => SENTINEL);
        expect(passes.rnnBackward({ B, H, tanh, y: out.rows, d: d.rows, dh: carried ? dh.rows : null, out: g.rows })).toBe(true);
        const dAt = (b: number, j: number) => d.at(b, j) + (carried ? dh.at(b, j) : 0);
        expectRows(g, (b, j) => ((y) => (tanh ? dAt(b, j) * (1 - y * y) : y > 0 ? dAt(b, j) : 0))(out.at(b, j)), TOL, '∂x');
      }
    }
  });

  it('relu gives 0 for NaN and −0 (as the JavaScript loop\'s a > 0 ? a : 0), tanh NaN; saturating inputs give no NaN', () => {
    const xs = [NaN, -0, 1e30, -1e30, 100, -100, 0.5, -0.5];
    const x = new Operand(1, xs.length, 0, 0, (_, j) => xs[j]);
    const zero = new Operand(1, xs.length, 0, 0, () => 0);
    const out = new Operand(1, xs.length, 0, 0, () => SENTINEL);
    passes.rnn({ B: 1, H: xs.length, tanh: false, x: x.rows, hw: zero.rows, out: out.rows });
    expect(Array.from(out.a.subarray(0, xs.length))).toEqual([0, 0, 1e30, 0, 100, 0, 0.5, 0].map(Math.fround));
    expect(Object.is(out.a[1], 0)).toBe(true);
    passes.rnn({ B: 1, H: xs.length, tanh: true, x: x.rows, hw: zero.rows, out: out.rows });
    expect(out.a[0]).toBeNaN();
    expect(Array.from(out.a.subarray(2, 6))).toEqual([1, -1, 1, -1]);
    const H = 2;
    const big = new Operand(1, 4 * H, 0, 0, (_, j) => (j % 2 === 0 ? 1e30 : -1e30));
    const lstmOut = new Operand(1, 2 * H, 0, 0, () => SENTINEL);
    passes.lstm({ B: 1, H, x: big.rows, hw: zero.rows, c: zero.rows, out: lstmOut.rows, acts: null });
    expect(Array.from(lstmOut.a.subarray(0, 4)).every(Number.isFinite)).toBe(true);
  });

  it('the backward passes write gradients under 2⁻¹⁰⁰ as +0, as the JavaScript loops do, and keep the rest, NaN and ∞', () => {
    const T0 = GRADIENT_FLUSH_BELOW;
    const ds = [NaN, Infinity, -Infinity, 2 ** -101, -(2 ** -101), 2 ** -130, -0, T0, -T0, 1.5 * T0, 1, -3];
    const want = [NaN, Infinity, -Infinity, 0, 0, 0, 0, T0, -T0, 1.5 * T0, 1, -3];
    const n = ds.length;
    const d = new Operand(1, n, 0, 0, (_, j) => ds[j]);
    const zero = new Operand(1, n, 0, 0, () => 0);
    const out = new Operand(1, n, 0, 0, () => SENTINEL);
    for (const tanh of [true, false]) {
      // y = 0: tanh' = 1, and relu passes nothing (y > 0 fails) — so y = 1 for relu
      const y = new Operand(1, n, 0, 0, () => (tanh ? 0 : 1));
      passes.rnnBackward({ B: 1, H: n, tanh, y: y.rows, d: d.rows, dh: null, out: out.rows });
      const got = Array.from(out.a.subarray(0, n));
      expect(got.map((v) => (Number.isNaN(v) ? 'NaN' : v)), `rnnBackward (${tanh ? 'tanh' : 'relu'})`).toEqual(want.map((v) => (Number.isNaN(v) ? 'NaN' : v)));
      expect(got.slice(3, 7).every((v) => Object.is(v, 0)), 'flushed to +0').toBe(true);
    }
    // the JavaScript loops' own flush, element by element
    expect(ds.map((v) => flushTiny(Math.fround(v))).map((v) => (Number.isNaN(v) ? 'NaN' : v))).toEqual(want.map((v) => (Number.isNaN(v) ? 'NaN' : v)));
    // the LSTM pass: ∂c = d_c flows into ∂c_{t−1} = ∂c·f with f = 1 (acts [i, f, g, o, tanh c'] = [0, 1, 0, 0, 0])
    const acts = new Operand(1, 5 * n, 0, 0, (_, j) => (Math.floor(j / n) === 1 ? 1 : 0));
    const dLstm = new Operand(1, 2 * n, 0, 0, (_, j) => (j < n ? 0 : ds[j - n]));
    const dcOut = new Operand(1, n, 0, 0, () => SENTINEL);
    const grads = new Operand(1, 4 * n, 0, 0, () => SENTINEL);
    passes.lstmBackward({ B: 1, H: n, acts: acts.rows, d: dLstm.rows, dh: null, c: zero.rows, dcIn: null, dcOut: dcOut.rows, grads: grads.rows });
    expect(Array.from(dcOut.a.subarray(0, n)).map((v) => (Number.isNaN(v) ? 'NaN' : v)), 'lstmBackward ∂c_{t−1}').toEqual(want.map((v) => (Number.isNaN(v) ? 'NaN' : v)));
  });

  it('a forward pass with neither output writes nothing (and is done)', () => {
    const H = 5;
    const x = new Operand(2, 4 * H, 0, 0, () => 1);
    const before = Array.from(x.a);
    expect(passes.lstm({ B: 2, H, x: x.rows, hw: x.rows, c: x.rows, out: null, acts: null })).toBe(true);
    expect(passes.gru({ B: 2, H, x: x.rows, hw: x.rows, bias: null, h: x.rows, out: null, acts: null })).toBe(true);
    expect(Array.from(x.a)).toEqual(before);
  });

  it('declines float64 arrays and arrays outside the module memory, writing nothing', () => {
    const H = 4;
    const inMemory = new Operand(1, 5 * H, 0, 0, () => 1);
    const host: Rows = { a: new Float32Array(4 * H), off: 0, stride: 4 * H };
    const f64: Rows = { a: new Float64Array(4 * H), off: 0, stride: 4 * H };
    const out = new Operand(1, 2 * H, 0, 0, () => SENTINEL);
    for (const x of [host, f64]) expect(passes.lstm({ B: 1, H, x, hw: inMemory.rows, c: inMemory.rows, out: out.rows, acts: null })).toBe(false);
    expect(passes.rnn({ B: 1, H, tanh: true, x: inMemory.rows, hw: inMemory.rows, out: host })).toBe(false);
    expect(out.a.every((v) => v === SENTINEL)).toBe(true);
  });
});

// ------------------------------------------------------------------ the ops and layers on wasm

const KINDS = ['lstm', 'lstmBackward', 'gru', 'gruBackward', 'rnn', 'rnnBackward', 'sequence'] as const;

/** Run `f` counting the gate passes each kind ran on the kernels (a spy on each, returning what the pass returned). */
function spying<R>(f: () => R): { result: R; ran: Record<(typeof KINDS)[number], number> } {
  const spies = KINDS.map((k) => vi.spyOn(WasmGatePasses.prototype, k));
  try {
    const result = f();
    const ran = Object.fromEntries(KINDS.map((k, i) => [k, spies[i].mock.results.filter((r) => r.type === 'return' && r.value === true).length]));
    return { result, ran: ran as Record<(typeof KINDS)[number], number> };
  } finally {
    spies.forEach((s) => s.mockRestore());
  }
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, label: string): void {
  expect(actual.length, label).toBe(expected.length);
  let worst = 0;
  for (let k = 0; k < actual.length; k++) worst = Math.max(worst, Math.abs(actual[k] - expected[k]) / (1 + Math.abs(expected[k])));
  expect(worst, label).toBeLessThan(tol);
}

describe('the sequence ops and the LSTM cell on wasm take the gate kernels and equal the cpu backend', () => {
  const cases = [
    { L: 1, B: 1, H: 3, reverse: false },
    { L: 5, B: 3, H: 13, reverse: true },
    { L: 4, B: 2, H: 8, reverse: false },
  ];

  it.each(cases)('lstmSequence and its backward, with and without the saved activations (L $L, B $B, H $H, reverse $reverse)', ({ L, B, H, reverse }) => {
    const run = (name: string) =>
      on(name, () =>
        tidy(() => {
          manualSeed(L * 10 + H);
          // x a strided view: a narrow of wider rows, batch-first transposed to time-major
          const xw = T.transpose(T.narrow(randn([B, L, 4 * H + 3]), 2, 1, 4 * H), 0, 1);
          const [h0, c0, whh] = [randn([B, H]), randn([B, H]), randn([4 * H, H]).mul(0.5)];
          const y = T.lstmSequence(xw, h0, c0, whh, { reverse });
          const dy = randn([L, B, 2 * H]);
          return [y, T.lstmSequenceBackward(xw, h0, c0, whh, y, dy, { reverse })].map((t) => Array.from(t.dataSync()));
        }),
      );
    const { result, ran } = spying(() => run(wasm.name));
    expect(ran.lstm).toBe(2 * L); // the forward, and the backward's recomputed activations
    expect(ran.lstmBackward).toBe(L);
    const want = run('cpu');
    result.forEach((v, i) => expectClose(v, want[i], 2e-5, `result ${i}`));
  });

  it.each(cases)('gruSequence and rnnSequence (tanh, relu) with their backward passes (L $L, B $B, H $H, reverse $reverse)', ({ L, B, H, reverse }) => {
    const run = (name: string) =>
      on(name, () =>
        tidy(() => {
          manualSeed(L * 7 + H);
          const xp = randn([L, B, 3 * H]);
          const [h0, whh, bhh] = [randn([B, H]), randn([3 * H, H]).mul(0.5), randn([3 * H])];
          const y = T.gruSequence(xp, h0, whh, bhh, { reverse });
          const dy = randn([L, B, H]);
          const out = [y, T.gruSequenceBackward(xp, h0, whh, bhh, y, dy, { reverse }), T.gruSequenceBackward(xp, h0, whh, null, T.gruSequence(xp, h0, whh, null, { reverse }), dy, { reverse })];
          for (const nonlinearity of ['tanh', 'relu'] as const) {
            const xr = T.narrow(xp, 2, H, H);
            const yr = T.rnnSequence(xr, h0, T.narrow(whh, 0, 0, H), { reverse, nonlinearity });
            out.push(yr, T.rnnSequenceBackward(xr, h0, T.narrow(whh, 0, 0, H), yr, dy, { reverse, nonlinearity }));
          }
          return out.map((t) => Array.from(t.dataSync()));
        }),
      );
    const { result, ran } = spying(() => run(wasm.name));
    expect([ran.gru, ran.gruBackward, ran.rnn, ran.rnnBackward]).toEqual([4 * L, 2 * L, 2 * L, 2 * L]);
    const want = run('cpu');
    result.forEach((v, i) => expectClose(v, want[i], 2e-5, `result ${i}`));
  });

  it('lstmCell and lstmCellBackward (B 3, H 7; c a row-strided half of [h | c])', () => {
    const run = (name: string) =>
      on(name, () =>
        tidy(() => {
          manualSeed(3);
          const H = 7;
          const hc = randn([3, 2 * H]);
          const [xw, whh] = [randn([3, 4 * H]), randn([4 * H, H]).mul(0.5)];
          const [h, c] = [T.narrow(hc, 1, 0, H), T.narrow(hc, 1, H, H)];
          const y = T.lstmCell(xw, h, c, whh);
          return [y, T.lstmCellBackward(xw, h, c, whh, randn([3, 2 * H]))].map((t) => Array.from(t.dataSync()));
        }),
      );
    const { result, ran } = spying(() => run(wasm.name));
    expect([ran.lstm, ran.lstmBackward]).toEqual([2, 1]);
    const want = run('cpu');
    result.forEach((v, i) => expectClose(v, want[i], 1e-5, `result ${i}`));
  });

  it('float64 sequences decline the kernels and run the JavaScript loops', () => {
    const { ran } = spying(() =>
      on(wasm.name, () => tidy(() => T.lstmSequence(randn([3, 2, 20], { dtype: 'float64' }), randn([2, 5], { dtype: 'float64' }), randn([2, 5], { dtype: 'float64' }), randn([20, 5], { dtype: 'float64' })).dataSync())),
    );
    expect(ran.lstm).toBe(0);
  });
});

describe('the nn layers on wasm with the gate kernels', () => {
  type Mode = 'lstm' | 'gru' | 'rnn-tanh' | 'rnn-relu';
  function step(mode: Mode, dtype: DType): number[][] {
    return tidy(() => {
      manualSeed(11);
      const o = { inputSize: 6, hiddenSize: 13, numLayers: 2, bidirectional: true, batchFirst: true, dtype };
      const layer = mode === 'lstm' ? new LSTM(o) : mode === 'gru' ? new GRU(o) : new RNN({ ...o, nonlinearity: mode === 'rnn-relu' ? 'relu' : 'tanh' });
      const x = randn([3, 9, 6], { dtype }).requiresGrad_();
      const out: Tensor[] = layer instanceof LSTM ? ((r) => [r[0], ...r[1]])(layer.forward(x)) : layer.forward(x);
      out.map((y) => y.mul(randn(y.shape, { dtype })).sum()).reduce((a, b) => a.add(b)).backward();
      return [...out, x.grad!, ...layer.parameters().map((p) => p.grad!)].map((t) => Array.from(t.dataSync()));
    });
  }

  it.each(['lstm', 'gru', 'rnn-tanh', 'rnn-relu'] as const)('%s (2 layers, bidirectional, H 13): outputs and every gradient equal the cpu backend\'s', (mode) => {
    const { result, ran } = spying(() => on(wasm.name, () => step(mode, 'float32')));
    const kind = mode === 'lstm' || mode === 'gru' ? mode : 'rnn';
    expect(ran[kind], 'forward passes on the kernels').toBe(4 * 9);
    expect(ran[`${kind}Backward`], 'backward passes on the kernels').toBe(4 * 9);
    const want = on('cpu', () => step(mode, 'float32'));
    result.forEach((v, i) => expectClose(v, want[i], 1e-4, `${mode} result ${i}`));
  });

  it('training steps on the kernels leave no tensors or memory blocks behind', () => {
    on(wasm.name, () => {
      for (const mode of ['lstm', 'gru', 'rnn'] as const) {
        const o = { inputSize: 5, hiddenSize: 11, numLayers: 1 };
        const layer = mode === 'lstm' ? new LSTM(o) : mode === 'gru' ? new GRU(o) : new RNN(o);
        const x = randn([6, 4, 5]).keep();
        const once = () =>
          tidy(() => {
            layer.zeroGrad();
            const [y] = layer instanceof LSTM ? layer.forward(x) : layer.forward(x);
            y.square().mean().backward();
          });
        once();
        const [tensors, heap] = [memory().numTensors, wasm.heap().liveBytes];
        const { ran } = spying(() => {
          for (let k = 0; k < 5; k++) once();
        });
        // every forward step on the kernels: a gate pass a step, or (batch 4) the whole
        // sequence in one recurrentSteps call
        expect(ran[mode] + 6 * ran.sequence, mode).toBe(5 * 6);
        expect(ran.sequence, mode).toBe(5);
        expect(memory().numTensors, mode).toBe(tensors);
        expect(wasm.heap().liveBytes, mode).toBe(heap);
        x.dispose();
      }
    });
  });
});
