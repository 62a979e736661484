import { getBackend } from '../engine.js';
import { contiguousStrides, fmt, normAxes, normAxis, ShapeError, shapesEqual, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { defineOp } from '../op.js';
import { zeros } from './creation.js';
import { commonBackend, fromData, prim, viewOp } from './prim.js';
import { reduceSum } from './reduce.js';

// ------------------------------------------------------------ op definitions

/** A copy into a contiguous buffer (`contiguous`, `clone`): the gradient passes through. */
const contiguousOp = defineOp({ name: 'contiguous', grad: (dy) => [dy] });
const cloneOp = defineOp({ name: 'clone', grad: (dy) => [dy] });
/** A view with a new shape (`reshape`, `squeeze`, `unsqueeze`, `flatten`); `shape` is the input's. */
const reshapeOp = defineOp<{ shape: readonly number[] }>({ name: 'reshape', grad: (dy, n) => [reshape(dy, n.attrs.shape)] });
const permuteOp = defineOp<{ dims: readonly number[] }>({
  name: 'permute',
  grad: (dy, n) => {
    const dims = n.attrs.dims;
    return [permute(dy, dims.map((_, i) => dims.indexOf(i)))];
  },
});
/** Broadcasting view; the gradient sums back to the input's `shape`. */
const expandOp = defineOp<{ shape: readonly number[] }>({ name: 'expand', grad: (dy, n) => [sumToShape(dy, n.attrs.shape)] });
/** Strided slice view; its adjoint pads the gradient with zeros at the edges and between steps. */
const sliceOp = defineOp<{ begins: readonly number[]; sizes: readonly number[]; steps: readonly number[]; inShape: readonly number[] }>({
  name: 'slice',
  grad: (dy, n) => {
    const { begins, sizes, steps, inShape } = n.attrs;
    if (sizes.some((s) => s === 0)) return [zeros(inShape, { dtype: dy.dtype, backend: dy.backend.name })];
    const high = inShape.map((d, i) => d - begins[i] - ((sizes[i] - 1) * steps[i] + 1));
    return [padPrim(dy, begins, high, steps.map((s) => s - 1), 0)];
  },
});
/** Edge and interior padding; its adjoint is the matching slice. */
const padOp = defineOp<{ low: readonly number[]; high: readonly number[]; interior: readonly number[]; value: number }>({
  name: 'pad',
  grad: (dy, n) => [sliceView(dy, n.attrs.low, n.inputs[0].shape, n.attrs.interior.map((i) => i + 1))],
});
/** Joining along `axis`; each input's gradient is its part of dy. */
const concatOp = defineOp<{ axis: number; sizes: readonly number[] }>({
  name: 'concat',
  grad: (dy, n) => {
    let at = 0;
    return n.attrs.sizes.map((s) => {
      const part = narrow(dy, n.attrs.axis, at, s);
      at += s;
      return part;
    });
  },
});

/** Resolve a target shape with at most one -1. */
function inferShape(op: string, x: Tensor, shape: readonly number[]): number[] {
  const out = [...shape];
  const neg = out.filter((d) => d === -1).length;
  if (neg > 1) throw new ShapeError(`${op}: only one dim may be -1, got ${fmt(shape)}`);
  for (const d of out) {
    if (d !== -1 && (!Number.isInteger(d) || d < 0)) throw new ShapeError(`${op}: invalid shape ${fmt(shape)}`);
  }
  if (neg === 1) {
    const known = sizeOf(out.filter((d) => d !== -1));
    const i = out.indexOf(-1);
    if (known === 0 || x.size % known !== 0) {
      throw new ShapeError(`${op}: cannot reshape ${fmt(x.shape)} (${x.size} elements) into ${fmt(shape)}`);
    }
    out[i] = x.size / known;
  }
  if (sizeOf(out) !== x.size) {
    throw new ShapeError(`${op}: cannot reshape ${fmt(x.shape)} (${x.size} elements) into ${fmt(shape)} (${sizeOf(out)} elements)`);
  }
  return out;
}

/** A contiguous copy (or `x` itself when already contiguous). */
export function contiguous(x: Tensor): Tensor {
  if (x.isContiguous) return x;
  return prim(contiguousOp, [x], {}, x.shape, x.dtype, (b, [v]) => b.copy(v));
}

/** A copy in a buffer of its own, even of a contiguous tensor (PyTorch's clone); the gradient passes through. */
export function clone(x: Tensor): Tensor {
  return prim(cloneOp, [x], {}, x.shape, x.dtype, (b, [v]) => b.copy(v));
}

/** Same data, new shape; copies only when the layout makes a view impossible (as PyTorch's reshape). */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const target = inferShape('reshape', x, shape);
  if (shapesEqual(target, x.shape)) return x;
  const strides = x.isContiguous ? contiguousStrides(target) : viewStrides(x.shape, x.strides, target);
  if (strides !== null) return viewOp(reshapeOp, x, { shape: x.shape }, target, strides, x.offset);
  const src = contiguous(x);
  return viewOp(reshapeOp, src, { shape: src.shape }, target, contiguousStrides(target), src.offset);
}

/**
 * Strides that show a strided tensor of `shape` in `target` shape without moving data,
 * or null if there are none. The dims of `shape` fall into chunks that are contiguous with
 * each other (each dim's stride is the next one's stride times its size); a view exists
 * when every chunk's elements make up whole dims of `target`.
 */
export function viewStrides(shape: readonly number[], strides: readonly number[], target: readonly number[]): number[] | null {
  if (shape.length === 0 || sizeOf(shape) === 0) return contiguousStrides(target);
  const out = new Array<number>(target.length);
  let t = target.length - 1;
  let base = strides[shape.length - 1];
  let chunk = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    chunk *= shape[d];
    const chunkEnds = d === 0 || (shape[d - 1] !== 1 && strides[d - 1] !== chunk * base);
    if (!chunkEnds) continue;
    let covered = 1;
    while (t >= 0 && (covered < chunk || target[t] === 1)) {
      out[t] = covered * base;
      covered *= target[t];
      t--;
    }
    if (covered !== chunk) return null;
    if (d > 0) {
      base = strides[d - 1];
      chunk = 1;
    }
  }
  return t === -1 ? out : null;
}

/** Like `reshape` but never copies: throws when the layout allows no view (PyTorch's `view`). */
export function view(x: Tensor, shape: readonly number[]): Tensor {
  if (!x.isContiguous && viewStrides(x.shape, x.strides, inferShape('view', x, shape)) === null) {
    throw new ShapeError(`view: tensor ${fmt(x.shape)} is not contiguous (strides ${fmt(x.strides)}); use reshape() or contiguous() first`);
  }
  return reshape(x, shape);
}

export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normAxis('flatten', startDim, x.ndim);
  const e = normAxis('flatten', endDim, x.ndim);
  if (s > e) throw new ShapeError(`flatten: startDim ${startDim} comes after endDim ${endDim}`);
  const shape = [...x.shape.slice(0, s), sizeOf(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)];
  return reshape(x, shape);
}

export function permute(x: Tensor, dims: readonly number[]): Tensor {
  if (dims.length !== x.ndim) throw new ShapeError(`permute: ${fmt(dims)} has ${dims.length} dims, tensor ${fmt(x.shape)} has ${x.ndim}`);
  const axes = dims.map((d) => normAxis('permute', d, x.ndim));
  if (new Set(axes).size !== axes.length) throw new ShapeError(`permute: ${fmt(dims)} is not a permutation`);
  if (axes.every((a, i) => a === i)) return x;
  return viewOp(permuteOp, x, { dims: axes }, axes.map((a) => x.shape[a]), axes.map((a) => x.strides[a]), x.offset);
}

export function transpose(x: Tensor, dim0 = 0, dim1 = 1): Tensor {
  if (x.ndim < 2) return x;
  const a = normAxis('transpose', dim0, x.ndim);
  const b = normAxis('transpose', dim1, x.ndim);
  const dims = x.shape.map((_, i) => i);
  dims[a] = b;
  dims[b] = a;
  return permute(x, dims);
}

/** Broadcast to `shape` without copying (stride 0 on repeated dims); -1 keeps a dim. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  if (shape.length < x.ndim) {
    throw new ShapeError(`expand: target ${fmt(shape)} has fewer dims than tensor ${fmt(x.shape)}`);
  }
  const lead = shape.length - x.ndim;
  const outShape: number[] = [];
  const strides: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    const src = i - lead;
    const want = shape[i];
    if (src < 0) {
      if (want < 0) throw new ShapeError(`expand: -1 is not allowed for new leading dim ${i} in ${fmt(shape)}`);
      outShape.push(want);
      strides.push(0);
      continue;
    }
    const have = x.shape[src];
    if (want === -1 || want === have) {
      outShape.push(have);
      strides.push(x.strides[src]);
    } else if (have === 1) {
      outShape.push(want);
      strides.push(0);
    } else {
      throw new ShapeError(`expand: cannot expand ${fmt(x.shape)} to ${fmt(shape)} — dim ${i} is ${have}, not 1`);
    }
  }
  if (shapesEqual(outShape, x.shape)) return x;
  return viewOp(expandOp, x, { shape: x.shape }, outShape, strides, x.offset);
}

/** Remove size-1 dims (all, or the given ones). */
export function squeeze(x: Tensor, dim?: number | number[]): Tensor {
  const axes = dim === undefined ? x.shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0) : normAxes('squeeze', dim, x.ndim);
  const drop = axes.filter((a) => x.shape[a] === 1);
  if (drop.length === 0) return x;
  const keep = x.shape.map((_, i) => i).filter((i) => !drop.includes(i));
  return viewOp(reshapeOp, x, { shape: x.shape }, keep.map((i) => x.shape[i]), keep.map((i) => x.strides[i]), x.offset);
}

/** Insert a size-1 dim at `dim` (negative counts from the end of the result). */
export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = normAxis('unsqueeze', dim, x.ndim + 1);
  const shape = [...x.shape];
  const strides = [...x.strides];
  shape.splice(d, 0, 1);
  strides.splice(d, 0, d < x.ndim ? x.strides[d] * x.shape[d] : 1);
  return viewOp(reshapeOp, x, { shape: x.shape }, shape, strides, x.offset);
}

/**
 * Strided slice view: per dim `begin`, `size` and positive `step`. The gradient is the
 * matching interior/edge `pad` of zeros.
 */
export function sliceView(x: Tensor, begins: readonly number[], sizes: readonly number[], steps: readonly number[]): Tensor {
  let offset = x.offset;
  const strides = x.strides.map((s, i) => s * steps[i]);
  for (let i = 0; i < x.ndim; i++) if (sizes[i] > 0) offset += begins[i] * x.strides[i];
  if (shapesEqual(sizes, x.shape) && steps.every((s) => s === 1)) return x;
  return viewOp(sliceOp, x, { begins, sizes, steps, inShape: x.shape }, sizes, strides, offset);
}

/** `length` elements of `dim` starting at `start` (a view). */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  const d = normAxis('narrow', dim, x.ndim);
  const n = x.shape[d];
  const s = start < 0 ? start + n : start;
  if (!Number.isInteger(s) || !Number.isInteger(length) || s < 0 || length < 0 || s + length > n) {
    throw new ShapeError(`narrow: start ${start} with length ${length} is out of range for dim ${dim} of size ${n} in ${fmt(x.shape)}`);
  }
  const begins = x.shape.map((_, i) => (i === d ? s : 0));
  const sizes = x.shape.map((v, i) => (i === d ? length : v));
  return sliceView(x, begins, sizes, x.shape.map(() => 1));
}

/** The slice at `index` of `dim`, with that dim removed. */
export function select(x: Tensor, dim: number, index: number): Tensor {
  const d = normAxis('select', dim, x.ndim);
  const n = x.shape[d];
  const i = index < 0 ? index + n : index;
  if (!Number.isInteger(i) || i < 0 || i >= n) {
    throw new ShapeError(`select: index ${index} is out of range for dim ${dim} of size ${n} in ${fmt(x.shape)}`);
  }
  return squeeze(narrow(x, d, i, 1), d);
}

/** One indexing spec per leading dim: number (select), [start, end?, step?] (slice), null (all). */
export type IndexSpec = number | null | readonly [number?, number?, number?];

/** NumPy-style basic indexing: `x.index(0, [1, 3], null)` is `x[0, 1:3, :]`. */
export function index(x: Tensor, specs: readonly IndexSpec[]): Tensor {
  if (specs.length > x.ndim) throw new ShapeError(`index: ${specs.length} indices for a tensor with ${x.ndim} dims ${fmt(x.shape)}`);
  const begins = x.shape.map(() => 0);
  const sizes = [...x.shape];
  const steps = x.shape.map(() => 1);
  const drop: number[] = [];
  specs.forEach((spec, d) => {
    const n = x.shape[d];
    if (spec === null) return;
    if (typeof spec === 'number') {
      const i = spec < 0 ? spec + n : spec;
      if (!Number.isInteger(i) || i < 0 || i >= n) throw new ShapeError(`index: index ${spec} is out of range for dim ${d} of size ${n}`);
      begins[d] = i;
      sizes[d] = 1;
      drop.push(d);
      return;
    }
    const step = spec[2] ?? 1;
    if (!Number.isInteger(step) || step <= 0) throw new ShapeError(`index: slice step must be a positive integer, got ${step}`);
    const clampIdx = (v: number) => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
    const start = clampIdx(spec[0] ?? 0);
    const end = clampIdx(spec[1] ?? n);
    begins[d] = start;
    sizes[d] = Math.max(0, Math.ceil((end - start) / step));
    steps[d] = step;
  });
  const out = sliceView(x, begins, sizes, steps);
  return drop.length ? squeeze(out, drop) : out;
}

/**
 * Constant padding, PyTorch's `F.pad` order: `[left, right]` for the last dim, then
 * `[top, bottom]` for the one before, and so on. Negative amounts crop.
 */
export function pad(x: Tensor, pads: readonly number[], value = 0): Tensor {
  if (pads.length % 2 !== 0 || pads.length / 2 > x.ndim) {
    throw new ShapeError(`pad: expected an even number of pads for at most ${x.ndim} dims, got ${fmt(pads)}`);
  }
  const low = x.shape.map(() => 0);
  const high = x.shape.map(() => 0);
  for (let k = 0; k < pads.length / 2; k++) {
    const d = x.ndim - 1 - k;
    low[d] = pads[2 * k];
    high[d] = pads[2 * k + 1];
  }
  // crop first (negative pads), then pad the rest
  const begins = low.map((l) => Math.max(0, -l));
  const sizes = x.shape.map((n, d) => n - begins[d] - Math.max(0, -high[d]));
  if (sizes.some((s) => s < 0)) throw new ShapeError(`pad: pads ${fmt(pads)} crop more than tensor ${fmt(x.shape)} has`);
  const cropped = sliceView(x, begins, sizes, x.shape.map(() => 1));
  return padPrim(cropped, low.map((l) => Math.max(0, l)), high.map((h) => Math.max(0, h)), x.shape.map(() => 0), value);
}

/** The pad primitive (edge + interior padding), exported for gradient rules. */
export function padPrim(x: Tensor, low: readonly number[], high: readonly number[], interior: readonly number[], value = 0): Tensor {
  if (low.every((v) => v === 0) && high.every((v) => v === 0) && interior.every((v) => v === 0)) return x;
  const shape = x.shape.map((d, i) => low[i] + high[i] + (d > 0 ? d + (d - 1) * interior[i] : 0));
  return prim(padOp, [x], { low, high, interior, value }, shape, x.dtype, (b, [v]) => b.pad(v, low, high, interior, value));
}

/** Join tensors along an existing dim. */
export function concat(xs: readonly Tensor[], dim = 0): Tensor {
  if (xs.length === 0) throw new ShapeError('concat: expected at least one tensor');
  const first = xs[0];
  const d = normAxis('concat', dim, first.ndim);
  for (const t of xs) {
    if (t.ndim !== first.ndim || t.shape.some((v, i) => i !== d && v !== first.shape[i])) {
      throw new ShapeError(`concat: shapes ${fmt(first.shape)} and ${fmt(t.shape)} differ outside dim ${dim}`);
    }
    if (t.dtype !== first.dtype) throw new TypeError(`concat: dtypes ${first.dtype} and ${t.dtype} differ`);
  }
  if (xs.length === 1) return first;
  const shape = [...first.shape];
  shape[d] = xs.reduce((s, t) => s + t.shape[d], 0);
  const sizes = xs.map((t) => t.shape[d]);
  return prim(concatOp, xs, { axis: d, sizes }, shape, first.dtype, (b, views) => b.concat(views, d, shape));
}
export const cat = concat;

/** Join tensors of equal shape along a new dim. */
export function stack(xs: readonly Tensor[], dim = 0): Tensor {
  if (xs.length === 0) throw new ShapeError('stack: expected at least one tensor');
  for (const t of xs) {
    if (!shapesEqual(t.shape, xs[0].shape)) throw new ShapeError(`stack: shapes ${fmt(xs[0].shape)} and ${fmt(t.shape)} differ`);
  }
  const d = normAxis('stack', dim, xs[0].ndim + 1);
  return concat(xs.map((t) => unsqueeze(t, d)), d);
}

/** Split into pieces of `size` (last may be smaller) or of the given sizes. */
export function split(x: Tensor, sizeOrSizes: number | readonly number[], dim = 0): Tensor[] {
  const d = normAxis('split', dim, x.ndim);
  const n = x.shape[d];
  let sizes: number[];
  if (typeof sizeOrSizes === 'number') {
    if (!Number.isInteger(sizeOrSizes) || sizeOrSizes <= 0) throw new ShapeError(`split: size must be a positive integer, got ${sizeOrSizes}`);
    sizes = [];
    for (let s = 0; s < n; s += sizeOrSizes) sizes.push(Math.min(sizeOrSizes, n - s));
  } else {
    sizes = [...sizeOrSizes];
    const total = sizes.reduce((a, b) => a + b, 0);
    if (total !== n) throw new ShapeError(`split: sizes ${fmt(sizes)} sum to ${total}, but dim ${dim} of ${fmt(x.shape)} is ${n}`);
  }
  let at = 0;
  return sizes.map((s) => {
    const part = narrow(x, d, at, s);
    at += s;
    return part;
  });
}

/** Split into `chunks` nearly equal pieces (PyTorch's `chunk`). */
export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  if (!Number.isInteger(chunks) || chunks <= 0) throw new ShapeError(`chunk: chunks must be a positive integer, got ${chunks}`);
  const n = x.shape[normAxis('chunk', dim, x.ndim)];
  return split(x, Math.max(1, Math.ceil(n / chunks)), dim);
}

/**
 * Sum `x` down to `shape` (the reverse of broadcasting): used by gradient rules so a
 * gradient always has its input's shape.
 */
export function sumToShape(x: Tensor, shape: readonly number[]): Tensor {
  if (shapesEqual(x.shape, shape)) return x;
  const lead = x.ndim - shape.length;
  if (lead < 0) throw new ShapeError(`sumToShape: ${fmt(x.shape)} has fewer dims than ${fmt(shape)}`);
  const axes: number[] = [];
  for (let i = 0; i < x.ndim; i++) {
    if (i < lead) axes.push(i);
    else if (shape[i - lead] === 1 && x.shape[i] !== 1) axes.push(i);
    else if (shape[i - lead] !== x.shape[i]) throw new ShapeError(`sumToShape: cannot reduce ${fmt(x.shape)} to ${fmt(shape)}`);
  }
  const summed = axes.length ? reduceSum(x, axes) : x;
  return reshape(summed, shape);
}

/** Move a tensor to another backend (reads its data, writes it there). */
export async function toBackend(x: Tensor, name: string): Promise<Tensor> {
  const target = getBackend(name);
  if (target === x.backend) return x;
  commonBackend('toBackend', [x]);
  const data = await x.data();
  return fromData(target, target.write(data, x.dtype), x.shape, x.dtype);
}
