/**
 * Convolution kernels: patch extraction (im2col, im2row) and its adjoints (col2im, row2im),
 * and conv2d forward and backward as one large product each on the patch matrix.
 */
import { patchOutputSize, type DataId, type Im2ColParams, type Shape4, type View } from '../../backend.js';
import type { TypedArray } from '../../dtype.js';
import { sizeOf } from '../../shape.js';
import { type ArrayAllocator, zeroed } from './allocator.js';
import { poolGeometry } from './pool.js';
import { contiguousView, dataValues, flatView, materialize, sameDtype, vals, wrap } from './views.js';

/**
 * The steps the convolutions are built from, called on the backend (a backend built on
 * the CPU one may run them on its own kernels).
 */
export interface ConvSteps {
  im2row(x: View, p: Im2ColParams): DataId;
  row2im(rows: View, outShape: Shape4, p: Im2ColParams): DataId;
  matmul(a: View, b: View): DataId;
  dispose(data: DataId): void;
}

// The convolution runs on the patch matrix P = im2row(x), [N·L, C·kh·kw] (one row per
// output position of every image), so each pass is one large product:
//   forward  Y[N·L, O] = P · wᵀ          (then laid out as [N, O, oh, ow], bias added)
//   ∂x       ∂P = dy[N·L, O] · w         (then summed back into the image: row2im)
//   ∂w       ∂w[O, R] = dy[O, N·L] · P

/** x [N,C,H,W] ⋆ w [O,C,kh,kw] (+ bias [O]) → [N,O,oh,ow]. */
export function conv2d(alloc: ArrayAllocator, steps: ConvSteps, x: View, w: View, bias: View | null, p: Im2ColParams, groups: number): DataId | null {
  if (groups !== 1 || !sameDtype(x, w, bias)) return null;
  const [N] = x.shape;
  const O = w.shape[0];
  const R = sizeOf(w.shape.slice(1)); // C·kh·kw (not size / O: NaN without output channels)
  const L = patchArea(x.shape, p);
  const P = steps.im2row(x, p);
  const wc = contiguousView(alloc, w);
  const yt = steps.matmul(flatView(P, x.dtype, [1, N * L, R]), { ...wc, shape: [1, R, O], strides: [0, 1, R] });
  steps.dispose(P);
  const b = bias === null ? null : materialize(alloc, bias);
  const out = positionsToChannels(alloc, dataValues(yt), N, L, O, b);
  steps.dispose(yt);
  return wrap(out);
}

/** ∂L/∂x of conv2d: row2im(dy · w). */
export function conv2dBackwardInput(alloc: ArrayAllocator, steps: ConvSteps, dy: View, w: View, xShape: Shape4, p: Im2ColParams, groups: number): DataId | null {
  if (groups !== 1 || !sameDtype(dy, w)) return null;
  const [N, O] = dy.shape;
  const R = sizeOf(w.shape.slice(1)); // C·kh·kw (not size / O: NaN without output channels)
  const L = patchArea(xShape, p);
  const d = contiguousView(alloc, dy);
  const dyt = channelsToPositions(vals(d), d.offset, N, O, L, alloc.array(dy.dtype, N * L * O));
  const dP = steps.matmul(flatView(wrap(dyt), dy.dtype, [1, N * L, O]), { ...contiguousView(alloc, w), shape: [1, O, R], strides: [0, R, 1] });
  alloc.recycle(dyt);
  const dx = steps.row2im(flatView(dP, dy.dtype, [N * L, R]), xShape, p);
  steps.dispose(dP);
  return dx;
}

/** ∂L/∂w of conv2d: dy[O, N·L] · P, shape [O, C·kh·kw]. */
export function conv2dBackwardWeight(alloc: ArrayAllocator, steps: ConvSteps, dy: View, x: View, p: Im2ColParams, groups: number): DataId | null {
  if (groups !== 1 || !sameDtype(dy, x)) return null;
  const [N, O] = dy.shape;
  const L = patchArea(x.shape, p);
  const R = x.shape[1] * p.kernel[0] * p.kernel[1];
  const P = steps.im2row(x, p);
  // dy [N, O, L] → [O, N·L]: each (n, o) row of L values moves as a block
  const d = contiguousView(alloc, dy);
  const src = vals(d);
  const dyo = swapBlocks(src, d.offset, N, O, L, alloc.array(dy.dtype, O * N * L));
  const dw = steps.matmul(flatView(wrap(dyo), dy.dtype, [1, O, N * L]), flatView(P, x.dtype, [1, N * L, R]));
  alloc.recycle(dyo);
  steps.dispose(P);
  return dw;
}

/** x [N,C,H,W] → P [N·oh·ow, C·kh·kw]: row (n, y, x) holds the patch under output (y, x) of image n. */
export function im2row(alloc: ArrayAllocator, x: View, p: Im2ColParams): DataId {
  const [N, C, H, W] = x.shape;
  const g = poolGeometry(x.shape, p);
  const xc = contiguousView(alloc, x);
  const src = vals(xc);
  const R = C * g.kh * g.kw;
  const out = alloc.array(x.dtype, N * g.oh * g.ow * R);
  const pv = p.padValue;
  let o = 0;
  for (let n = 0; n < N; n++) {
    const img = xc.offset + n * C * H * W;
    for (let y = 0; y < g.oh; y++) {
      const y0 = y * g.sh - g.pt;
      const rowsIn = y0 >= 0 && y0 + (g.kh - 1) * g.dh < H;
      for (let xx = 0; xx < g.ow; xx++) {
        const x0 = xx * g.sw - g.pl;
        if (rowsIn && x0 >= 0 && x0 + (g.kw - 1) * g.dw < W) {
          // the whole window lies inside the image
          for (let c = 0; c < C; c++) {
            for (let i = 0; i < g.kh; i++) {
              const at = img + (c * H + y0 + i * g.dh) * W + x0;
              for (let j = 0; j < g.kw; j++) out[o++] = src[at + j * g.dw];
            }
          }
        } else {
          for (let c = 0; c < C; c++) {
            for (let i = 0; i < g.kh; i++) {
              const iy = y0 + i * g.dh;
              const inY = iy >= 0 && iy < H;
              const at = img + (c * H + iy) * W;
              for (let j = 0; j < g.kw; j++) {
                const ix = x0 + j * g.dw;
                out[o++] = inY && ix >= 0 && ix < W ? src[at + ix] : pv;
              }
            }
          }
        }
      }
    }
  }
  return wrap(out);
}

/** The adjoint of im2row: rows [N·oh·ow, C·kh·kw] summed back into an image of `outShape`. */
export function row2im(alloc: ArrayAllocator, rows: View, outShape: Shape4, p: Im2ColParams): DataId {
  const [N, C, H, W] = outShape;
  const g = poolGeometry(outShape, p);
  const rc = contiguousView(alloc, rows);
  const src = vals(rc);
  const out = zeroed(alloc, rows.dtype, N * C * H * W);
  let o = rc.offset;
  for (let n = 0; n < N; n++) {
    const img = n * C * H * W;
    for (let y = 0; y < g.oh; y++) {
      const y0 = y * g.sh - g.pt;
      for (let xx = 0; xx < g.ow; xx++) {
        const x0 = xx * g.sw - g.pl;
        if (y0 >= 0 && y0 + (g.kh - 1) * g.dh < H && x0 >= 0 && x0 + (g.kw - 1) * g.dw < W) {
          // the whole window lies inside the image
          for (let c = 0; c < C; c++) {
            for (let i = 0; i < g.kh; i++) {
              const at = img + (c * H + y0 + i * g.dh) * W + x0;
              for (let j = 0; j < g.kw; j++) out[at + j * g.dw] += src[o++];
            }
          }
          continue;
        }
        for (let c = 0; c < C; c++) {
          for (let i = 0; i < g.kh; i++) {
            const iy = y0 + i * g.dh;
            if (iy < 0 || iy >= H) {
              o += g.kw;
              continue;
            }
            const at = img + (c * H + iy) * W;
            for (let j = 0; j < g.kw; j++, o++) {
              const ix = x0 + j * g.dw;
              if (ix >= 0 && ix < W) out[at + ix] += src[o];
            }
          }
        }
      }
    }
  }
  return wrap(out);
}

/** x: [N,C,H,W] → [N, C·kh·kw, oh·ow] */
export function im2col(alloc: ArrayAllocator, x: View, p: Im2ColParams): DataId {
  const [N, C] = x.shape;
  const { H, W, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow } = poolGeometry(x.shape, p);
  const src = materialize(alloc, x);
  const L = oh * ow;
  const rows = C * kh * kw;
  const out = alloc.array(x.dtype, N * rows * L);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const plane = (n * C + c) * H * W;
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) {
          const r = (c * kh + i) * kw + j;
          const o = (n * rows + r) * L;
          for (let y = 0; y < oh; y++) {
            const iy = y * sh - pt + i * dh;
            const inY = iy >= 0 && iy < H;
            for (let xx = 0; xx < ow; xx++) {
              const ix = xx * sw - pl + j * dw;
              out[o + y * ow + xx] = inY && ix >= 0 && ix < W ? src[plane + iy * W + ix] : p.padValue;
            }
          }
        }
      }
    }
  }
  return wrap(out);
}

/** cols: [N, C·kh·kw, oh·ow] → [N,C,H,W], summing overlaps (the adjoint of im2col). */
export function col2im(alloc: ArrayAllocator, cols: View, outShape: Shape4, p: Im2ColParams): DataId {
  const [N, C] = outShape;
  const { H, W, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow } = poolGeometry(outShape, p);
  const src = materialize(alloc, cols);
  const L = oh * ow;
  const rows = C * kh * kw;
  const out = zeroed(alloc, cols.dtype, N * C * H * W);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const plane = (n * C + c) * H * W;
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) {
          const r = (c * kh + i) * kw + j;
          const o = (n * rows + r) * L;
          for (let y = 0; y < oh; y++) {
            const iy = y * sh - pt + i * dh;
            if (iy < 0 || iy >= H) continue;
            for (let xx = 0; xx < ow; xx++) {
              const ix = xx * sw - pl + j * dw;
              if (ix >= 0 && ix < W) out[plane + iy * W + ix] += src[o + y * ow + xx];
            }
          }
        }
      }
    }
  }
  return wrap(out);
}

/** Y [N·L, O] (rows: positions) → [N, O, L] (+ bias[o]). */
function positionsToChannels(alloc: ArrayAllocator, y: TypedArray, N: number, L: number, O: number, bias: TypedArray | null): TypedArray {
  const out = alloc.array(y instanceof Float64Array ? 'float64' : 'float32', N * O * L);
  for (let n = 0; n < N; n++) transposeTiled(y, n * L * O, L, O, out, n * O * L);
  if (bias !== null) {
    for (let n = 0; n < N; n++) {
      for (let o = 0; o < O; o++) {
        const b = bias[o];
        const dst = (n * O + o) * L;
        for (let l = 0; l < L; l++) out[dst + l] += b;
      }
    }
  }
  return out;
}

const TILE = 16;

/** out[to + c·R + r] = x[from + r·C + c] for an R×C matrix, in 16×16 tiles (both sides stay in cache). */
function transposeTiled(x: TypedArray, from: number, R: number, C: number, out: TypedArray, to: number): void {
  for (let r0 = 0; r0 < R; r0 += TILE) {
    const r1 = Math.min(R, r0 + TILE);
    for (let c0 = 0; c0 < C; c0 += TILE) {
      const c1 = Math.min(C, c0 + TILE);
      for (let c = c0; c < c1; c++) {
        for (let r = r0, s = from + r0 * C + c; r < r1; r++, s += C) out[to + c * R + r] = x[s];
      }
    }
  }
}

/** x [A, B, L] → [B, A, L]: blocks of L elements change places. */
function swapBlocks(x: TypedArray, offset: number, A: number, B: number, L: number, out: TypedArray): TypedArray {
  for (let a = 0; a < A; a++) {
    for (let b = 0; b < B; b++) {
      const from = offset + (a * B + b) * L;
      const to = (b * A + a) * L;
      for (let l = 0; l < L; l++) out[to + l] = x[from + l];
    }
  }
  return out;
}

/** dy [N, O, L] → [N·L, O] (rows: positions). */
function channelsToPositions(dy: TypedArray, offset: number, N: number, O: number, L: number, out: TypedArray): TypedArray {
  for (let n = 0; n < N; n++) transposeTiled(dy, offset + n * O * L, O, L, out, n * L * O);
  return out;
}

/** Output positions (oh·ow) of a patch extraction over an [N,C,H,W] input. */
function patchArea(shape: readonly number[], p: Im2ColParams): number {
  const [oh, ow] = patchOutputSize(shape, p);
  return oh * ow;
}
