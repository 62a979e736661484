// The transformer's row passes on the SIMD kernels (kernels/transformer.ts): layerNorm,
// gelu (both forms) and attention's softmax rows, forward and backward, against the
// composites computed in float64 on the cpu backend (independent of both host kernels),
// on odd row lengths (the kernels' one-column tails), L = 1, causal and masked calls.
// Counters check that float32 on wasm takes the SIMD path; memory stays flat over steps.
import { grad } from '@ml/autograd';
import * as T from '@ml/tensor';
import { registerCompositeBackend } from '@ml/tensor/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { registerWasmBackend, type WasmBackend } from '../src/index.js';

const wasm: WasmBackend = registerWasmBackend({ threads: 1, name: 'wasm-transformer-simd' });
// this file checks the host attention kernel's softmax passes: attention in one kernel
// (which would take the float32 calls without masks) is checked in attention-fused.test.ts
wasm.transformer.enabled.attention = false;
const COMPOSITE = registerCompositeBackend('cpu-transformer-simd-composite').name;
afterEach(() => T.setBackend('cpu'));

/** f's outputs and the gradients of its inputs, from float64 copies of `inputs` on `backend`. */
function run(backend: string, dtype: 'float32' | 'float64', inputs: number[][], shapes: number[][], f: (xs: T.Tensor[]) => T.Tensor): { y: number[]; grads: number[][] } {
  T.setBackend(backend);
  try {
    const xs = inputs.map((v, i) => T.fromArray(Float64Array.from(v), shapes[i], { dtype }).requiresGrad_());
    const y = f(xs);
    T.manualSeed(5);
    const g = T.randn(y.shape, { dtype });
    y.mul(g).sum().backward();
    const out = { y: Array.from(y.dataSync()), grads: xs.map((x) => Array.from(x.grad!.dataSync())) };
    for (const t of [...xs, y, g]) t.dispose();
    return out;
  } finally {
    T.setBackend('cpu');
  }
}

function randomInputs(seed: number, shapes: number[][]): number[][] {
  T.manualSeed(seed);
  return shapes.map((s) => Array.from(T.randn(s).mul(1.5).dataSync()));
}

/** The largest |a − b| / (1 + |b|). */
function worst(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  return Math.max(0, ...a.map((v, i) => Math.abs(v - b[i]) / (1 + Math.abs(b[i]))));
}

/** f on wasm in float32 against the composite in float64: outputs and gradients within tol; returns the counters' change. */
function compare(shapes: number[][], f: (xs: T.Tensor[]) => T.Tensor, tol: number, seed = 1): Record<string, number> {
  const inputs = randomInputs(seed, shapes);
  const before = { ...wasm.transformer.counts };
  const fast = run(wasm.name, 'float32', inputs, shapes, f);
  const after = wasm.transformer.counts;
  const ref = run(COMPOSITE, 'float64', inputs, shapes, f);
  expect(worst(fast.y, ref.y), 'y').toBeLessThan(tol);
  fast.grads.forEach((g, i) => expect(worst(g, ref.grads[i]), `grad ${i}`).toBeLessThan(tol));
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k as keyof typeof before]]));
}

describe('layerNorm on the SIMD kernels', () => {
  it.each([
    [[5, 7], true],
    [[3, 4, 128], true],
    [[2, 13], false],
    [[1, 3], true],
    [[6, 1], true],
  ] as const)('rows of %j (affine %s): output and gradients of x, weight and bias', (shape, affine) => {
    const D = shape[shape.length - 1];
    const shapes = affine ? [[...shape], [D], [D]] : [[...shape]];
    const d = compare(shapes, (xs) => T.layerNorm(xs[0], [D], xs[1], xs[2], 1e-5), 2e-5);
    expect(d.layerNorm).toBe(1);
    expect(d.layerNormBackward).toBe(1);
  });
});

describe('gelu on the SIMD kernels', () => {
  // the tanh form's gradient takes 1 − t² from the float32 t its forward saved (as on the
  // cpu backend): near saturation that carries t's rounding, hence the looser bound
  it.each([['none', 2e-6], ['tanh', 1e-5]] as const)('%s: output and gradient on 1003 values (a tail of 3)', (approximate, tol) => {
    const d = compare([[1003]], (xs) => T.gelu(xs[0].mul(2), approximate), tol);
    expect(d.gelu).toBe(1);
    expect(d.geluBackward).toBe(1);
  });

  it('exact form: Φ within 1.5e-7 of erf-based values over [−9, 9], and the saturated ends', () => {
    const xs = Array.from({ length: 3601 }, (_, i) => -9 + i * 0.005);
    xs.push(-40, 40, -1e4, 1e4);
    T.setBackend(wasm.name);
    const y = Array.from(T.gelu(T.fromArray(Float32Array.from(xs), [xs.length])).dataSync());
    T.setBackend('cpu');
    // Φ(x) = ½ erfc(−x/√2) from the float64 continued-fraction / series erf below (independent of both kernels)
    const errors = xs.map((x, i) => Math.abs(y[i] - Math.fround(x) * phi64(Math.fround(x))));
    const worstRelToX = Math.max(...errors.map((e, i) => e / Math.max(1, Math.abs(xs[i]))));
    expect(worstRelToX).toBeLessThan(1.5e-7);
    expect(Math.abs(y[xs.length - 4])).toBeLessThan(1e-30); // −40·Φ(−40): 0 to float32's range
    expect(y[xs.length - 1]).toBe(1e4);
  });
});

describe("attention's softmax rows on the SIMD kernels", () => {
  const attention = (causal: boolean, mask: T.Tensor | null, N: number, L: number, S: number, E: number) => (xs: T.Tensor[]) =>
    T.scaledDotProductAttention(xs[0].reshape([N, 2, L, E]), xs[1].reshape([N, 2, S, E]), xs[2].reshape([N, 2, S, E]), { isCausal: causal, attnMask: mask ?? undefined });

  it.each([
    ['no mask', false, 2, 7, 9, 5],
    ['causal', true, 2, 6, 6, 4],
    ['causal, more keys than queries', true, 1, 5, 11, 3],
    ['one query', false, 3, 1, 6, 4],
    ['one key', true, 2, 4, 1, 4],
  ] as const)('%s: output and the gradients of q, k and v', (_what, causal, N, L, S, E) => {
    const shapes = [[N * 2 * L * E], [N * 2 * S * E], [N * 2 * S * E]];
    const d = compare(shapes, attention(causal, null, N, L, S, E), 2e-5);
    expect(d.softmax).toBe(1);
    expect(d.softmaxBackward).toBe(1);
  });

  it.each(['bool', 'float'] as const)('%s mask [L, S] (one row fully hidden: zero weights), 7 keys (a tail of 3)', (kind) => {
    const [N, L, S, E] = [2, 5, 7, 4];
    // the float mask hides row 2 with −∞ (its weights are zeros), other keys with −1e9 (their
    // weights underflow to 0); a row of −1e9 alone would keep its score differences in float64 only
    const hide = Uint8Array.from({ length: L * S }, (_, i) => +(Math.floor(i / S) === 2 || i % 3 === 0));
    const shapes = [[N * 2 * L * E], [N * 2 * S * E], [N * 2 * S * E]];
    const f = (xs: T.Tensor[]) => {
      const m = kind === 'bool' ? T.fromArray(hide, [L, S], { dtype: 'bool' }) : T.fromArray(Float64Array.from(hide, (h, i) => (!h ? (i % 5) * 0.1 : Math.floor(i / S) === 2 ? -Infinity : -1e9)), [L, S], { dtype: xs[0].dtype });
      return attention(false, m, N, L, S, E)(xs);
    };
    const d = compare(shapes, f, 2e-5);
    expect(d.softmax).toBe(1);
    expect(d.softmaxBackward).toBe(1);
  });

  it.each([false, true])('key padding [N, 1, 1, S] (a batch entirely padded) then a float [L, S] mask, causal %s', (causal) => {
    const [N, L, S, E] = [3, 6, 9, 5];
    const shapes = [[N * 2 * L * E], [N * 2 * S * E], [N * 2 * S * E]];
    const f = (xs: T.Tensor[]) => {
      const pad = T.fromArray(Uint8Array.from({ length: N * S }, (_, i) => +(i < S || i % S >= S - 1 - Math.floor(i / S))), [N, 1, 1, S], { dtype: 'bool' });
      const bias = T.fromArray(Float64Array.from({ length: L * S }, (_, i) => Math.sin(i)), [L, S], { dtype: xs[0].dtype });
      return T.scaledDotProductAttention(xs[0].reshape([N, 2, L, E]), xs[1].reshape([N, 2, S, E]), xs[2].reshape([N, 2, S, E]), { isCausal: causal, attnMask: [pad, bias] });
    };
    const d = compare(shapes, f, 2e-5);
    expect(d.softmax).toBe(1);
    expect(d.softmaxBackward).toBe(1);
  });
});

describe('strided copies and concatenations on the kernel', () => {
  /** The element of a row-major array of `shape` at the index `ix` permuted by `perm` (the reference transpose). */
  const permuted = (src: number[], shape: number[], perm: number[]): number[] => {
    const outShape = perm.map((p) => shape[p]);
    const strides = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
    const n = src.length;
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      let rest = i;
      let at = 0;
      for (let d = outShape.length - 1; d >= 0; d--) {
        at += (rest % outShape[d]) * strides[perm[d]];
        rest = Math.floor(rest / outShape[d]);
      }
      out.push(src[at]);
    }
    return out;
  };

  it.each([
    ['heads split out of [N, L, H·D]', [2, 5, 3, 4], [0, 2, 1, 3], 'float32'],
    ['heads merged back, rows of 7 (a tail of 3)', [3, 2, 4, 7], [0, 2, 1, 3], 'float32'],
    ['int32, five axes', [2, 3, 2, 3, 5], [1, 0, 3, 2, 4], 'int32'],
    // the last two axes swapped: SIMD transposes (4×4 tiles and ragged edges)
    ['a matrix transposed, 4×4 tiles only', [8, 12], [1, 0], 'float32'],
    ['a matrix transposed, ragged edges', [7, 5], [1, 0], 'float32'],
    ['a weight gradient shape transposed', [128, 512], [1, 0], 'float32'],
    ['a batch of transposed blocks', [3, 5, 9], [0, 2, 1], 'float32'],
    ['int32 blocks transposed, leading axes permuted', [2, 3, 6, 5], [1, 0, 3, 2], 'int32'],
  ] as const)('%s: equal to the permuted values', (_what, shape, perm, dtype) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const src = Array.from({ length: n }, (_, i) => (i * 7919) % 1000 - 500);
    T.setBackend(wasm.name);
    try {
      const before = wasm.transformer.counts.copy;
      const x = T.fromArray(dtype === 'int32' ? Int32Array.from(src) : Float32Array.from(src), [...shape], { dtype });
      const y = x.permute([...perm]).contiguous();
      expect(Array.from(y.dataSync())).toEqual(permuted(src, [...shape], [...perm]));
      expect(wasm.transformer.counts.copy - before).toBe(1);
    } finally {
      T.setBackend('cpu');
    }
  });

  it('a transposed narrow (rows of the source strided and offset) copies to the transposed values', () => {
    T.setBackend(wasm.name);
    try {
      const src = Array.from({ length: 9 * 11 }, (_, i) => i - 40);
      const x = T.fromArray(Float32Array.from(src), [9, 11]);
      const before = wasm.transformer.counts.copy;
      const y = T.narrow(x, 1, 2, 6).transpose(0, 1).contiguous(); // [6, 9], element (j, i) = x[i, 2 + j]
      const want = Array.from({ length: 6 * 9 }, (_, k) => src[(k % 9) * 11 + 2 + Math.floor(k / 9)]);
      expect(Array.from(y.dataSync())).toEqual(want);
      expect(wasm.transformer.counts.copy - before).toBe(1);
    } finally {
      T.setBackend('cpu');
    }
  });

  it('concat along the last, a middle and the first axis, strided inputs included', () => {
    T.setBackend(wasm.name);
    try {
      const a = T.arange(0, 24).reshape([2, 3, 4]);
      const b = T.arange(100, 118).reshape([2, 3, 3]);
      const c = T.arange(200, 212).reshape([2, 2, 3]).transpose(1, 2); // [2, 3, 2], strided
      const before = wasm.transformer.counts.concat;
      const last = T.concat([a, b, c], 2);
      const middle = T.concat([a, T.arange(300, 308).reshape([2, 1, 4])], 1);
      const first = T.concat([a, a.mul(-1)], 0);
      expect(wasm.transformer.counts.concat - before).toBe(3);
      const rowsOf = (t: T.Tensor) => t.arraySync();
      expect(rowsOf(last)).toEqual(
        [0, 1].map((i) => [0, 1, 2].map((j) => [...[0, 1, 2, 3].map((k) => i * 12 + j * 4 + k), ...[0, 1, 2].map((k) => 100 + i * 9 + j * 3 + k), ...[0, 1].map((k) => 200 + i * 6 + k * 3 + j)])),
      );
      expect(rowsOf(middle)).toEqual([0, 1].map((i) => [...[0, 1, 2].map((j) => [0, 1, 2, 3].map((k) => i * 12 + j * 4 + k)), [0, 1, 2, 3].map((k) => 300 + i * 4 + k)]));
      expect(Array.from(first.dataSync(), (v) => v + 0)).toEqual([...Array.from({ length: 24 }, (_, i) => i), ...Array.from({ length: 24 }, (_, i) => 0 - i)]);
    } finally {
      T.setBackend('cpu');
    }
  });
});

describe('memory', () => {
  it('a layer step of layerNorm, gelu and attention (what their forwards save included) keeps the module memory flat', () => {
    T.setBackend(wasm.name);
    try {
      T.manualSeed(3);
      const x = T.randn([2, 8, 16]).keep();
      const w = T.randn([16]).keep();
      const heads = (t: T.Tensor) => t.reshape([2, 8, 2, 8]).transpose(1, 2);
      const layer = (xi: T.Tensor, wi: T.Tensor) => {
        const a = T.scaledDotProductAttention(heads(xi), heads(xi), heads(xi), { isCausal: true }).transpose(1, 2).reshape([2, 8, 16]);
        return T.gelu(T.layerNorm(a.add(xi), [16], wi, null)).square().sum();
      };
      const loss = grad(layer, { argnums: [0, 1] });
      const before = { ...wasm.transformer.counts };
      const step = () => T.tidy(() => void loss(x, w));
      step();
      step();
      const live = wasm.heap().liveBytes;
      for (let i = 0; i < 5; i++) step();
      expect(wasm.heap().liveBytes).toBe(live);
      for (const k of ['layerNorm', 'layerNormBackward', 'gelu', 'geluBackward', 'softmax', 'softmaxBackward'] as const) expect(wasm.transformer.counts[k] - before[k], k).toBe(7);
      expect(wasm.transformer.counts.copy - before.copy).toBeGreaterThan(0);
    } finally {
      T.setBackend('cpu');
    }
  });
});

/** Φ(x) in float64: ½(1 + erf(x/√2)), erf by its Taylor series for |z| < 3 and the erfc continued fraction beyond. */
function phi64(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  let erfc: number;
  if (z < 3) {
    let term = z;
    let sum = z;
    for (let n = 1; n < 200; n++) {
      term *= (-z * z) / n;
      sum += term / (2 * n + 1);
    }
    erfc = 1 - (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    let frac = 0;
    for (let n = 60; n >= 1; n--) frac = (n / 2) / (z + frac);
    erfc = Math.exp(-z * z) / Math.sqrt(Math.PI) / (z + frac);
  }
  return x >= 0 ? 1 - erfc / 2 : erfc / 2;
}
