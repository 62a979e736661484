/** Imported operators that make values, mostly small host values of shape arithmetic: Cast, Shape, Size, Constant, ConstantOfShape, Range. */
import { cast, full, isFloat, type Tensor } from '@ml/tensor';
import { OnnxError } from './import-errors.js';
import { allocHost, checkDims, elemTypeOf, formatLimit, type ElemType, type HostValue, type NodeIR } from './import-model.js';
import {
  type Attrs, fail, host, isHost, type OpContext, type OpDef, shapeOf, sizeOfShape, SMALL, tensorDType, type Value,
} from './import-ops-core.js';

function castHost(v: HostValue, to: ElemType): HostValue {
  const data = allocHost(to, v.data.length);
  for (let i = 0; i < data.length; i++) {
    const x = v.data[i];
    data[i] = to === 'bool' ? (x !== 0 ? 1 : 0) : to === 'int32' || to === 'int64' ? Math.trunc(x) : x;
  }
  return { kind: 'host', dtype: to, shape: v.shape, data };
}

export const castOp: OpDef = {
  attrs: { to: 'int', saturate: 'int' },
  minInputs: 1,
  host: (ctx, [x], a) => (x ? [castHost(x, elemTypeOf(a.int('to', 0), `node '${ctx.node.name}' (Cast) attribute 'to'`))] : null),
  run: (ctx, [x], a) => [cast(ctx.tensor(x as Value), tensorDType(elemTypeOf(a.int('to', 0), `node '${ctx.node.name}' (Cast) attribute 'to'`)))],
};

export const shapeOp: OpDef = {
  attrs: { start: 'int', end: 'int' },
  minInputs: 1,
  host: (ctx, [x], a) => (x ? shapeOp.run(ctx, [x], a) as HostValue[] : null),
  run: (_ctx, [x], a) => {
    const s = shapeOf(x as Value);
    const r = s.length;
    const clampAxis = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
    const dims = s.slice(clampAxis(a.int('start', 0)), a.has('end') ? clampAxis(a.int('end', r)) : r);
    return [host('int64', [dims.length], dims)];
  },
};

export const sizeOp: OpDef = {
  attrs: {},
  minInputs: 1,
  host: (_ctx, [x]) => (x ? [host('int64', [], [x.data.length])] : null),
  run: (_ctx, [x]) => [host('int64', [], [sizeOfShape(shapeOf(x as Value))])],
};

/** The value of a Constant node's attribute (exactly one of them). */
export function constantValue(node: NodeIR, a: Attrs): HostValue {
  const where = `node '${node.name}' (Constant)`;
  const given = [...node.attrs.keys()];
  if (given.length !== 1) throw new OnnxError(`${where}: needs exactly one value attribute, got ${given.length ? given.join(', ') : 'none'}`);
  const t = a.tensor('value');
  if (t) return t;
  if (a.has('value_float')) return host('float32', [], [a.float('value_float', 0)]);
  if (a.has('value_int')) return host('int64', [], [a.int('value_int', 0)]);
  const fs = a.floats('value_floats');
  if (fs) return host('float32', [fs.length], fs);
  const is = a.ints('value_ints');
  if (is) return host('int64', [is.length], is);
  throw new OnnxError(`${where}: attribute '${given[0]}' is not supported`);
}

export const constantOp: OpDef = {
  attrs: { value: 'tensor', value_float: 'float', value_floats: 'floats', value_int: 'int', value_ints: 'ints' },
  minInputs: 0,
  host: (ctx, _inputs, a) => [constantValue(ctx.node, a)],
  run: (ctx, _inputs, a) => [constantValue(ctx.node, a)],
};

export function fillShape(ctx: OpContext, v: Value): number[] {
  const dims = ctx.ints(v, 'shape');
  try {
    checkDims(dims, 'shape', ctx.maxElements);
  } catch (e) {
    fail(ctx, (e as Error).message);
  }
  return dims;
}

export const constantOfShapeOp: OpDef = {
  attrs: { value: 'tensor' },
  minInputs: 1,
  run: (ctx, [sv], a) => {
    const shape = fillShape(ctx, sv as Value);
    const v = a.tensor('value') ?? host('float32', [1], [0]);
    if (v.data.length !== 1) fail(ctx, `value must hold one element, got ${v.data.length}`);
    if (sizeOfShape(shape) <= SMALL) return [host(v.dtype, shape, new Array<number>(sizeOfShape(shape)).fill(v.data[0]))];
    return [full(shape, v.data[0], { dtype: tensorDType(v.dtype) })];
  },
};

export const rangeOp: OpDef = {
  attrs: {},
  minInputs: 3,
  run: (ctx, [s, l, d]) => {
    const start = ctx.scalar(s as Value, 'start');
    const limit = ctx.scalar(l as Value, 'limit');
    const delta = ctx.scalar(d as Value, 'delta');
    const n = Math.max(Math.ceil((limit - start) / delta), 0);
    if (!Number.isFinite(n) || n > ctx.maxElements) fail(ctx, `range(${start}, ${limit}, ${delta}) has more than ${formatLimit(ctx.maxElements)} elements`);
    const dtype: ElemType = isHost(s as Value) ? (s as HostValue).dtype : isFloat((s as Tensor).dtype) ? 'float32' : 'int64';
    const data = allocHost(dtype, n);
    for (let i = 0; i < n; i++) data[i] = start + i * delta;
    const out: HostValue = { kind: 'host', dtype, shape: [n], data };
    // small ranges stay on the host for shape arithmetic; large ones become tensors at once
    return [n <= SMALL ? out : ctx.tensor(out)];
  },
};
