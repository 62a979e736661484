import * as T from '@ml/tensor';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { registerWasmBackend, type WasmBackend } from '../src/index.js';

// The direct 3×3 convolution by tiles of four output channels × two rows × four columns
// (conv3x3Tiles), which runs from four output channels up: its outputs against a float64
// loop over the windows, on one thread and on two (bit for bit the same, split by
// images), across what its loops turn on — output channels not a multiple of 4 (the last
// group's missing channels), an odd number of output rows (the last row alone), widths
// whose last four columns overlap the ones before by 0–3, 1–4 input channels, padding,
// with and without a bias.
const one: WasmBackend = registerWasmBackend({ threads: 1, name: 'wasm-tiles-1t' });
const two: WasmBackend = registerWasmBackend({ threads: 2, name: 'wasm-tiles-2t' });
afterEach(() => T.setBackend('cpu'));
beforeAll(async () => {
  await two.gemm.whenReady();
});

/** y[n][o][r][c] = b[o] + Σ x·w over the window, in float64 (x zero outside the image). */
function reference(x: Float32Array, xs: number[], w: Float32Array, O: number, b: Float32Array | null, pad: number): { y: Float64Array; oh: number; ow: number } {
  const [N, C, H, W] = xs;
  const [oh, ow] = [H + 2 * pad - 2, W + 2 * pad - 2];
  const y = new Float64Array(N * O * oh * ow);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let r = 0; r < oh; r++)
        for (let c = 0; c < ow; c++) {
          let s = b ? b[o] : 0;
          for (let ch = 0; ch < C; ch++)
            for (let i = 0; i < 3; i++)
              for (let j = 0; j < 3; j++) {
                const [yy, xx] = [r + i - pad, c + j - pad];
                if (yy >= 0 && yy < H && xx >= 0 && xx < W) s += x[((n * C + ch) * H + yy) * W + xx] * w[((o * C + ch) * 3 + i) * 3 + j];
              }
          y[((n * O + o) * oh + r) * ow + c] = s;
        }
  return { y, oh, ow };
}

/** conv2d on `backend` and the kernels it ran through the thread pool's entry (split or not). */
function run(backend: WasmBackend, x: Float32Array, xs: number[], w: Float32Array, O: number, b: Float32Array | null, pad: number): { y: Float32Array; kernels: string[] } {
  T.setBackend(backend.name);
  const kernels: string[] = [];
  const parallel = backend.gemm.parallel.bind(backend.gemm);
  backend.gemm.parallel = (kernel, ...rest) => {
    kernels.push(kernel);
    parallel(kernel, ...rest);
  };
  try {
    const out = T.tidy(() => T.conv2d(T.fromArray(x, xs), T.fromArray(w, [O, xs[1], 3, 3]), b ? T.fromArray(b, [O]) : null, { padding: pad }).dataSync());
    return { y: Float32Array.from(out), kernels };
  } finally {
    backend.gemm.parallel = parallel;
  }
}

describe('the direct 3×3 convolution by tiles (conv3x3Tiles)', () => {
  it.each([
    // [N, C, H, W], O, padding, bias
    ['the MNIST CNN first layer, batch 64', [64, 1, 28, 28], 32, 0, true],
    ['5 output channels: one missing… three missing in the last group', [3, 1, 9, 7], 5, 1, true],
    ['6 channels, an odd number of rows (7), width 6 (last four overlap by 2)', [2, 2, 9, 8], 6, 0, false],
    ['7 channels, width 5 (overlap 3), 3 input channels', [5, 3, 11, 7], 7, 0, true],
    ['4 channels exactly, width 4, one row pair', [2, 4, 4, 6], 4, 0, true],
    ['8 channels, width 9 (overlap 3), padding 1, no bias', [3, 2, 6, 7], 8, 1, false],
    ['12 channels, 4 inputs, width 13 (overlap 1), odd rows', [2, 4, 9, 15], 12, 0, true],
  ] as const)('%s: the float64 loop within 1e-5 of the largest output, two threads equal to one', (_what, xs, O, pad, bias) => {
    T.setBackend('cpu');
    T.manualSeed(xs[0] * 31 + O);
    const x = Float32Array.from(T.randn([...xs]).dataSync());
    const w = Float32Array.from(T.randn([O, xs[1], 3, 3]).dataSync());
    const b = bias ? Float32Array.from(T.randn([O]).dataSync()) : null;
    const want = reference(x, [...xs], w, O, b, pad).y;
    const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 1);
    const got1 = run(one, x, [...xs], w, O, b, pad);
    expect(got1.y.length).toBe(want.length);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got1.y[i] - want[i]));
    expect(worst / scale).toBeLessThan(1e-5);
    const got2 = run(two, x, [...xs], w, O, b, pad);
    const bad = got2.y.findIndex((v, i) => !Object.is(v, got1.y[i]));
    expect(bad, `two threads: element ${bad}`).toBe(-1);
    expect(got1.kernels).toContain('conv3x3Tiles');
  });

  it('leaves fewer than four output channels to conv3x3, which keeps its own values', () => {
    T.setBackend('cpu');
    T.manualSeed(3);
    const xs = [2, 2, 8, 9];
    const x = Float32Array.from(T.randn(xs).dataSync());
    const w = Float32Array.from(T.randn([3, 2, 3, 3]).dataSync());
    const got = run(one, x, xs, w, 3, null, 1);
    expect(got.kernels).toContain('conv3x3');
    expect(got.kernels).not.toContain('conv3x3Tiles');
    const want = reference(x, xs, w, 3, null, 1).y;
    for (let i = 0; i < want.length; i++) expect(Math.abs(got.y[i] - want[i])).toBeLessThan(1e-4);
  });

  it('writes nothing outside y: the missing channels of the last group and the overlapping columns stay in place', () => {
    // the kernel alone, y between two guard blocks: 5 channels (3 missing in the last
    // group), 7 rows (the last alone), width 5 (the last four overlap by 3)
    const [N, C, Hp, Wp, O] = [2, 2, 9, 7, 5];
    const [oh, ow, K, groups] = [Hp - 2, Wp - 2, 9 * C, Math.ceil(O / 4)];
    const guard = 64;
    const g = one.gemm;
    const floats = N * C * Hp * Wp + groups * K * 4 + K + groups * 4 + guard + N * O * oh * ow + guard;
    const at = g.alloc(4 * floats);
    try {
      const f = g.heap.f32;
      // x, the packed weights, the offsets, the bias, a guard, y, a guard
      const [x, wp] = [at, at + 4 * N * C * Hp * Wp];
      const offsAt = wp + 4 * groups * K * 4;
      const biasAt = offsAt + 4 * K;
      const y = biasAt + 4 * (groups * 4 + guard);
      for (let i = 0; i < floats; i++) f[(at >> 2) + i] = -7.5; // everything: the guards' value
      for (let i = 0; i < N * C * Hp * Wp + groups * K * 4; i++) f[(x >> 2) + i] = Math.sin(i);
      const o = new Int32Array(f.buffer, offsAt, K);
      for (let c = 0; c < C; c++) for (let q = 0; q < 9; q++) o[9 * c + q] = 4 * ((c * Hp + Math.floor(q / 3)) * Wp + (q % 3));
      for (let i = 0; i < groups * 4; i++) f[(biasAt >> 2) + i] = 0;
      g.kernels.conv3x3Tiles(x, wp, offsAt, biasAt, y, N, C, Hp, Wp, O);
      const [before, after] = [(y >> 2) - guard, (y >> 2) + N * O * oh * ow];
      for (let i = 0; i < guard; i++) {
        expect(f[before + i], `guard before y, float ${i}`).toBe(-7.5);
        expect(f[after + i], `guard after y, float ${i}`).toBe(-7.5);
      }
      for (let i = 0; i < N * O * oh * ow; i++) expect(f[(y >> 2) + i], `y[${i}] written`).not.toBe(-7.5);
    } finally {
      g.heap.free(at);
    }
  });
});
