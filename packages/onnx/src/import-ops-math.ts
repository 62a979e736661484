/** Imported operators of elementwise math, softmax, reductions, Where, Clip and Gemm. */
import {
  add, broadcastShapes, cast, div, isFloat, matmul, maximum, minimum, mul, permute, reshape, where, type Tensor,
} from '@ml/tensor';
import type { AttrKind, ElemType } from './import-model.js';
import {
  allSmall, type Attrs, fail, guard, guardBroadcast, hostMap, intResult, normAxis, type OpDef, sizeOfShape, SMALL, type Value,
} from './import-ops-core.js';

export function unary(f: (x: Tensor, a: Attrs) => Tensor, attrs: Record<string, AttrKind> = {}): OpDef {
  return { attrs, minInputs: 1, run: (ctx, [x], a) => [f(ctx.tensor(x as Value), a)] };
}

export function binary(f: (a: Tensor, b: Tensor) => Tensor, h?: (a: number, b: number) => number, compare = false): OpDef {
  return {
    attrs: {},
    minInputs: 2,
    host: h
      ? (ctx, [a, b]) => {
          if (!a || !b || !allSmall([a, b]) || a.dtype !== b.dtype || sizeOfShape(broadcastShapes(ctx.node.opType, a.shape, b.shape)) > SMALL) return null;
          const out: ElemType = compare ? 'bool' : a.dtype;
          return [hostMap([a, b], out, (x, y) => (compare ? (h(x, y) ? 1 : 0) : intResult(out, h(x, y))))];
        }
      : undefined,
    run: (ctx, [a, b]) => {
      guardBroadcast(ctx, [a, b]);
      return [f(ctx.tensor(a as Value), ctx.tensor(b as Value))];
    },
  };
}

export function intDiv(a: Tensor, b: Tensor): Tensor {
  const q = div(a, b);
  return isFloat(a.dtype) ? q : cast(q, a.dtype);
}

export function variadic(f: (a: Tensor, b: Tensor) => Tensor): OpDef {
  return {
    attrs: {},
    minInputs: 1,
    run: (ctx, inputs) => {
      guardBroadcast(ctx, inputs);
      const ts = inputs.filter((v): v is Value => v !== undefined).map((v) => ctx.tensor(v));
      return [ts.slice(1).reduce(f, ts[0])];
    },
  };
}

/** Softmax/LogSoftmax: before opset 13 over the input flattened to 2-D at `axis` (default 1). */
export function softmaxLike(f: (x: Tensor, dim: number) => Tensor): OpDef {
  return {
    attrs: { axis: 'int' },
    minInputs: 1,
    run: (ctx, [xv], a) => {
      const x = ctx.tensor(xv as Value);
      if (ctx.opset >= 13) return [f(x, normAxis(ctx, a.int('axis', -1), x.ndim))];
      const axis = normAxis(ctx, a.int('axis', 1), x.ndim);
      const rows = sizeOfShape(x.shape.slice(0, axis));
      return [reshape(f(reshape(x, [rows, sizeOfShape(x.shape.slice(axis))]), 1), x.shape)];
    },
  };
}

export function reduceOp(f: (x: Tensor, dims: number[], keep: boolean) => Tensor, axesInputFrom: number): OpDef {
  return {
    attrs: { axes: 'ints', keepdims: 'int', noop_with_empty_axes: 'int' },
    minInputs: 1,
    run: (ctx, [xv, av], a) => {
      const x = ctx.tensor(xv as Value);
      let axes = ctx.opset >= axesInputFrom ? (av !== undefined ? ctx.ints(av, 'axes') : null) : a.ints('axes');
      if (axes === null || axes.length === 0) {
        if (a.int('noop_with_empty_axes', 0) === 1) return [x];
        axes = x.shape.map((_, i) => i);
      }
      const dims = [...new Set(axes.map((d) => normAxis(ctx, d, x.ndim)))];
      return [f(x, dims, a.int('keepdims', 1) === 1)];
    },
  };
}

export const whereOp: OpDef = {
  attrs: {},
  minInputs: 3,
  host: (ctx, [c, x, y]) => (c && x && y && allSmall([c, x, y]) && x.dtype === y.dtype && sizeOfShape(broadcastShapes('Where', broadcastShapes('Where', c.shape, x.shape), y.shape)) <= SMALL ? [hostMap([c, x, y], x.dtype, (p, q, r) => (p ? q : r))] : null),
  run: (ctx, [c, x, y]) => {
    guardBroadcast(ctx, [c, x, y]);
    return [where(ctx.tensor(c as Value), ctx.tensor(x as Value), ctx.tensor(y as Value))];
  },
};

export const clipOp: OpDef = {
  attrs: { min: 'float', max: 'float' },
  minInputs: 1,
  run: (ctx, [xv, lo, hi], a) => {
    let x = ctx.tensor(xv as Value);
    const min0 = ctx.opset < 11 ? (a.has('min') ? a.float('min', 0) : undefined) : lo !== undefined ? ctx.scalar(lo, 'min') : undefined;
    const max0 = ctx.opset < 11 ? (a.has('max') ? a.float('max', 0) : undefined) : hi !== undefined ? ctx.scalar(hi, 'max') : undefined;
    if (min0 !== undefined) x = maximum(x, min0);
    if (max0 !== undefined) x = minimum(x, max0);
    return [x];
  },
};

export const gemm: OpDef = {
  attrs: { alpha: 'float', beta: 'float', transA: 'int', transB: 'int', broadcast: 'int' },
  minInputs: 2,
  run: (ctx, [av, bv, cv], a) => {
    let A = ctx.tensor(av as Value);
    let B = ctx.tensor(bv as Value);
    if (A.ndim !== 2 || B.ndim !== 2) fail(ctx, `A [${A.shape.join(', ')}] and B [${B.shape.join(', ')}] must be matrices`);
    if (a.int('transA', 0)) A = permute(A, [1, 0]);
    if (a.int('transB', 0)) B = permute(B, [1, 0]);
    guard(ctx, [A.shape[0], B.shape[1]]);
    // Y = α·A·B + β·C
    let y = matmul(A, B);
    const alpha = a.float('alpha', 1);
    if (alpha !== 1) y = mul(y, alpha);
    if (cv !== undefined) {
      const beta = a.float('beta', 1);
      const c = ctx.tensor(cv);
      y = add(y, beta === 1 ? c : mul(c, beta));
    }
    return [y];
  },
};
