// The vectorised exp, σ and tanh of the recurrent gate kernels (kernels/recurrent.ts) on
// their own: each in a one-function module over a dense grid, against the float64 formulas
// (Math.exp, 1 / (1 + e^−x), Math.tanh) — absolute error on the gates' range, relative error
// where the values are tiny (tanh near 0, e^x anywhere), and the extreme inputs.
import { describe, expect, it } from 'vitest';
import { fn, i32, moduleBytes, op } from '../src/assembler.js';
import { exp, MATH_LOCALS, setConstants, sigmoid, tanh } from '../src/kernels/recurrent.js';

type Which = 'exp' | 'sigmoid' | 'tanh';

/** f(x) of every value of `xs` (rounded to float32) by the kernel helper `which`. */
function run(which: Which, xs: ArrayLike<number>): Float32Array {
  const def = fn(which, { x: i32, out: i32, n4: i32 }, { i: i32, ...MATH_LOCALS }, (f) => {
    const at = (p: 'x' | 'out') => [...f.get(p), ...f.get('i'), ...op.i32(4), ...op.i32Shl, ...op.i32Add];
    const value = [...at('x'), ...op.v128Load(0)];
    const y = which === 'exp' ? exp(f, value) : which === 'sigmoid' ? sigmoid(f, value) : tanh(f, value);
    return [...setConstants(f), ...f.forUp('i', f.get('n4'), [...at('out'), ...y, ...op.v128Store(0)])];
  });
  const n4 = Math.ceil(xs.length / 4);
  const pages = Math.ceil((32 * n4) / 65536) + 1;
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  const instance = new WebAssembly.Instance(new WebAssembly.Module(moduleBytes([def], { initialPages: pages, maximumPages: pages, shared: false })), { env: { memory } });
  const f32 = new Float32Array(memory.buffer);
  f32.set(xs, 0);
  (instance.exports[which] as (x: number, out: number, n4: number) => void)(0, 16 * n4, n4);
  return f32.slice(4 * n4, 4 * n4 + xs.length);
}

const REFERENCE: Record<Which, (x: number) => number> = { exp: Math.exp, sigmoid: (x) => 1 / (1 + Math.exp(-x)), tanh: Math.tanh };

/** n + 1 float32 values evenly spread over [a, b]. */
const grid = (a: number, b: number, n: number): Float32Array => Float32Array.from({ length: n + 1 }, (_, k) => a + ((b - a) * k) / n);

function worst(which: Which, xs: Float32Array, relative: boolean): { err: number; at: number } {
  const ys = run(which, xs);
  let err = 0;
  let at = NaN;
  xs.forEach((x, k) => {
    const want = REFERENCE[which](x);
    const e = Math.abs(ys[k] - want) / (relative ? Math.abs(want) : 1);
    if (!(e <= err)) [err, at] = [e, x];
  });
  return { err, at };
}

describe('the gate kernels\' exp, sigmoid and tanh', () => {
  const dense = grid(-20, 20, 400_000); // steps of 1e-4
  it.each([
    ['sigmoid', 1.5e-7],
    ['tanh', 1.5e-7],
  ] as const)('%s is within %f of the float64 formula on [−20, 20]', (which, tol) => {
    const { err, at } = worst(which, dense, false);
    expect(err, `worst at ${at}`).toBeLessThan(tol);
  });

  it('exp is within 1.5e-7 relative of Math.exp on [−87, 88]', () => {
    const { err, at } = worst('exp', grid(-87, 88, 200_000), true);
    expect(err, `worst at ${at}`).toBeLessThan(1.5e-7);
  });

  it('tanh keeps its relative precision near 0 (|x| < 1e-3, down to 1e-30) and across the branch at ¼', () => {
    const tiny = Float32Array.from([...grid(-1e-3, 1e-3, 20_000), 1e-30, -1e-30, 1e-10, 3e-8, 0.2499999, 0.25, 0.2500001, -0.25]);
    const { err, at } = worst('tanh', tiny.filter((x) => x !== 0), true);
    expect(err, `worst at ${at}`).toBeLessThan(1e-7);
    const { err: mid, at: midAt } = worst('tanh', grid(-1, 1, 20_000).filter((x) => x !== 0), true);
    expect(mid, `worst at ${midAt}`).toBeLessThan(3e-7);
  });

  it('saturates without NaN or Inf for ±100, ±1e30 and ±Inf, gives σ(0) = ½, tanh(0) = 0 and NaN for NaN', () => {
    const xs = [100, -100, 1e30, -1e30, Infinity, -Infinity, 0, -0, NaN, 88.7, -87.4];
    const s = run('sigmoid', xs);
    const t = run('tanh', xs);
    expect(Array.from(s.slice(0, 6))).toEqual([1, expect.any(Number), 1, expect.any(Number), 1, expect.any(Number)]);
    for (const k of [1, 3, 5]) {
      expect(s[k]).toBeGreaterThanOrEqual(0);
      expect(s[k]).toBeLessThan(1e-37);
    }
    expect(Array.from(t.slice(0, 6))).toEqual([1, -1, 1, -1, 1, -1]);
    expect(s[6]).toBe(0.5);
    expect(s[7]).toBe(0.5);
    expect(t[6]).toBe(0);
    expect(t[7]).toBe(0);
    expect(s[8]).toBeNaN();
    expect(t[8]).toBeNaN();
    expect(run('exp', [NaN])[0]).toBeNaN();
    for (const v of [...s, ...t, ...run('exp', xs)].filter((_, k) => k % 11 !== 8)) expect(Number.isFinite(v)).toBe(true);
  });
});
