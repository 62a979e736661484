/**
 * Operands as data: a logical shape, how its elements lie in storage (a layout: transposed,
 * sliced, stepped, broadcast by expansion, at an offset) and the values' kind and seed.
 * `build` makes the same operand on any backend in any float dtype, so a case runs on the
 * backend under test in float32 and on the cpu backend in float64 from identical values
 * (every float value is a float32, exact in both).
 */
import { expand, fromArray, Generator, narrow, permute, reshape, sliceView, type DType, type Tensor } from '@ml/tensor';

/**
 * How an operand's elements lie in its storage. Applied in this order to a 1-D leaf
 * tensor: `offset` elements skipped, reshaped to the stored shape (with the slack of
 * `slice` and `step`), `slice` and `step` taken, dims permuted back from `perm`, and the
 * `expand` dims broadcast from 1.
 */
export interface Layout {
  /** stored dim i is logical dim perm[i] (null: row-major order) */
  readonly perm: readonly number[] | null;
  /** logical dims stored with size 1 and broadcast (stride 0) */
  readonly expand: readonly number[];
  /** a stored dim taken from a larger one: `before` elements before it, `after` after */
  readonly slice: { readonly dim: number; readonly before: number; readonly after: number } | null;
  /** a stored dim read every `by` elements */
  readonly step: { readonly dim: number; readonly by: number } | null;
  /** elements of storage before the operand's first */
  readonly offset: number;
}

export const CONTIGUOUS: Layout = { perm: null, expand: [], slice: null, step: null, offset: 0 };

/**
 * What values an operand holds: `float` uniform on [-2, 2]; `positive` on [0.25, 4];
 * `nonzero` ±[0.5, 2]; `unit` on (-0.9, 0.9); `int` int32 on [-6, 6]; `bool`; `index` int32
 * on [low, bound).
 */
export type ValueKind = 'float' | 'positive' | 'nonzero' | 'unit' | 'int' | 'bool' | 'index';

export interface Operand {
  readonly shape: readonly number[];
  readonly kind: ValueKind;
  readonly layout: Layout;
  /** the values' seed */
  readonly seed: number;
  /** whether gradients are compared for it (float kinds only) */
  readonly grad: boolean;
  /** `index`: values on [low, bound) */
  readonly bound?: number;
  readonly low?: number;
}

export function isFloatKind(kind: ValueKind): boolean {
  return kind !== 'int' && kind !== 'bool' && kind !== 'index';
}


/** `n` values of `kind` from `seed` (floats rounded to float32). */
export function values(kind: ValueKind, n: number, seed: number, bound = 1, low = 0): number[] {
  const g = new Generator(seed);
  const next = (): number => g.random();
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const u = next();
    switch (kind) {
      case 'float':
        out[i] = Math.fround(4 * u - 2);
        break;
      case 'positive':
        out[i] = Math.fround(0.25 + 3.75 * u);
        break;
      case 'nonzero':
        out[i] = Math.fround((u < 0.5 ? -1 : 1) * (0.5 + 3 * Math.abs(u - 0.5)));
        break;
      case 'unit':
        out[i] = Math.fround(1.8 * u - 0.9);
        break;
      case 'int':
        out[i] = Math.floor(13 * u) - 6;
        break;
      case 'bool':
        out[i] = u < 0.5 ? 0 : 1;
        break;
      case 'index':
        out[i] = low + Math.floor((bound - low) * u);
        break;
    }
  }
  return out;
}

const size = (shape: readonly number[]): number => shape.reduce((p, d) => p * d, 1);

/** The shape the layout stores before its slice and step are taken: the leaf's, after `offset`. */
export function storedShape(shape: readonly number[], layout: Layout): number[] {
  const pre = shape.map((d, i) => (layout.expand.includes(i) ? 1 : d));
  const stored = layout.perm ? layout.perm.map((i) => pre[i]) : pre;
  const full = [...stored];
  if (layout.step) full[layout.step.dim] *= layout.step.by;
  if (layout.slice) full[layout.slice.dim] += layout.slice.before + layout.slice.after;
  return full;
}

/** Elements of the leaf that holds the operand (its storage). */
export function storageSize(op: Operand): number {
  return size(storedShape(op.shape, op.layout)) + op.layout.offset;
}

export interface Built {
  /** the operand: a view of `leaf` with the operand's shape and layout */
  tensor: Tensor;
  /** the 1-D storage it views; gradients are compared on it (the whole storage: unviewed slots are 0) */
  leaf: Tensor;
}

/** The dtype an operand of `kind` has when floats are `floatDType`. */
export function dtypeOf(kind: ValueKind, floatDType: DType): DType {
  return isFloatKind(kind) ? floatDType : kind === 'bool' ? 'bool' : 'int32';
}

/** Make `op` on `backend`, its floats in `floatDType`; the leaf requires grad when `op.grad`. */
export function build(op: Operand, backend: string, floatDType: DType, withGrad: boolean): Built {
  const { layout } = op;
  const dtype = dtypeOf(op.kind, floatDType);
  const full = storedShape(op.shape, layout);
  const n = size(full);
  const leaf = fromArray(values(op.kind, n + layout.offset, op.seed, op.bound, op.low), [n + layout.offset], { dtype, backend });
  if (withGrad && op.grad && isFloatKind(op.kind)) leaf.requiresGrad_();
  let t = reshape(layout.offset > 0 ? narrow(leaf, 0, layout.offset, n) : leaf, full);
  if (layout.slice) {
    const { dim, before, after } = layout.slice;
    t = narrow(t, dim, before, t.shape[dim] - before - after);
  }
  if (layout.step) {
    const { dim, by } = layout.step;
    const sizes = t.shape.map((d, i) => (i === dim ? d / by : d));
    t = sliceView(t, t.shape.map(() => 0), sizes, t.shape.map((_, i) => (i === dim ? by : 1)));
  }
  if (layout.perm) {
    const inverse = new Array<number>(layout.perm.length);
    layout.perm.forEach((logical, stored) => (inverse[logical] = stored));
    t = permute(t, inverse);
  }
  if (layout.expand.length > 0) t = expand(t, op.shape);
  return { tensor: t, leaf };
}

/** A short description of an operand for failure messages, e.g. `[5,64,8] expand(0) step(1/2)`. */
export function describeOperand(op: Operand): string {
  const l = op.layout;
  const parts = [`[${op.shape.join(',')}] ${op.kind}`];
  if (l.perm) parts.push(`perm(${l.perm.join(',')})`);
  if (l.expand.length) parts.push(`expand(${l.expand.join(',')})`);
  if (l.slice) parts.push(`slice(dim ${l.slice.dim}: ${l.slice.before}+n+${l.slice.after})`);
  if (l.step) parts.push(`step(dim ${l.step.dim} by ${l.step.by})`);
  if (l.offset) parts.push(`offset ${l.offset}`);
  return parts.join(' ');
}
