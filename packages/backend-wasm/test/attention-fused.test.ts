// Attention in one kernel per pass (kernels/attention.ts): scaledDotProductAttention's
// output and the gradients of q, k and v on the wasm backend in float32 against the
// composite (matmul, softmax, matmul) in float64 on the cpu backend, over shapes that cross
// each of the kernels' edges: query blocks of four with one to three rows left, keys not a
// multiple of 4 or 8 (the scores' and the weights' padded columns), feature sizes of 4
// (no 8-wide chunk) and 12 (one 8-wide, one 4-wide), causal rows that see fewer keys than
// the block's widest, one query, one key, more keys than queries and fewer, a bool or a
// float mask (rows all hidden: zero weights) and key padding (a batch all padded). Heads
// split out of [N, L, H·D] are read where they lie; threads give the one-thread bits; two
// masks and feature sizes not a multiple of 4 go to the host kernel; memory stays flat.
import '@ml/autograd';
import * as T from '@ml/tensor';
import { registerCompositeBackend } from '@ml/tensor/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { registerWasmBackend, type WasmBackend } from '../src/index.js';

const wasm: WasmBackend = registerWasmBackend({ threads: 1, name: 'wasm-attention-fused' });
const wasm2: WasmBackend = registerWasmBackend({ threads: 2, name: 'wasm-attention-fused-2t' });
// every call the kernels cover runs on them here, however small (the default leaves calls
// under 128 × 128 scores a batch·head to the host kernel)
wasm.transformer.attentionFrom = 0;
wasm2.transformer.attentionFrom = 0;
const COMPOSITE = registerCompositeBackend('cpu-attention-fused-composite').name;
afterEach(() => T.setBackend('cpu'));

interface Case {
  what: string;
  /** batch dims, queries, keys, features of q and k, features of v */
  batch: number[];
  L: number;
  S: number;
  E: number;
  Ev: number;
  causal: boolean;
  /** one mask (bool: true hides the key; float: added to the scores), broadcast to [...batch, L, S] */
  mask?: (dtype: 'float32' | 'float64') => T.Tensor;
}

/** bool [L, S] hiding every third key, and all of row 2 (its weights are zeros). */
const hiding = (L: number, S: number) => () => T.fromArray(Uint8Array.from({ length: L * S }, (_, i) => +(Math.floor(i / S) === 2 || i % 3 === 0)), [L, S], { dtype: 'bool' });
/** float [L, S]: small offsets, −∞ on row 1 (zero weights) and on a few keys. */
const adding = (L: number, S: number) => (dtype: 'float32' | 'float64') =>
  T.fromArray(Float64Array.from({ length: L * S }, (_, i) => (Math.floor(i / S) === 1 || i % 7 === 3 ? -Infinity : Math.sin(i) * 0.7)), [L, S], { dtype });
/** bool key padding [N, 1, 1, S] for a [N, H] batch: batch n hides its last n + 1 keys, the first batch all of them. */
const padding = (N: number, S: number) => () => T.fromArray(Uint8Array.from({ length: N * S }, (_, i) => +(i < S || i % S >= S - 1 - Math.floor(i / S))), [N, 1, 1, S], { dtype: 'bool' });

const CASES: Case[] = [
  { what: 'one block of four queries, 8 keys', batch: [2], L: 4, S: 8, E: 4, Ev: 4, causal: false },
  { what: 'a block one row short, keys a tail of 1 past 8', batch: [3], L: 7, S: 9, E: 8, Ev: 12, causal: false },
  { what: 'blocks two rows short, keys a tail of 3', batch: [2, 3], L: 6, S: 11, E: 12, Ev: 8, causal: false },
  { what: 'one query, 5 keys', batch: [2, 2], L: 1, S: 5, E: 4, Ev: 8, causal: false },
  { what: 'one key', batch: [3], L: 5, S: 1, E: 8, Ev: 4, causal: false },
  { what: 'causal, square, 13', batch: [2, 2], L: 13, S: 13, E: 8, Ev: 8, causal: true },
  { what: 'causal, more keys than queries', batch: [2], L: 6, S: 17, E: 4, Ev: 12, causal: true },
  { what: 'causal, more queries than keys', batch: [2], L: 15, S: 6, E: 12, Ev: 4, causal: true },
  { what: 'a long row: 3 queries, 67 keys', batch: [1, 2], L: 3, S: 67, E: 16, Ev: 20, causal: false },
  { what: 'causal, 33 of 32 features', batch: [2, 4], L: 33, S: 33, E: 32, Ev: 32, causal: true },
  { what: 'a bool mask [L, S] (a row all hidden), keys a tail of 3', batch: [2], L: 6, S: 11, E: 8, Ev: 4, causal: false, mask: hiding(6, 11) },
  { what: 'a bool mask and causal', batch: [3], L: 9, S: 9, E: 4, Ev: 8, causal: true, mask: hiding(9, 9) },
  { what: 'a float mask [L, S] with −∞ (a row all hidden)', batch: [2, 2], L: 7, S: 13, E: 12, Ev: 8, causal: false, mask: adding(7, 13) },
  { what: 'key padding [N, 1, 1, S] (a batch all padded), causal', batch: [3, 2], L: 10, S: 10, E: 8, Ev: 8, causal: true, mask: padding(3, 10) },
  { what: 'key padding, more keys than queries', batch: [3, 2], L: 5, S: 18, E: 4, Ev: 4, causal: false, mask: padding(3, 18) },
];

/** The largest |a − b| / (1 + |b|). */
function worst(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let w = 0;
  for (let i = 0; i < a.length; i++) w = Math.max(w, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  return w;
}

/** The inputs of a case (values about ±2: scores spread over several units after the scale) and the gradient dy. */
function inputs(c: Case, seed: number): { q: number[]; k: number[]; v: number[]; dy: number[] } {
  T.manualSeed(seed);
  const draw = (shape: number[]) => Array.from(T.randn(shape).mul(1.5).dataSync());
  return { q: draw([...c.batch, c.L, c.E]), k: draw([...c.batch, c.S, c.E]), v: draw([...c.batch, c.S, c.Ev]), dy: draw([...c.batch, c.L, c.Ev]) };
}

/**
 * The output and the gradients of q, k and v on `backend`; with `heads`, q, k and v are
 * taken as heads out of [N, L, H·E] tensors (strided views), as MultiheadAttention does.
 */
function run(backend: string, dtype: 'float32' | 'float64', c: Case, x: ReturnType<typeof inputs>, heads = false): { y: Float64Array; g: Float64Array[] } {
  T.setBackend(backend);
  try {
    const make = (values: number[], rows: number, cols: number) => {
      if (!heads) return T.fromArray(Float64Array.from(values), [...c.batch, rows, cols], { dtype }).requiresGrad_();
      // [N, H, rows, cols] stored as [N, rows, H, cols]: the same values, laid out as heads
      const [N, H] = c.batch;
      const laid = new Float64Array(values.length);
      for (let n = 0; n < N; n++) for (let h = 0; h < H; h++) for (let r = 0; r < rows; r++) for (let e = 0; e < cols; e++) laid[((n * rows + r) * H + h) * cols + e] = values[((n * H + h) * rows + r) * cols + e];
      return T.fromArray(laid, [N, rows, H * cols], { dtype }).requiresGrad_();
    };
    const asHeads = (t: T.Tensor, rows: number, cols: number) => (heads ? t.reshape([c.batch[0], rows, c.batch[1], cols]).transpose(1, 2) : t);
    const [q, k, v] = [make(x.q, c.L, c.E), make(x.k, c.S, c.E), make(x.v, c.S, c.Ev)];
    const m = c.mask?.(dtype);
    const y = T.scaledDotProductAttention(asHeads(q, c.L, c.E), asHeads(k, c.S, c.E), asHeads(v, c.S, c.Ev), { isCausal: c.causal, attnMask: m });
    const dy = T.fromArray(Float64Array.from(x.dy), y.shape, { dtype });
    T.tidy(() => y.mul(dy).sum().backward());
    const unlay = (t: T.Tensor, rows: number, cols: number) => Float64Array.from((heads ? t.reshape([c.batch[0], rows, c.batch[1], cols]).transpose(1, 2).contiguous() : t).dataSync());
    const out = { y: Float64Array.from(y.dataSync()), g: [unlay(q.grad!, c.L, c.E), unlay(k.grad!, c.S, c.E), unlay(v.grad!, c.S, c.Ev)] };
    for (const t of [q, k, v, y, dy, ...(m ? [m] : [])]) t.dispose();
    return out;
  } finally {
    T.setBackend('cpu');
  }
}

/** The kernels' call counts while `f` runs. */
function counted<R>(b: WasmBackend, f: () => R): [R, { attention: number; attentionBackward: number; softmax: number }] {
  const before = { ...b.transformer.counts };
  const r = f();
  const c = b.transformer.counts;
  return [r, { attention: c.attention - before.attention, attentionBackward: c.attentionBackward - before.attentionBackward, softmax: c.softmax - before.softmax }];
}

describe('attention in one kernel per pass (float32) against the float64 composite', () => {
  // the backward reads the weights the forward kept, or (kept: false) computes them again
  it.each(CASES.flatMap((c) => [true, false].map((kept) => [c.what, kept, c] as const)))('%s (weights kept: %s)', (_what, kept, c) => {
    const x = inputs(c, 3);
    wasm.transformer.attentionKeep = kept ? Infinity : 0;
    try {
      const [fast, n] = counted(wasm, () => run(wasm.name, 'float32', c, x));
      expect(n).toEqual({ attention: 1, attentionBackward: 1, softmax: 0 });
      const ref = run(COMPOSITE, 'float64', c, x);
      expect(worst(fast.y, ref.y), 'output').toBeLessThan(2e-5);
      fast.g.forEach((g, i) => expect(worst(g, ref.g[i]), `gradient ${'qkv'[i]}`).toBeLessThan(2e-5));
    } finally {
      wasm.transformer.attentionKeep = 64 * 2 ** 20;
    }
  });

  it('heads split out of [N, L, H·E] are read where they lie, with the same results', () => {
    const c: Case = { what: 'heads', batch: [2, 3], L: 10, S: 7, E: 8, Ev: 12, causal: false };
    const x = inputs(c, 4);
    const before = wasm.transformer.counts.copy;
    const [viaHeads, n] = counted(wasm, () => run(wasm.name, 'float32', c, x, true));
    expect(n.attention).toBe(1);
    expect(n.attentionBackward).toBe(1);
    const ref = run(COMPOSITE, 'float64', c, x);
    expect(worst(viaHeads.y, ref.y)).toBeLessThan(2e-5);
    viaHeads.g.forEach((g, i) => expect(worst(g, ref.g[i])).toBeLessThan(2e-5));
    // the only copies: dy's gradient views and the gradients laid back out by the test, none of q, k or v
    const plain = run(wasm.name, 'float32', c, x);
    expect(Array.from(viaHeads.y)).toEqual(Array.from(plain.y));
    expect(wasm.transformer.counts.copy - before).toBeLessThan(8);
  });

  it.each([true, false])('two threads give the one-thread bits (chunks of batch·heads split across them; weights kept: %s)', (kept) => {
    const c: Case = { what: 'threads', batch: [4, 5], L: 19, S: 23, E: 16, Ev: 8, causal: true };
    const x = inputs(c, 5);
    for (const b of [wasm, wasm2]) b.transformer.attentionKeep = kept ? Infinity : 0;
    try {
      const one = run(wasm.name, 'float32', c, x);
      const [two, n] = counted(wasm2, () => run(wasm2.name, 'float32', c, x));
      expect(n.attention).toBe(1);
      expect(Array.from(two.y)).toEqual(Array.from(one.y));
      two.g.forEach((g, i) => expect(Array.from(g)).toEqual(Array.from(one.g[i])));
    } finally {
      for (const b of [wasm, wasm2]) b.transformer.attentionKeep = 64 * 2 ** 20;
    }
  });

  it('matches finite differences of the float32 loss along a random direction', () => {
    const c: Case = { what: 'fd', batch: [2], L: 5, S: 6, E: 4, Ev: 4, causal: true };
    const x = inputs(c, 6);
    T.setBackend(wasm.name);
    try {
      const loss = (d: number, dir: number[][]) => {
        const [q, k, v] = [x.q, x.k, x.v].map((vals, i) => T.fromArray(Float32Array.from(vals, (a, j) => a + d * dir[i][j]), i === 0 ? [2, c.L, c.E] : [2, c.S, i === 1 ? c.E : c.Ev]));
        const y = T.scaledDotProductAttention(q, k, v, { isCausal: true });
        const s = y.mul(T.fromArray(Float32Array.from(x.dy), y.shape)).sum().item();
        for (const t of [q, k, v, y]) t.dispose();
        return s;
      };
      T.manualSeed(7);
      const dir = [x.q, x.k, x.v].map((a) => Array.from(T.randn([a.length]).dataSync()));
      const { g } = run(wasm.name, 'float32', c, x);
      const analytic = g.reduce((acc, gi, i) => acc + gi.reduce((s, v, j) => s + v * dir[i][j], 0), 0);
      const h = 1e-2;
      const numeric = (loss(h, dir) - loss(-h, dir)) / (2 * h);
      expect(Math.abs(numeric - analytic)).toBeLessThan(2e-3 * (1 + Math.abs(analytic)));
    } finally {
      T.setBackend('cpu');
    }
  });
});

describe('what the kernels leave to the host attention kernel', () => {
  it.each([
    ['two masks (key padding, then a bool mask)', { batch: [2], L: 4, S: 8, E: 4, Ev: 4 }, true],
    ['5 features (not a multiple of 4)', { batch: [2], L: 4, S: 8, E: 5, Ev: 4 }, false],
  ] as const)('%s: the host kernel runs, with the same results as the composite', (_what, s, masks) => {
    const c: Case = { what: '', causal: false, ...s, batch: [...s.batch] };
    const x = inputs(c, 8);
    T.setBackend(wasm.name);
    const [, n] = counted(wasm, () => {
      const [q, k, v] = [T.fromArray(Float32Array.from(x.q), [2, c.L, c.E]), T.fromArray(Float32Array.from(x.k), [2, c.S, c.E]), T.fromArray(Float32Array.from(x.v), [2, c.S, c.Ev])];
      const m = masks ? [padding(2, c.S)().reshape([2, 1, c.S]), hiding(c.L, c.S)()] : [];
      T.scaledDotProductAttention(q, k, v, { attnMask: masks ? m : undefined }).dispose();
      for (const t of [q, k, v, ...m]) t.dispose();
    });
    T.setBackend('cpu');
    expect(n).toEqual({ attention: 0, attentionBackward: 0, softmax: 1 });
  });

  it('by default, calls from 128 × 128 scores a batch·head (L·S) run on the kernels on any thread count, smaller ones on the host kernel', () => {
    const call = (b: WasmBackend, L: number, S: number) =>
      counted(b, () => {
        T.setBackend(b.name);
        const [q, k, v] = [T.zeros([1, L, 4]), T.zeros([1, S, 4]), T.zeros([1, S, 4])];
        T.scaledDotProductAttention(q, k, v).dispose();
        for (const t of [q, k, v]) t.dispose();
        T.setBackend('cpu');
      })[1];
    for (const threads of [1, 2]) {
      const b = registerWasmBackend({ threads, name: `wasm-attention-fused-default-${threads}t` });
      expect(call(b, 127, 128)).toEqual({ attention: 0, attentionBackward: 0, softmax: 1 });
      expect(call(b, 128, 128)).toEqual({ attention: 1, attentionBackward: 0, softmax: 0 });
      b.transformer.attentionFrom = Infinity;
      expect(call(b, 256, 256)).toEqual({ attention: 0, attentionBackward: 0, softmax: 1 });
    }
  });

  it('keeps the module memory flat over training steps (the saved rows freed with the graph)', () => {
    const c: Case = { what: 'flat', batch: [2, 2], L: 9, S: 9, E: 8, Ev: 8, causal: true };
    const x = inputs(c, 9);
    run(wasm.name, 'float32', c, x);
    run(wasm.name, 'float32', c, x);
    const live = wasm.heap().liveBytes;
    for (let i = 0; i < 10; i++) run(wasm.name, 'float32', c, x);
    expect(wasm.heap().liveBytes).toBe(live);
  });
});
