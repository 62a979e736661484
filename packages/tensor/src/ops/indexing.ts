import { type DType } from '../dtype.js';
import { fmt, normAxis, ShapeError } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { eq } from './elementwise.js';
import { expand, flatten, reshape, unsqueeze } from './layout.js';
import { defineOp } from '../op.js';
import { arange, zeros } from './creation.js';
import { castTo, commonBackend, fromData, prim } from './prim.js';

// gather and scatterAdd are each other's adjoint; the int32 index is an attribute
const gatherOp = defineOp<{ axis: number; index: Tensor; inShape: readonly number[] }>({
  name: 'gather',
  grad: (dy, n) => {
    const base = zeros(n.attrs.inShape, { dtype: dy.dtype, backend: dy.backend.name });
    return [scatterAdd(base, n.attrs.axis, n.attrs.index, dy)];
  },
});
const scatterAddOp = defineOp<{ axis: number; index: Tensor }>({
  name: 'scatterAdd',
  grad: (dy, n, needs) => [dy, needs[1] ? gather(dy, n.attrs.axis, n.attrs.index) : null],
});

function assertIndex(op: string, index: Tensor): void {
  if (index.dtype !== 'int32') throw new TypeError(`${op}: index must be int32, got ${index.dtype} ${fmt(index.shape)}`);
}

/**
 * Values along `dim` at `index` (PyTorch's `gather`): out[i][j] = x[index[i][j]][j] for dim 0.
 * `index` has x's number of dims and is no larger than x outside `dim`.
 */
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  assertIndex('gather', index);
  const d = normAxis('gather', dim, x.ndim);
  if (index.ndim !== x.ndim || index.shape.some((n, i) => i !== d && n > x.shape[i])) {
    throw new ShapeError(`gather: index ${fmt(index.shape)} does not fit input ${fmt(x.shape)} along dim ${dim}`);
  }
  return prim(gatherOp, [x], { axis: d, index, inShape: x.shape }, index.shape, x.dtype, (b, [v]) => b.gather(v, d, index.view_()));
}

/** `base` with `src` added at `index` along `dim` (PyTorch's `scatter_add`, out of place). */
export function scatterAdd(base: Tensor, dim: number, index: Tensor, src: Tensor): Tensor {
  assertIndex('scatterAdd', index);
  const d = normAxis('scatterAdd', dim, base.ndim);
  if (index.ndim !== base.ndim || index.shape.some((n, i) => i !== d && n > base.shape[i])) {
    throw new ShapeError(`scatterAdd: index ${fmt(index.shape)} does not fit ${fmt(base.shape)} along dim ${dim}`);
  }
  if (src.ndim !== index.ndim || src.shape.some((n, i) => n !== index.shape[i])) {
    throw new ShapeError(`scatterAdd: src ${fmt(src.shape)} must have index's shape ${fmt(index.shape)}`);
  }
  if (src.dtype !== base.dtype) throw new TypeError(`scatterAdd: src dtype ${src.dtype} differs from base ${base.dtype}`);
  return prim(scatterAddOp, [base, src], { axis: d, index }, base.shape, base.dtype, (b, [vb, vs]) =>
    b.scatterAdd(vb, d, index.view_(), vs),
  );
}

/** Rows (or slices along `dim`) picked by a 1-D int32 index. */
export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  assertIndex('indexSelect', index);
  if (index.ndim !== 1) throw new ShapeError(`indexSelect: index must be 1-D, got ${fmt(index.shape)}`);
  const d = normAxis('indexSelect', dim, x.ndim);
  const shape = x.shape.map((n, i) => (i === d ? index.shape[0] : n));
  const idxShape = x.shape.map((_, i) => (i === d ? index.shape[0] : 1));
  return gather(x, d, expand(reshape(index, idxShape), shape));
}

/**
 * One-hot encoding: int32 class indices [...] → [..., numClasses] (float32 by default,
 * the form losses take). Indices outside [0, numClasses) throw when the backend can check synchronously.
 */
export function oneHot(indices: Tensor, numClasses: number, dtype: DType = 'float32'): Tensor {
  assertIndex('oneHot', indices);
  if (!Number.isInteger(numClasses) || numClasses <= 0) throw new RangeError(`oneHot: numClasses must be a positive integer, got ${numClasses}`);
  if (indices.backend.readSync) {
    const v = indices.dataSync();
    for (let i = 0; i < v.length; i++) {
      if (v[i] < 0 || v[i] >= numClasses) throw new RangeError(`oneHot: class index ${v[i]} is outside [0, ${numClasses})`);
    }
  }
  const classes = arange(0, numClasses, 1, { dtype: 'int32', backend: indices.backend.name });
  return castTo(eq(unsqueeze(indices, -1), classes), dtype);
}

/** Elements where `mask` is true, as a 1-D tensor (async: the size depends on the data). */
export async function maskedSelect(x: Tensor, mask: Tensor): Promise<Tensor> {
  commonBackend('maskedSelect', [x, mask]);
  const m = expand(castTo(mask, 'bool'), x.shape);
  const bits = await flatten(m).data();
  const picks: number[] = [];
  for (let i = 0; i < bits.length; i++) if (bits[i]) picks.push(i);
  const b = x.backend;
  const idx = fromData(b, b.write(Int32Array.from(picks), 'int32'), [picks.length], 'int32');
  return indexSelect(flatten(x), 0, idx);
}

