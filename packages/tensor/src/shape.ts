/** Shape helpers shared by every op. */
export type Shape = readonly number[];

export class ShapeError extends Error {
  override name = 'ShapeError';
}

export function fmt(shape: Shape): string {
  return `[${shape.join(',')}]`;
}

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (let i = 0; i < shape.length; i++) n *= shape[i];
  return n;
}

export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  if (a === b) return true; // tensors of one op chain share their shape array
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** NumPy broadcasting: align on the right; each pair of dims must be equal or one of them 1. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(
        `${op}: shapes ${fmt(a)} and ${fmt(b)} cannot be broadcast — dim ${i - n} is ${da} vs ${db}`,
      );
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/**
 * `broadcastShapes` for the ops: `a` or `b` itself when it is the result (the usual case, a
 * scalar or a bias against a batch), so the output tensor shares that frozen array.
 */
export function broadcastShared(op: string, a: Shape, b: Shape): Shape {
  if (broadcastsTo(b, a)) return a;
  if (broadcastsTo(a, b)) return b;
  return broadcastShapes(op, a, b);
}

/** Whether `from` broadcasts to `to` unchanged: each of its dims, aligned right, is 1 or `to`'s. */
function broadcastsTo(from: Shape, to: Shape): boolean {
  const lead = to.length - from.length;
  if (lead < 0) return false;
  for (let i = 0; i < from.length; i++) if (from[i] !== 1 && from[i] !== to[lead + i]) return false;
  return true;
}

/** Normalize a possibly negative axis; throws naming the op when out of range. */
export function normAxis(op: string, axis: number, ndim: number): number {
  const lo = ndim === 0 ? -1 : -ndim;
  const hi = ndim === 0 ? 0 : ndim - 1;
  if (!Number.isInteger(axis) || axis < lo || axis > hi) {
    throw new ShapeError(`${op}: dim ${axis} is out of range for a tensor with ${ndim} dims (expected ${lo}..${hi})`);
  }
  return axis < 0 ? axis + Math.max(ndim, 1) : axis;
}

export function normAxes(op: string, dim: number | readonly number[] | undefined, ndim: number): number[] {
  if (dim === undefined) return Array.from({ length: ndim }, (_, i) => i);
  const dims = typeof dim === 'number' ? [dim] : [...dim];
  const axes = dims.map((d) => normAxis(op, d, ndim));
  // a 0-d tensor accepts dim 0 / -1 (like PyTorch) but has no axis to reduce
  if (ndim === 0) return [];
  if (new Set(axes).size !== axes.length) throw new ShapeError(`${op}: dim ${fmt(dims)} repeats an axis`);
  return axes.sort((x, y) => x - y);
}

export function assertShape(op: string, shape: readonly number[]): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(`${op}: invalid shape ${fmt(shape)} (dims must be integers >= 0)`);
  }
}
