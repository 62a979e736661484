/**
 * Plain-loop float64 references for the fused kernels, written from the definitions (not
 * from any backend's code), and the helpers the fused tests share: seeded values and GPU
 * tensors laid out contiguously, permuted or sliced.
 */
import { narrow, permute, sizeOf, type Im2ColParams, type Tensor } from '@ml/tensor';
import { fromData, type DataId } from '@ml/tensor/backend';
import { expect } from 'vitest';
import type { WebGpuBackend } from '../src/index.js';

/** Seeded values in [−scale, scale) (mulberry32), rounded to float32; `levels` > 0 rounds them to a grid of that many steps (ties). */
export function values(n: number, seed: number, scale = 1, levels = 0): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    const v = (2 * u - 1) * scale;
    out[i] = levels > 0 ? Math.round(v * levels) / levels : v;
  }
  return out;
}

/** How a GPU input is stored: as it is, with its axes reversed in memory, or inside a wider buffer at an offset. */
export type Layout = 'contiguous' | 'permuted' | 'sliced';

/** `vals` (row-major over `shape`) as a float32 tensor of `gpu` whose view has that layout. */
export function onGpu(gpu: WebGpuBackend, vals: Float32Array, shape: readonly number[], layout: Layout = 'contiguous'): Tensor {
  const r = shape.length;
  if (layout === 'contiguous' || r === 0) return fromData(gpu, gpu.write(vals, 'float32'), shape, 'float32');
  if (layout === 'permuted') {
    const rev = [...shape].reverse();
    const stored = new Float32Array(vals.length);
    const strides = contiguous(rev);
    forEachIndex(shape, (idx, i) => {
      stored[idx.reduce((s, v, d) => s + v * strides[r - 1 - d], 0)] = vals[i];
    });
    const t = fromData(gpu, gpu.write(stored, 'float32'), rev, 'float32');
    return permute(t, rev.map((_, d) => r - 1 - d));
  }
  const wide = [...shape.slice(0, -1), shape[r - 1] + 3];
  const stored = new Float32Array(sizeOf(wide)).fill(NaN);
  const strides = contiguous(wide);
  forEachIndex(shape, (idx, i) => {
    stored[idx.reduce((s, v, d) => s + (v + (d === r - 1 ? 1 : 0)) * strides[d], 0)] = vals[i];
  });
  return narrow(fromData(gpu, gpu.write(stored, 'float32'), wide, 'float32'), r - 1, 1, shape[r - 1]);
}

/** An int32 tensor of the backend. */
export function intsOnGpu(gpu: WebGpuBackend, vals: readonly number[]): Tensor {
  return fromData(gpu, gpu.write(Int32Array.from(vals), 'int32'), [vals.length], 'int32');
}

/** A fused kernel's result read back (it must not have declined). */
export async function read(gpu: WebGpuBackend, id: DataId | null, shape: readonly number[]): Promise<Float32Array> {
  expect(id, 'the fused kernel declined').not.toBeNull();
  const t = fromData(gpu, id!, shape, 'float32');
  try {
    return (await t.data()) as Float32Array;
  } finally {
    t.dispose();
  }
}

export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const [g, w] = [got[i], want[i]];
    if (Number.isNaN(w) || !Number.isFinite(w)) {
      expect(g, `${what}[${i}]`).toBe(w);
      continue;
    }
    if (!(Math.abs(g - w) <= tol * Math.max(1, Math.abs(w)))) expect.fail(`${what}[${i}]: ${g} vs ${w} (tolerance ${tol})`);
  }
}

function contiguous(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  for (let d = shape.length - 1, acc = 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d];
  }
  return s;
}

function forEachIndex(shape: readonly number[], f: (idx: number[], i: number) => void): void {
  const n = sizeOf(shape);
  const idx = shape.map(() => 0);
  for (let i = 0; i < n; i++) {
    f(idx, i);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

export function outSize(H: number, W: number, p: Im2ColParams): [number, number] {
  const o = (n: number, k: number, s: number, d: number, pad: number) => Math.floor((n + pad - d * (k - 1) - 1) / s) + 1;
  return [o(H, p.kernel[0], p.stride[0], p.dilation[0], p.pad[0] + p.pad[1]), o(W, p.kernel[1], p.stride[1], p.dilation[1], p.pad[2] + p.pad[3])];
}

/** For each output (n, c, y, x) and kernel tap (i, j): the input row and column it reads (maybe in the padding). */
function taps(p: Im2ColParams, y: number, x: number, i: number, j: number): [number, number] {
  return [y * p.stride[0] - p.pad[0] + i * p.dilation[0], x * p.stride[1] - p.pad[2] + j * p.dilation[1]];
}

/** y[n,o,oy,ox] = b[o] + Σ_{c,i,j} w[o,c,i,j]·x[n,c,iy,ix] (zero outside the image). */
export function conv2dRef(x: Float32Array, xs: readonly number[], w: Float32Array, O: number, b: Float32Array | null, p: Im2ColParams): Float64Array {
  const [N, C, H, W] = xs;
  const [kh, kw] = p.kernel;
  const [oh, ow] = outSize(H, W, p);
  const y = new Float64Array(N * O * oh * ow);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let oy = 0; oy < oh; oy++)
        for (let ox = 0; ox < ow; ox++) {
          let acc = b === null ? 0 : b[o];
          for (let c = 0; c < C; c++)
            for (let i = 0; i < kh; i++)
              for (let j = 0; j < kw; j++) {
                const [iy, ix] = taps(p, oy, ox, i, j);
                if (iy >= 0 && iy < H && ix >= 0 && ix < W) acc += w[((o * C + c) * kh + i) * kw + j] * x[((n * C + c) * H + iy) * W + ix];
              }
          y[((n * O + o) * oh + oy) * ow + ox] = acc;
        }
  return y;
}

/** The adjoint of conv2d (no bias) in x and in w for the output gradient dy: [dx, dw]. */
export function conv2dBackRef(x: Float32Array, xs: readonly number[], w: Float32Array, O: number, dy: Float32Array, p: Im2ColParams): [Float64Array, Float64Array] {
  const [N, C, H, W] = xs;
  const [kh, kw] = p.kernel;
  const [oh, ow] = outSize(H, W, p);
  const dx = new Float64Array(N * C * H * W);
  const dw = new Float64Array(O * C * kh * kw);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let oy = 0; oy < oh; oy++)
        for (let ox = 0; ox < ow; ox++) {
          const g = dy[((n * O + o) * oh + oy) * ow + ox];
          for (let c = 0; c < C; c++)
            for (let i = 0; i < kh; i++)
              for (let j = 0; j < kw; j++) {
                const [iy, ix] = taps(p, oy, ox, i, j);
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                const [xi, wi] = [((n * C + c) * H + iy) * W + ix, ((o * C + c) * kh + i) * kw + j];
                dx[xi] += w[wi] * g;
                dw[wi] += x[xi] * g;
              }
        }
  return [dx, dw];
}

/** The elements of each window: values inside the image, and how many taps fall in the padding. */
function windows(x: Float32Array, xs: readonly number[], p: Im2ColParams, each: (out: number, inside: number[], idx: number[], padded: number) => void): void {
  const [N, C, H, W] = xs;
  const [oh, ow] = outSize(H, W, p);
  for (let plane = 0, o = 0; plane < N * C; plane++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++, o++) {
        const inside: number[] = [];
        const idx: number[] = [];
        for (let i = 0; i < p.kernel[0]; i++)
          for (let j = 0; j < p.kernel[1]; j++) {
            const [iy, ix] = taps(p, oy, ox, i, j);
            if (iy >= 0 && iy < H && ix >= 0 && ix < W) {
              idx.push((plane * H + iy) * W + ix);
              inside.push(x[idx[idx.length - 1]]);
            }
          }
        each(o, inside, idx, p.kernel[0] * p.kernel[1] - inside.length);
      }
}

/** Max pooling: the largest of the window (padding counts as padValue), NaN when the window holds one. */
export function maxPoolRef(x: Float32Array, xs: readonly number[], p: Im2ColParams): Float64Array {
  const [oh, ow] = outSize(xs[2], xs[3], p);
  const y = new Float64Array(xs[0] * xs[1] * oh * ow);
  windows(x, xs, p, (o, inside, _, padded) => {
    const all = padded > 0 ? [...inside, p.padValue] : inside;
    y[o] = all.some(Number.isNaN) ? NaN : Math.max(...all);
  });
  return y;
}

/**
 * Max pooling's input gradient: each window's dy split equally among its elements equal to
 * its max (padding that ties takes shares that go nowhere) as [x = max]·dy / ties, so a
 * window whose max is NaN (no element equals it: 0·dy / 0) gives its elements NaN.
 */
export function maxPoolBackRef(x: Float32Array, xs: readonly number[], y: Float32Array, dy: Float32Array, p: Im2ColParams): Float64Array {
  const dx = new Float64Array(x.length);
  windows(x, xs, p, (o, inside, idx, padded) => {
    const ties = inside.filter((v) => v === y[o]).length + (padded > 0 && p.padValue === y[o] ? padded : 0);
    inside.forEach((v, k) => {
      dx[idx[k]] += (+(v === y[o]) * dy[o]) / ties;
    });
  });
  return dx;
}

export function avgPoolRef(x: Float32Array, xs: readonly number[], p: Im2ColParams, countIncludePad: boolean): Float64Array {
  const [oh, ow] = outSize(xs[2], xs[3], p);
  const y = new Float64Array(xs[0] * xs[1] * oh * ow);
  windows(x, xs, p, (o, inside, _, padded) => {
    y[o] = inside.reduce((s, v) => s + v, 0) / (countIncludePad ? inside.length + padded : inside.length);
  });
  return y;
}

/** Applies `f` to every line along `dim` of a row-major [shape] array, in place in a copy. */
export function alongDim(x: ArrayLike<number>, shape: readonly number[], dim: number, f: (line: number[]) => number[]): Float64Array {
  const out = new Float64Array(x.length);
  const inner = sizeOf(shape.slice(dim + 1));
  const len = shape[dim];
  const outer = sizeOf(shape.slice(0, dim));
  for (let a = 0; a < outer; a++)
    for (let b = 0; b < inner; b++) {
      const at = (k: number) => (a * len + k) * inner + b;
      const line = Array.from({ length: len }, (_, k) => x[at(k)]);
      f(line).forEach((v, k) => (out[at(k)] = v));
    }
  return out;
}

export const softmaxRef = (line: number[]): number[] => {
  const m = Math.max(...line);
  const e = line.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

/** log Σ exp, shifted by the max (by 0 when that is ±∞). */
export function logSumExp(line: readonly number[]): number {
  let m = Math.max(...line);
  if (!Number.isFinite(m)) m = 0;
  return Math.log(line.reduce((s, v) => s + Math.exp(v - m), 0)) + m;
}

export const logSoftmaxRef = (line: number[]): number[] => {
  const lse = logSumExp(line);
  return line.map((v) => v - lse);
};
