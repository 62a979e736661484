/** Max pooling straight from the image, forward and backward, and the patch geometry. */
import { patchOutputSize, type DataId, type Im2ColParams, type View } from '../../backend.js';
import type { TypedArray } from '../../dtype.js';
import { type ArrayAllocator, zeroed } from './allocator.js';
import { contiguousView, sameDtype, vals, wrap } from './views.js';

/** Patch geometry of an [N,C,H,W] input (im2col, im2row, pooling), each channel a plane. */
export function poolGeometry(shape: readonly number[], p: Im2ColParams) {
  const [N, C, H, W] = shape;
  const [kh, kw] = p.kernel;
  const [sh, sw] = p.stride;
  const [dh, dw] = p.dilation;
  const [pt, , pl] = p.pad;
  const [oh, ow] = patchOutputSize(shape, p);
  return { planes: N * C, H, W, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow };
}

/** Max over each window, straight from the image (padding counts as `padValue`). */
export function maxPool2d(alloc: ArrayAllocator, x: View, p: Im2ColParams): DataId | null {
  const g = poolGeometry(x.shape, p);
  const w = poolWindows(g);
  const xc = contiguousView(alloc, x);
  const out = alloc.array(x.dtype, g.planes * w.L);
  maxPoolPlanes(vals(xc), xc.offset, out, g.planes, g.H * g.W, w.L, w.K, w.at, w.inside, p.padValue);
  return wrap(out);
}

/**
 * ∂L/∂x of maxPool2d given its output y: each window's gradient goes to the elements
 * equal to its max, shared among ties (padding that ties takes a share, which is
 * dropped); the arithmetic is the composite's, (mask · dy) / count, without branches.
 */
export function maxPool2dBackward(alloc: ArrayAllocator, x: View, y: View, dy: View, p: Im2ColParams): DataId | null {
  if (!sameDtype(x, y, dy)) return null;
  const g = poolGeometry(x.shape, p);
  const w = poolWindows(g);
  const [xc, yc, dc] = [contiguousView(alloc, x), contiguousView(alloc, y), contiguousView(alloc, dy)];
  const out = zeroed(alloc, x.dtype, g.planes * g.H * g.W);
  maxPoolBackPlanes(vals(xc), xc.offset, vals(yc), yc.offset, vals(dc), dc.offset, out, g.planes, g.H * g.W, w.L, w.K, w.at, w.inside, p.padValue);
  return wrap(out);
}

/**
 * The pooling windows of one plane: for output position l, its in-image elements'
 * offsets are at[l·K … l·K + inside[l]) (K = kh·kw; the rest of the window is padding).
 */
function poolWindows(g: ReturnType<typeof poolGeometry>): { at: Int32Array; inside: Int32Array; K: number; L: number } {
  const K = g.kh * g.kw;
  const L = g.oh * g.ow;
  const at = new Int32Array(L * K);
  const inside = new Int32Array(L);
  for (let y = 0, l = 0; y < g.oh; y++) {
    for (let x = 0; x < g.ow; x++, l++) {
      let n = 0;
      for (let i = 0; i < g.kh; i++) {
        const iy = y * g.sh - g.pt + i * g.dh;
        for (let j = 0; j < g.kw; j++) {
          const ix = x * g.sw - g.pl + j * g.dw;
          if (iy >= 0 && iy < g.H && ix >= 0 && ix < g.W) at[l * K + n++] = iy * g.W + ix;
        }
      }
      inside[l] = n;
    }
  }
  return { at, inside, K, L };
}

// The pooling loops live in plain functions of arrays and numbers: V8 compiles such a
// function once for good, where a loop inside a method that runs a few times per step
// is recompiled on entry (on-stack) and thrown away again at its exit.

function maxPoolPlanes(src: TypedArray, xo: number, out: TypedArray, planes: number, area: number, L: number, K: number, at: Int32Array, inside: Int32Array, pv: number): void {
  for (let plane = 0, o = 0; plane < planes; plane++) {
    const base = xo + plane * area;
    for (let l = 0; l < L; l++, o++) {
      let m = -Infinity;
      let best = -1;
      const n = inside[l];
      for (let k = l * K; k < l * K + n; k++) {
        // branch-free: take this element if it is larger or NaN (NaN wins and stays)
        const i = base + at[k];
        const v = src[i];
        const take = +(v > m) | +(v !== v) | +(best < 0);
        best ^= (best ^ i) & -take;
        m = src[best];
      }
      out[o] = n < K && pv > m ? pv : m;
    }
  }
}

function maxPoolBackPlanes(
  src: TypedArray, xo: number, yv: TypedArray, yo: number, d: TypedArray, dO: number, out: TypedArray,
  planes: number, area: number, L: number, K: number, at: Int32Array, inside: Int32Array, pv: number,
): void {
  for (let plane = 0, o = 0; plane < planes; plane++) {
    const base = plane * area;
    const xb = xo + base;
    for (let l = 0; l < L; l++, o++) {
      const m = yv[yo + o];
      const n = inside[l];
      let count = n < K && pv === m ? K - n : 0;
      for (let k = l * K; k < l * K + n; k++) count += +(src[xb + at[k]] === m);
      const dv = d[dO + o];
      for (let k = l * K; k < l * K + n; k++) out[base + at[k]] += (+(src[xb + at[k]] === m) * dv) / count;
    }
  }
}
