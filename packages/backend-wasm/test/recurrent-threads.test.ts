// The recurrent gate passes split by rows across the thread pool (kernels/recurrent.ts's
// `split`, backend-recurrent.ts through WasmGemm.split). Rows are independent, so a split
// pass must give the one-thread pass's values bit for bit, and write nothing outside its
// rows: every pass, every mode bit, on row counts below, at and above the parts a pool
// hands out (B 1 … 67) and hidden sizes with and without a column tail (H 1 … 128), with
// padded rows at unaligned addresses, in-place operands and GRU's bias row (stride 0).
// Then the sequence ops (reverse included) on two threads against one thread and the cpu
// backend, and the job protocol's pointers past the sixth.
import '@ml/autograd';
import * as T from '@ml/tensor';
import { manualSeed, randn, tidy } from '@ml/tensor';
import type { Rows } from '@ml/tensor/backend';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WasmGatePasses } from '../src/backend-recurrent.js';
import { enableRelaxedSimd, registerWasmBackend, type WasmBackend } from '../src/index.js';
import { SPLIT_KERNELS, kernelOf } from '../src/kernels/index.js';
import { LAYOUT, PLAN, pointerAt, runPart } from '../src/worker-jobs.js';
import { onBackend as on } from '@ml/tensor/testing';

enableRelaxedSimd();
const one: WasmBackend = registerWasmBackend({ threads: 1, name: 'wasm-threads-test-1' });
const two: WasmBackend = registerWasmBackend({ threads: 2, name: 'wasm-threads-test-2' });
const passesOne = new WasmGatePasses(one.gemm);
const passesTwo = new WasmGatePasses(two.gemm);

beforeAll(async () => {
  await two.gemm.whenReady();
});
afterAll(async () => {
  await two.gemm.close();
});

/**
 * Run `f` with every WasmGemm.split of the two-thread backend split whatever its size (its
 * `bytes` raised past any threshold); returns how many calls the pool split.
 */
function forcingSplits(f: () => void): number {
  const gemm = two.gemm;
  const split = gemm.split.bind(gemm);
  const spy = vi.spyOn(gemm, 'split').mockImplementation(((kernel, args, strides) => split(kernel, args, strides, Number.MAX_SAFE_INTEGER)) as typeof gemm.split);
  const before = gemm.splitCalls;
  try {
    f();
  } finally {
    spy.mockRestore();
  }
  return gemm.splitCalls - before;
}

/** A seeded generator of values in (−3, 3) (mulberry32). */
function uniform(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return 6 * (((t ^ (t >>> 14)) >>> 0) / 2 ** 32) - 3;
  };
}

const SENTINEL = 7.5;

/**
 * The same operand in both backends' memories: `rows` rows of C floats, `pad` floats of
 * padding after each and `off` floats in (unaligned when off % 4 ≠ 0), the same values in
 * both, SENTINEL around them. `stride` (default C + pad) may be 0: one row every row reads.
 */
class Twin {
  readonly a: [Float32Array, Float32Array];
  readonly rows: [Rows, Rows];
  constructor(rows: number, C: number, pad: number, off: number, next: (() => number) | null, stride = C + pad) {
    const n = off + Math.max(1, rows) * (C + pad) + 3;
    const a1 = one.gemm.heap.array('float32', n) as Float32Array;
    const a2 = two.gemm.heap.array('float32', n) as Float32Array;
    a1.fill(SENTINEL);
    for (let b = 0; b < rows; b++) for (let j = 0; j < C; j++) a1[off + b * (C + pad) + j] = next === null ? SENTINEL : next();
    a2.set(a1);
    this.a = [a1, a2];
    this.rows = [{ a: a1, off, stride }, { a: a2, off, stride }];
  }
  free(): void {
    one.gemm.heap.freeArray(this.a[0]);
    two.gemm.heap.freeArray(this.a[1]);
  }
  /** the index of the first element whose bits differ between the two memories, or −1 */
  firstDifference(): number {
    const [u1, u2] = this.a.map((a) => new Uint32Array(a.buffer, a.byteOffset, a.length));
    return u1.findIndex((v, k) => v !== u2[k]);
  }
}

const BS = [1, 2, 3, 5, 64, 67];
const HS = [1, 3, 4, 5, 128];
const SHAPES = BS.flatMap((B) => HS.map((H) => ({ B, H })));

/**
 * Run `pass` with the operands' one-thread rows on the one-thread backend and their
 * two-thread rows on the two-thread backend (split forced), then check every operand is
 * bit for bit the same in both memories (outputs, and inputs and padding left alone).
 */
function sameOnBoth(label: string, operands: Twin[], pass: (p: WasmGatePasses, k: 0 | 1) => boolean, B: number): void {
  try {
    expect(pass(passesOne, 0), label).toBe(true);
    const splits = forcingSplits(() => expect(pass(passesTwo, 1), label).toBe(true));
    expect(splits, `${label}: split`).toBe(B > 1 ? 1 : 0); // one row is one unit: nothing to split
    operands.forEach((o, q) => expect(o.firstDifference(), `${label}: operand ${q}`).toBe(-1));
  } finally {
    operands.forEach((o) => o.free());
  }
}

describe('a gate pass split by rows across two threads equals the one-thread pass bit for bit', () => {
  const pick = <T>(o: Twin | null, k: 0 | 1, f: (r: Rows) => T): T | null => (o === null ? null : f(o.rows[k]));

  it.each(SHAPES)('lstm forward, each output or both (B $B, H $H)', ({ B, H }) => {
    for (const [withOut, withActs] of [[true, true], [true, false], [false, true]]) {
      const r = uniform(B * 1000 + H);
      const x = new Twin(B, 4 * H, 3, 1, r);
      const hw = new Twin(B, 4 * H, 0, 0, r);
      const c = new Twin(B, H, H + 1, 2, r); // c a row-strided half of [h | c]
      const out = new Twin(B, 2 * H, 1, 3, null);
      const acts = new Twin(B, 5 * H, 0, 1, null);
      sameOnBoth(`lstm out ${withOut} acts ${withActs}`, [x, hw, c, out, acts], (p, k) =>
        p.lstm({ B, H, x: x.rows[k], hw: hw.rows[k], c: c.rows[k], out: withOut ? out.rows[k] : null, acts: withActs ? acts.rows[k] : null }), B);
    }
  });

  it.each(SHAPES)('lstm backward, with and without the carried ∂h and ∂c (in place) (B $B, H $H)', ({ B, H }) => {
    for (const [withDh, withDc] of [[true, true], [true, false], [false, true], [false, false]]) {
      const r = uniform(B * 1001 + H);
      const acts = new Twin(B, 5 * H, 2, 1, r);
      const d = new Twin(B, 2 * H, 1, 0, r);
      const dh = new Twin(B, H, 0, 3, r);
      const c = new Twin(B, H, 5, 2, r);
      const dc = new Twin(B, H, 3 * H, 1, r); // ∂c carried in and ∂c·f out, in place
      const cell = new Twin(B, H, 0, 0, null); // ∂c·f when nothing is carried
      const grads = new Twin(B, 4 * H, 1, 3, null);
      const dcOut = withDc ? dc : cell;
      sameOnBoth(`lstmBackward dh ${withDh} dc ${withDc}`, [acts, d, dh, c, dc, cell, grads], (p, k) =>
        p.lstmBackward({ B, H, acts: acts.rows[k], d: d.rows[k], dh: pick(withDh ? dh : null, k, (q) => q), c: c.rows[k], dcIn: pick(withDc ? dc : null, k, (q) => q), dcOut: dcOut.rows[k], grads: grads.rows[k] }), B);
    }
  });

  it.each(SHAPES)('gru forward, each output or both, with and without the bias row (stride 0) (B $B, H $H)', ({ B, H }) => {
    for (const [withBias, withOut, withActs] of [[true, true, true], [true, true, false], [true, false, true], [false, true, true], [false, true, false], [false, false, true]]) {
      const r = uniform(B * 1002 + H);
      const x = new Twin(B, 3 * H, 2, 2, r);
      const hw = new Twin(B, 3 * H, 0, 0, r);
      const bias = new Twin(1, 3 * H, 0, 1, r, 0);
      const h = new Twin(B, H, 1, 0, r);
      const out = new Twin(B, H, 3, 1, null);
      const acts = new Twin(B, 4 * H, 0, 3, null);
      sameOnBoth(`gru bias ${withBias} out ${withOut} acts ${withActs}`, [x, hw, bias, h, out, acts], (p, k) =>
        p.gru({ B, H, x: x.rows[k], hw: hw.rows[k], bias: withBias ? bias.rows[k] : null, h: h.rows[k], out: withOut ? out.rows[k] : null, acts: withActs ? acts.rows[k] : null }), B);
    }
  });

  it.each(SHAPES)('gru backward, with and without the carried ∂h (the carry in place) (B $B, H $H)', ({ B, H }) => {
    for (const withDh of [true, false]) {
      const r = uniform(B * 1003 + H);
      const acts = new Twin(B, 4 * H, 1, 0, r);
      const d = new Twin(B, H, 2, 1, r);
      const carry = new Twin(B, H, 2 * H, 2, r);
      const dh = new Twin(B, H, 0, 0, r);
      const h = new Twin(B, H, 3, 3, r);
      const gx = new Twin(B, 3 * H, 0, 0, null);
      const gh = new Twin(B, 3 * H, 1, 1, null);
      sameOnBoth(`gruBackward dh ${withDh}`, [acts, d, carry, dh, h, gx, gh], (p, k) =>
        p.gruBackward({ B, H, acts: acts.rows[k], d: d.rows[k], carry: carry.rows[k], dh: withDh ? dh.rows[k] : null, h: h.rows[k], gx: gx.rows[k], gh: gh.rows[k] }), B);
    }
  });

  it.each(SHAPES)('rnn forward and backward, tanh and relu, with and without the carried ∂h (B $B, H $H)', ({ B, H }) => {
    for (const tanh of [true, false]) {
      const r = uniform(B * 1004 + H + (tanh ? 1 : 0));
      const x = new Twin(B, H, 1, 1, r);
      const hw = new Twin(B, H, 0, 0, r);
      const out = new Twin(B, H, 2, 2, null);
      sameOnBoth(`rnn tanh ${tanh}`, [x, hw, out], (p, k) => p.rnn({ B, H, tanh, x: x.rows[k], hw: hw.rows[k], out: out.rows[k] }), B);
      for (const withDh of [true, false]) {
        const y = new Twin(B, H, 2, 2, r);
        const d = new Twin(B, H, 1, 3, r);
        const dh = new Twin(B, H, 0, 0, r);
        const g = new Twin(B, H, 0, 1, null);
        sameOnBoth(`rnnBackward tanh ${tanh} dh ${withDh}`, [y, d, dh, g], (p, k) =>
          p.rnnBackward({ B, H, tanh, y: y.rows[k], d: d.rows[k], dh: withDh ? dh.rows[k] : null, out: g.rows[k] }), B);
      }
    }
  });
});

describe('which passes split by themselves (their work against the pool\'s threshold)', () => {
  /** Whether `pass` on the two-thread backend, [B, H] rows of fresh operands, split. */
  function splits(B: number, H: number, pass: (p: WasmGatePasses, rows: (C: number) => Rows) => boolean): boolean {
    const taken: Float32Array[] = [];
    const rows = (C: number): Rows => {
      const a = two.gemm.heap.array('float32', B * C) as Float32Array;
      a.fill(0.5);
      taken.push(a);
      return { a, off: 0, stride: C };
    };
    const before = two.gemm.splitCalls;
    try {
      expect(pass(passesTwo, rows)).toBe(true);
      return two.gemm.splitCalls === before + 1;
    } finally {
      taken.forEach((a) => two.gemm.heap.freeArray(a));
    }
  }
  const lstm = (B: number, H: number) => splits(B, H, (p, rows) => p.lstm({ B, H, x: rows(4 * H), hw: rows(4 * H), c: rows(H), out: rows(2 * H), acts: rows(5 * H) }));
  const rnn = (B: number, H: number, tanh: boolean) => splits(B, H, (p, rows) => p.rnn({ B, H, tanh, x: rows(H), hw: rows(H), out: rows(H) }));

  it('an LSTM training step\'s passes ([64, 4·128]: 512 KiB each way) split; a [2, 4·3] one does not', () => {
    expect(lstm(64, 128)).toBe(true);
    expect(splits(64, 128, (p, rows) => p.lstmBackward({ B: 64, H: 128, acts: rows(5 * 128), d: rows(256), dh: rows(128), c: rows(128), dcIn: rows(128), dcOut: rows(128), grads: rows(512) }))).toBe(true);
    expect(lstm(2, 3)).toBe(false);
  });

  it('an RNN tanh pass over [64, 128] splits by its exponentials (96 KiB moved); relu, all memory, does not', () => {
    expect(rnn(64, 128, true)).toBe(true);
    expect(rnn(64, 128, false)).toBe(false);
  });
});

describe('the sequence ops on two threads equal one thread bit for bit, and the cpu backend', () => {

  /** LSTM, GRU (with and without the bias) and RNN (tanh, relu) sequences and their backward passes, as plain arrays. */
  const run = (name: string, L: number, B: number, H: number, reverse: boolean): number[][] =>
    on(name, () =>
      tidy(() => {
        manualSeed(L * 100 + B + H);
        // x a strided view: a narrow of wider rows, batch-first transposed to time-major
        const xw = T.transpose(T.narrow(randn([B, L, 4 * H + 3]), 2, 1, 4 * H), 0, 1);
        const [h0, c0, whh] = [randn([B, H]), randn([B, H]), randn([4 * H, H]).mul(0.3)];
        const y = T.lstmSequence(xw, h0, c0, whh, { reverse });
        const out = [y, T.lstmSequenceBackward(xw, h0, c0, whh, y, randn([L, B, 2 * H]), { reverse })];
        const xp = T.narrow(xw, 2, 0, 3 * H);
        const [wg, bg, dy] = [randn([3 * H, H]).mul(0.3), randn([3 * H]), randn([L, B, H])];
        for (const bias of [bg, null]) {
          const yg = T.gruSequence(xp, h0, wg, bias, { reverse });
          out.push(yg, T.gruSequenceBackward(xp, h0, wg, bias, yg, dy, { reverse }));
        }
        for (const nonlinearity of ['tanh', 'relu'] as const) {
          const [xr, wr] = [T.narrow(xp, 2, H, H), T.narrow(wg, 0, 0, H)];
          const yr = T.rnnSequence(xr, h0, wr, { reverse, nonlinearity });
          out.push(yr, T.rnnSequenceBackward(xr, h0, wr, yr, dy, { reverse, nonlinearity }));
        }
        return out.map((t) => Array.from(t.dataSync()));
      }),
    );

  it.each([
    { L: 3, B: 67, H: 5, reverse: true },
    { L: 2, B: 64, H: 128, reverse: false },
    { L: 2, B: 5, H: 3, reverse: true },
  ])('L $L, B $B, H $H, reverse $reverse', ({ L, B, H, reverse }) => {
    const want = run(one.name, L, B, H, reverse);
    let got: number[][] = [];
    expect(forcingSplits(() => (got = run(two.name, L, B, H, reverse)))).toBeGreaterThan(0);
    // the first differing element, not toEqual: a diff of arrays this long takes minutes to print
    got.forEach((v, i) => {
      expect(v.length, `result ${i}`).toBe(want[i].length);
      expect(v.findIndex((g, k) => !Object.is(g, want[i][k])), `result ${i}: first element not the same`).toBe(-1);
    });
    const cpu = run('cpu', L, B, H, reverse);
    got.forEach((v, i) => {
      const worst = Math.max(0, ...v.map((g, k) => Math.abs(g - cpu[i][k]) / (1 + Math.abs(cpu[i][k]))));
      expect(worst, `result ${i} against the cpu backend`).toBeLessThan(1e-4);
    });
  });
});

describe('the job protocol carries up to PLAN.MAX_PTRS moving pointers', () => {
  it('every split kernel fits the control array (its arguments and pointers)', () => {
    for (const k of SPLIT_KERNELS) {
      const entry = kernelOf(k);
      expect(Object.keys(entry.params).length, k).toBeLessThanOrEqual(PLAN.MAX_ARGS);
      expect(entry.split!.pointers.length, k).toBeLessThanOrEqual(PLAN.MAX_PTRS);
    }
    expect(SPLIT_KERNELS).toContain('lstmGatesBackward'); // 7 pointers
    // the pointer pairs, the plan's words and the arguments do not overlap, and all lie below the ready flags
    const words = [0, 1, 2, 3, ...[0, 1, 2, 3].map((w) => PLAN.TAIL + w), ...Array.from({ length: PLAN.MAX_ARGS }, (_, i) => PLAN.ARGS + i)];
    for (let q = 0; q < PLAN.MAX_PTRS; q++) words.push(pointerAt(q), pointerAt(q) + 1);
    expect(new Set(words).size).toBe(words.length);
    expect(LAYOUT.ARGS + Math.max(...words)).toBeLessThan(LAYOUT.READY);
  });

  it('runPart moves all eight pointers of a part on by their bytes per unit', () => {
    const control = new SharedArrayBuffer(4 * (LAYOUT.READY + 1));
    const [ctl, f32] = [new Int32Array(control), new Float32Array(control)];
    const A = LAYOUT.ARGS;
    const args = [100, 200, 300, 400, 500, 600, 700, 800, 10, 0.25];
    ctl[LAYOUT.KIND] = 1;
    ctl.set([10, 4, 8, 8], A); // 10 units, 4 a part, the count is argument 8, 8 pointers
    for (let q = 0; q < 8; q++) ctl.set([q, 4 * (q + 1)], A + pointerAt(q)); // pointer q: argument q, 4(q + 1) bytes a unit
    ctl.set([-1, 0, args.length, 1 << 9], A + PLAN.TAIL); // argument 9 an f32
    args.forEach((v, i) => (i === 9 ? (f32[A + PLAN.ARGS + i] = v) : (ctl[A + PLAN.ARGS + i] = v)));
    const calls: number[][] = [];
    runPart(ctl, f32, { k: (...a) => void calls.push(a) }, 1, ['k']); // units 4–7
    expect(calls).toEqual([[...args.slice(0, 8).map((v, q) => v + 4 * 4 * (q + 1)), 4, 0.25]]);
  });

  it('a plan with more pointers than that is refused, not run', () => {
    const gemm = two.gemm;
    const x = gemm.alloc(64);
    try {
      const ptrs = Array.from({ length: PLAN.MAX_PTRS + 1 }, () => [0, 16] as const);
      expect(() => gemm.parallel('relu', [x, x, 4], { count: 2, ptrs }, 4, Number.MAX_SAFE_INTEGER)).toThrow(/more arguments or pointers/);
    } finally {
      gemm.heap.free(x);
    }
  });
});
