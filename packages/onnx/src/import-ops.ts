/**
 * The ONNX operators the importer runs, one entry each: the attributes it reads (with their
 * types, checked when the file is imported) and its evaluation with `@ml/tensor` ops, so a
 * graph runs on every backend and autograd differentiates it.
 *
 * Small integer tensors computed from shapes (`Shape → Gather → Unsqueeze → Concat → Reshape`,
 * as PyTorch exports a flatten with a dynamic batch) stay on the host: an op whose inputs are
 * all host values runs on the host when it has a host rule, so no backend is asked for a
 * synchronous read.
 */
import {
  abs, add, broadcastShapes, cast, ceil, concat, conv2d, cos, div, elu, eq, erf, exp, expand, floor, fromArray, full, gelu, gt,
  ge, indexSelect, isFloat, leakyRelu, le, log, logicalAnd, logicalNot, logicalOr, logSoftmax, lt, matmul, max, maxPool2d, maximum,
  mean, min, minimum, mul, narrow, ne, neg, ones, pad, permute, pow, reciprocal, relu, reshape, sigmoid, sin, sliceView, softmax,
  softplus, sqrt, squeeze, sub, sum, tanh, unsqueeze, where, avgPool2d, type DType, type Tensor,
} from '@ml/tensor';
import { OnnxError } from './import-errors.js';
import { allocHost, checkDims, elemTypeOf, formatLimit, type Attr, type AttrKind, type ElemType, type HostValue, type NodeIR } from './import-model.js';
import { RECURRENT_OPS } from './import-recurrent.js';

export type Value = Tensor | HostValue;

export function isHost(v: Value): v is HostValue {
  return (v as HostValue).kind === 'host';
}

/** What an operator's evaluation gets besides its inputs. */
export interface OpContext {
  readonly node: NodeIR;
  readonly opset: number;
  /** the most elements a tensor computed while running may have */
  readonly maxElements: number;
  /** a host value as a tensor on the model's backend (int64 becomes int32, range-checked) */
  tensor(v: Value): Tensor;
  /** the values of a small integer input (host, or read from a backend that reads synchronously) */
  ints(v: Value, what: string): number[];
  /** the one value of a scalar input */
  scalar(v: Value, what: string): number;
}

/** Typed reads of a node's attributes (their types were checked at import). */
export class Attrs {
  constructor(private readonly map: ReadonlyMap<string, Attr>) {}
  has(name: string): boolean {
    return this.map.has(name);
  }
  int(name: string, def: number): number {
    const a = this.map.get(name);
    return a?.kind === 'int' ? a.value : def;
  }
  float(name: string, def: number): number {
    const a = this.map.get(name);
    return a?.kind === 'float' ? a.value : a?.kind === 'int' ? a.value : def;
  }
  string(name: string, def: string): string {
    const a = this.map.get(name);
    return a?.kind === 'string' ? a.value : def;
  }
  ints(name: string): number[] | null {
    const a = this.map.get(name);
    return a?.kind === 'ints' ? a.value : null;
  }
  floats(name: string): number[] | null {
    const a = this.map.get(name);
    return a?.kind === 'floats' ? a.value : null;
  }
  strings(name: string): string[] | null {
    const a = this.map.get(name);
    return a?.kind === 'strings' ? a.value : null;
  }
  tensor(name: string): HostValue | null {
    const a = this.map.get(name);
    return a?.kind === 'tensor' ? a.value : null;
  }
}

type Inputs = readonly (Value | undefined)[];
type Outputs = (Value | undefined)[];

export interface OpDef {
  /** the attributes read, by type; a file giving one of them another type is rejected at import */
  readonly attrs: Readonly<Record<string, AttrKind>>;
  /** how many inputs must be present (the leading ones) */
  readonly minInputs: number;
  /** evaluation with host values only, for ops of shape arithmetic; null: not possible for these inputs */
  readonly host?: (ctx: OpContext, inputs: readonly (HostValue | undefined)[], attrs: Attrs) => (HostValue | undefined)[] | null;
  readonly run: (ctx: OpContext, inputs: Inputs, attrs: Attrs) => Outputs;
}

// ------------------------------------------------------------------ helpers

export function fail(ctx: OpContext, message: string): never {
  throw new OnnxError(`node '${ctx.node.name}' (${ctx.node.opType}): ${message}`);
}

/** The tensor dtype an element type is computed in. */
export function tensorDType(e: ElemType): DType {
  return e === 'int64' ? 'int32' : e;
}

function shapeOf(v: Value): readonly number[] {
  return v.shape;
}

function sizeOfShape(s: readonly number[]): number {
  return s.reduce((a, b) => a * b, 1);
}

/** Refuse a result of more than `maxElements` elements before anything is allocated for it. */
export function guard(ctx: OpContext, shape: readonly number[], what = 'the result'): void {
  const n = sizeOfShape(shape);
  if (!(n <= ctx.maxElements)) fail(ctx, `${what} [${shape.join(', ')}] would have ${n} elements, more than the limit ${formatLimit(ctx.maxElements)}`);
}

/** The broadcast shape of some values, checked against the element limit. */
function guardBroadcast(ctx: OpContext, values: readonly (Value | undefined)[]): void {
  let shape: number[] = [];
  for (const v of values) if (v !== undefined) shape = broadcastShapes(ctx.node.opType, shape, shapeOf(v));
  guard(ctx, shape);
}

function host(dtype: ElemType, shape: readonly number[], values: ArrayLike<number>): HostValue {
  const data = allocHost(dtype, values.length);
  for (let i = 0; i < values.length; i++) data[i] = dtype === 'bool' ? (values[i] ? 1 : 0) : values[i];
  return { kind: 'host', dtype, shape: [...shape], data };
}

function normAxis(ctx: OpContext, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= Math.max(rank, 1)) fail(ctx, `axis ${axis} is out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Elementwise on the host with NumPy broadcasting. */
function hostMap(values: readonly HostValue[], outType: ElemType, f: (...xs: number[]) => number): HostValue {
  let shape: number[] = [];
  for (const v of values) shape = broadcastShapes('onnx', shape, v.shape);
  const n = sizeOfShape(shape);
  const out = allocHost(outType, n);
  const idx = values.map((v) => {
    const st = strides(v.shape);
    const lead = shape.length - v.shape.length;
    return shape.map((_, d) => (d < lead || v.shape[d - lead] === 1 ? 0 : st[d - lead]));
  });
  const os = strides(shape);
  const args = new Array<number>(values.length);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < values.length; k++) {
      let off = 0;
      let rem = i;
      for (let d = 0; d < shape.length; d++) {
        const q = Math.floor(rem / os[d]);
        rem -= q * os[d];
        off += q * idx[k][d];
      }
      args[k] = values[k].data[off];
    }
    out[i] = f(...args);
  }
  return { kind: 'host', dtype: outType, shape, data: out };
}

const SMALL = 4096;
function allSmall(inputs: readonly (HostValue | undefined)[]): boolean {
  return inputs.every((v) => v === undefined || v.data.length <= SMALL);
}

function intResult(dtype: ElemType, v: number): number {
  return dtype === 'int32' || dtype === 'int64' ? Math.trunc(v) : v;
}

// ------------------------------------------------------------------ op families

function unary(f: (x: Tensor, a: Attrs) => Tensor, attrs: Record<string, AttrKind> = {}): OpDef {
  return { attrs, minInputs: 1, run: (ctx, [x], a) => [f(ctx.tensor(x as Value), a)] };
}

function binary(f: (a: Tensor, b: Tensor) => Tensor, h?: (a: number, b: number) => number, compare = false): OpDef {
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

function intDiv(a: Tensor, b: Tensor): Tensor {
  const q = div(a, b);
  return isFloat(a.dtype) ? q : cast(q, a.dtype);
}

function variadic(f: (a: Tensor, b: Tensor) => Tensor): OpDef {
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
function softmaxLike(f: (x: Tensor, dim: number) => Tensor): OpDef {
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

// ------------------------------------------------------------------ convolution and pooling

interface Window {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** begin and end padding per spatial dim */
  begin: number[];
  end: number[];
}

/** kernel_shape/strides/dilations/pads/auto_pad of Conv and the pools, per spatial dim. */
function windowOf(ctx: OpContext, a: Attrs, spatial: readonly number[], kernel: readonly number[]): Window {
  const k = spatial.length;
  const check = (name: string, v: number[] | null, def: number, min: number): number[] => {
    const out = v ?? new Array<number>(k).fill(def);
    if (out.length !== k || out.some((x) => !Number.isInteger(x) || x < min)) fail(ctx, `${name} [${out.join(', ')}] must be ${k} integers >= ${min}`);
    return out;
  };
  const ks = check('kernel_shape', a.ints('kernel_shape') ?? [...kernel], 1, 1);
  const st = check('strides', a.ints('strides'), 1, 1);
  const dl = check('dilations', a.ints('dilations'), 1, 1);
  const pads = a.ints('pads') ?? new Array<number>(2 * k).fill(0);
  if (pads.length !== 2 * k || pads.some((x) => !Number.isInteger(x) || x < 0)) fail(ctx, `pads [${pads.join(', ')}] must be ${2 * k} non-negative integers`);
  let begin = pads.slice(0, k);
  let end = pads.slice(k);
  const auto = a.string('auto_pad', 'NOTSET');
  if (auto === 'VALID') {
    begin = begin.map(() => 0);
    end = end.map(() => 0);
  } else if (auto === 'SAME_UPPER' || auto === 'SAME_LOWER') {
    begin = [];
    end = [];
    spatial.forEach((n, i) => {
      const out = Math.ceil(n / st[i]);
      const total = Math.max(0, (out - 1) * st[i] + (ks[i] - 1) * dl[i] + 1 - n);
      const small = Math.floor(total / 2);
      begin.push(auto === 'SAME_UPPER' ? small : total - small);
      end.push(auto === 'SAME_UPPER' ? total - small : small);
    });
  } else if (auto !== 'NOTSET') fail(ctx, `auto_pad '${auto}' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID`);
  return { kernel: ks, strides: st, dilations: dl, begin, end };
}

/** 1-D work becomes 2-D with a leading spatial dim of 1; 3-D and beyond are refused. */
function as2d(ctx: OpContext, x: Tensor): Tensor {
  if (x.ndim === 3) return unsqueeze(x, 2);
  if (x.ndim === 4) return x;
  return fail(ctx, `input of shape [${x.shape.join(', ')}] is not [N, C, L] or [N, C, H, W] (only 1-D and 2-D are supported)`);
}

function window2d(w: Window, oneD: boolean): Window {
  if (!oneD) return w;
  return { kernel: [1, ...w.kernel], strides: [1, ...w.strides], dilations: [1, ...w.dilations], begin: [0, ...w.begin], end: [0, ...w.end] };
}

/** Pad [N, C, H, W] by begin/end per spatial dim (F.pad order: last dim first). */
function padSpatial(x: Tensor, begin: readonly number[], end: readonly number[], value: number): Tensor {
  if (begin.every((b) => b === 0) && end.every((e) => e === 0)) return x;
  return pad(x, [begin[1], end[1], begin[0], end[0]], value);
}

const conv: OpDef = {
  attrs: { kernel_shape: 'ints', strides: 'ints', dilations: 'ints', pads: 'ints', auto_pad: 'string', group: 'int' },
  minInputs: 2,
  run: (ctx, [xv, wv, bv], a) => {
    const x0 = ctx.tensor(xv as Value);
    const w0 = ctx.tensor(wv as Value);
    const oneD = x0.ndim === 3;
    const x = as2d(ctx, x0);
    const w = oneD ? unsqueeze(w0, 2) : w0;
    if (w.ndim !== 4) fail(ctx, `weight of shape [${w0.shape.join(', ')}] does not match input [${x0.shape.join(', ')}]`);
    const win = window2d(windowOf(ctx, a, x0.shape.slice(2), w0.shape.slice(2)), oneD);
    if (win.kernel[0] !== w.shape[2] || win.kernel[1] !== w.shape[3]) fail(ctx, `kernel_shape does not match weight [${w0.shape.join(', ')}]`);
    guardWindow(ctx, x.shape, win, [0, 0], w.shape[0]);
    const symmetric = win.begin.every((b, i) => b === win.end[i]);
    const input = symmetric ? x : padSpatial(x, win.begin, win.end, 0);
    const padding: [number, number] = symmetric ? [win.begin[0], win.begin[1]] : [0, 0];
    const bias = bv === undefined ? null : ctx.tensor(bv);
    const y = conv2d(input, w, bias, { stride: [win.strides[0], win.strides[1]], dilation: [win.dilations[0], win.dilations[1]], padding, groups: a.int('group', 1) });
    return [oneD ? squeeze(y, 2) : y];
  },
};

/** The padded input, the patches (im2col) and the output of a window op must stay under the element limit. */
function guardWindow(ctx: OpContext, shape: readonly number[], win: Window, extra: readonly number[], outChannels: number): void {
  const [N, C, H, W] = shape;
  const padded = [H + win.begin[0] + win.end[0] + extra[0], W + win.begin[1] + win.end[1] + extra[1]];
  guard(ctx, [N, C, ...padded], 'the padded input');
  const out = [0, 1].map((i) => Math.max(0, Math.floor((padded[i] - (win.kernel[i] - 1) * win.dilations[i] - 1) / win.strides[i]) + 1));
  guard(ctx, [N, C, win.kernel[0], win.kernel[1], ...out], 'the patches');
  guard(ctx, [N, outChannels, ...out]);
}

/** Output size of a pooling window along one dim, with ONNX's ceil_mode rule. */
function poolGeometry(win: Window, spatial: readonly number[], ceilMode: boolean): { extra: number[] } {
  const extra = spatial.map((n, i) => {
    const eff = (win.kernel[i] - 1) * win.dilations[i] + 1;
    const span = n + win.begin[i] + win.end[i] - eff;
    if (span < 0) return 0;
    let out = (ceilMode ? Math.ceil(span / win.strides[i]) : Math.floor(span / win.strides[i])) + 1;
    // the last window must start inside the input or its left padding
    if (ceilMode && (out - 1) * win.strides[i] >= n + win.begin[i]) out--;
    return Math.max(0, (out - 1) * win.strides[i] + eff - (n + win.begin[i] + win.end[i]));
  });
  return { extra };
}

function poolSetup(ctx: OpContext, xv: Value | undefined, a: Attrs): { x: Tensor; win: Window; extra: number[]; oneD: boolean } {
  const x0 = ctx.tensor(xv as Value);
  if (!a.ints('kernel_shape')) fail(ctx, 'attribute kernel_shape is required');
  const oneD = x0.ndim === 3;
  const x = as2d(ctx, x0);
  const win = window2d(windowOf(ctx, a, x0.shape.slice(2), []), oneD);
  const { extra } = poolGeometry(win, x.shape.slice(2), a.int('ceil_mode', 0) === 1);
  guardWindow(ctx, x.shape, win, extra, x.shape[1]);
  for (let i = 0; i < 2; i++) {
    const eff = (win.kernel[i] - 1) * win.dilations[i] + 1;
    if (x.shape[2 + i] + win.begin[i] + win.end[i] < eff) fail(ctx, `kernel ${win.kernel.join('x')} is larger than the padded input [${x0.shape.join(', ')}]`);
  }
  return { x, win, extra, oneD };
}

const POOL_ATTRS = { kernel_shape: 'ints', strides: 'ints', dilations: 'ints', pads: 'ints', auto_pad: 'string', ceil_mode: 'int' } as const;

const maxPool: OpDef = {
  attrs: { ...POOL_ATTRS, storage_order: 'int' },
  minInputs: 1,
  run: (ctx, [xv], a) => {
    if ((ctx.node.outputs[1] ?? '') !== '') fail(ctx, 'the Indices output is not supported');
    const { x, win, extra, oneD } = poolSetup(ctx, xv, a);
    const low = isFloat(x.dtype) ? -Infinity : -2147483648;
    const padded = padSpatial(x, win.begin, win.end.map((e, i) => e + extra[i]), low);
    const y = maxPool2d(padded, { kernelSize: [win.kernel[0], win.kernel[1]], stride: [win.strides[0], win.strides[1]], dilation: [win.dilations[0], win.dilations[1]] });
    return [oneD ? squeeze(y, 2) : y];
  },
};

const averagePool: OpDef = {
  attrs: { ...POOL_ATTRS, count_include_pad: 'int' },
  minInputs: 1,
  run: (ctx, [xv], a) => {
    const { x, win, extra, oneD } = poolSetup(ctx, xv, a);
    if (win.dilations.some((d) => d !== 1)) fail(ctx, `dilations [${win.dilations.join(', ')}] are not supported for AveragePool`);
    const kernelSize: [number, number] = [win.kernel[0], win.kernel[1]];
    const stride: [number, number] = [win.strides[0], win.strides[1]];
    const padded = padSpatial(x, win.begin, win.end.map((e, i) => e + extra[i]), 0);
    let y = avgPool2d(padded, { kernelSize, stride });
    if (win.begin.some((b) => b > 0) || win.end.some((e, i) => e + extra[i] > 0)) {
      // divide by the number of counted elements per window: the input, plus the declared pads when count_include_pad
      const [H, W] = x.shape.slice(2);
      const include = a.int('count_include_pad', 0) === 1;
      const counted = include
        ? padSpatial(padSpatial(ones([1, 1, H, W], { dtype: x.dtype, backend: x.backend.name }), win.begin, win.end, 1), [0, 0], extra, 0)
        : padSpatial(ones([1, 1, H, W], { dtype: x.dtype, backend: x.backend.name }), win.begin, win.end.map((e, i) => e + extra[i]), 0);
      y = div(y, avgPool2d(counted, { kernelSize, stride }));
    }
    return [oneD ? squeeze(y, 2) : y];
  },
};

function globalPool(f: (x: Tensor, dims: number[]) => Tensor): OpDef {
  return {
    attrs: {},
    minInputs: 1,
    run: (ctx, [xv]) => {
      const x = ctx.tensor(xv as Value);
      if (x.ndim < 3) fail(ctx, `input [${x.shape.join(', ')}] has no spatial dims`);
      return [f(x, x.shape.slice(2).map((_, i) => i + 2))];
    },
  };
}

// ------------------------------------------------------------------ normalization

function channelShape(x: Tensor): number[] {
  return x.shape.map((d, i) => (i === 1 ? d : 1));
}

const batchNorm: OpDef = {
  attrs: { epsilon: 'float', momentum: 'float', training_mode: 'int', spatial: 'int' },
  minInputs: 5,
  run: (ctx, [xv, sv, bv, mv, vv], a) => {
    if (a.int('training_mode', 0) === 1) fail(ctx, 'training_mode=1 is not supported (import runs BatchNormalization in inference mode)');
    const x = ctx.tensor(xv as Value);
    if (x.ndim < 2) fail(ctx, `input [${x.shape.join(', ')}] has no channel dim`);
    const shape = channelShape(x);
    const r = (v: Value | undefined) => reshape(ctx.tensor(v as Value), shape);
    // y = (x − μ)·γ/√(σ² + ε) + β
    const scale = div(r(sv), sqrt(add(r(vv), a.float('epsilon', 1e-5))));
    return [add(mul(sub(x, r(mv)), scale), r(bv))];
  },
};

const layerNorm: OpDef = {
  attrs: { axis: 'int', epsilon: 'float', stash_type: 'int' },
  minInputs: 2,
  run: (ctx, [xv, sv, bv], a) => {
    const x = ctx.tensor(xv as Value);
    const axis = normAxis(ctx, a.int('axis', -1), x.ndim);
    const axes = x.shape.map((_, i) => i).filter((i) => i >= axis);
    const mu = mean(x, axes, true);
    const d = sub(x, mu);
    const inv = reciprocal(sqrt(add(mean(mul(d, d), axes, true), a.float('epsilon', 1e-5))));
    let y = mul(mul(d, inv), ctx.tensor(sv as Value));
    if (bv !== undefined) y = add(y, ctx.tensor(bv));
    return [y, mu, inv];
  },
};

// ------------------------------------------------------------------ shapes and indexing

function targetShape(ctx: OpContext, inShape: readonly number[], spec: readonly number[], allowZero: boolean): number[] {
  const out = spec.map((d, i) => (d === 0 && !allowZero ? (i < inShape.length ? inShape[i] : fail(ctx, `shape [${spec.join(', ')}] copies dim ${i} that input [${inShape.join(', ')}] lacks`)) : d));
  const free = out.filter((d) => d === -1).length;
  if (free > 1 || out.some((d) => !Number.isInteger(d) || d < -1)) fail(ctx, `shape [${spec.join(', ')}] is not a valid target shape`);
  const known = out.filter((d) => d !== -1).reduce((p, d) => p * d, 1);
  const n = sizeOfShape(inShape);
  if (free === 1) {
    if (known === 0 || n % known !== 0) fail(ctx, `cannot reshape [${inShape.join(', ')}] to [${spec.join(', ')}]`);
    return out.map((d) => (d === -1 ? n / known : d));
  }
  if (known !== n) fail(ctx, `cannot reshape [${inShape.join(', ')}] (${n} elements) to [${out.join(', ')}]`);
  return out;
}

const reshapeOp: OpDef = {
  attrs: { allowzero: 'int', shape: 'ints' },
  minInputs: 1,
  host: (ctx, [x, s], a) => (x && s ? [{ ...x, shape: targetShape(ctx, x.shape, ctx.ints(s, 'shape'), a.int('allowzero', 0) === 1) }] : null),
  run: (ctx, [xv, sv], a) => {
    const x = ctx.tensor(xv as Value);
    const spec = sv !== undefined ? ctx.ints(sv, 'shape') : a.ints('shape') ?? fail(ctx, 'no shape given');
    return [reshape(x, targetShape(ctx, x.shape, spec, a.int('allowzero', 0) === 1))];
  },
};

const flattenOp: OpDef = {
  attrs: { axis: 'int' },
  minInputs: 1,
  run: (ctx, [xv], a) => {
    const x = ctx.tensor(xv as Value);
    const r = x.ndim;
    let axis = a.int('axis', 1);
    if (!Number.isInteger(axis) || axis < -r || axis > r) fail(ctx, `axis ${axis} is out of range for rank ${r}`);
    if (axis < 0) axis += r;
    return [reshape(x, [sizeOfShape(x.shape.slice(0, axis)), sizeOfShape(x.shape.slice(axis))])];
  },
};

const transposeOp: OpDef = {
  attrs: { perm: 'ints' },
  minInputs: 1,
  run: (ctx, [xv], a) => {
    const x = ctx.tensor(xv as Value);
    const perm = a.ints('perm') ?? x.shape.map((_, i) => x.ndim - 1 - i);
    if (perm.length !== x.ndim || new Set(perm).size !== perm.length || perm.some((p) => !Number.isInteger(p) || p < 0 || p >= x.ndim)) {
      fail(ctx, `perm [${perm.join(', ')}] is not a permutation of the ${x.ndim} dims of [${x.shape.join(', ')}]`);
    }
    return [permute(x, perm)];
  },
};

function hostConcat(ctx: OpContext, xs: readonly HostValue[], axis: number): HostValue {
  const r = xs[0].shape.length;
  const ax = normAxis(ctx, axis, r);
  for (const x of xs) {
    if (x.dtype !== xs[0].dtype || x.shape.length !== r || x.shape.some((d, i) => i !== ax && d !== xs[0].shape[i])) {
      fail(ctx, `inputs [${xs[0].shape.join(', ')}] and [${x.shape.join(', ')}] cannot be joined on axis ${axis}`);
    }
  }
  const shape = [...xs[0].shape];
  shape[ax] = xs.reduce((s, x) => s + x.shape[ax], 0);
  const outer = sizeOfShape(shape.slice(0, ax));
  const out: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const x of xs) {
      const block = sizeOfShape(x.shape.slice(ax));
      for (let j = 0; j < block; j++) out.push(x.data[o * block + j]);
    }
  }
  return host(xs[0].dtype, shape, out);
}

const concatOp: OpDef = {
  attrs: { axis: 'int' },
  minInputs: 1,
  host: (ctx, inputs, a) => {
    if (!a.has('axis')) fail(ctx, 'attribute axis is required');
    const xs = inputs.filter((v): v is HostValue => v !== undefined);
    return allSmall(xs) ? [hostConcat(ctx, xs, a.int('axis', 0))] : null;
  },
  run: (ctx, inputs, a) => {
    if (!a.has('axis')) fail(ctx, 'attribute axis is required');
    const present = inputs.filter((v): v is Value => v !== undefined);
    guard(ctx, [present.reduce((n, v) => n + sizeOfShape(shapeOf(v)), 0)]);
    const xs = present.map((v) => ctx.tensor(v));
    const nonEmpty = xs.filter((t) => t.size > 0 || xs.length === 1);
    return [concat(nonEmpty.length ? nonEmpty : xs, normAxis(ctx, a.int('axis', 0), xs[0].ndim))];
  },
};

/** Gather's indices as non-negative ints, checked against the axis length. */
function gatherIndices(ctx: OpContext, v: HostValue, n: number): number[] {
  return Array.from(v.data, (i) => {
    const j = i < 0 ? i + n : i;
    if (!Number.isInteger(j) || j < 0 || j >= n) fail(ctx, `index ${i} is out of range for an axis of size ${n}`);
    return j;
  });
}

const gatherOp: OpDef = {
  attrs: { axis: 'int' },
  minInputs: 2,
  host: (ctx, [x, idx], a) => {
    if (!x || !idx || !allSmall([x, idx])) return null;
    const axis = normAxis(ctx, a.int('axis', 0), x.shape.length);
    const n = x.shape[axis];
    if (sizeOfShape([...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)]) > SMALL) return null;
    const ids = gatherIndices(ctx, idx, n);
    const outer = sizeOfShape(x.shape.slice(0, axis));
    const inner = sizeOfShape(x.shape.slice(axis + 1));
    const out: number[] = [];
    for (let o = 0; o < outer; o++) for (const i of ids) for (let j = 0; j < inner; j++) out.push(x.data[(o * n + i) * inner + j]);
    return [host(x.dtype, [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)], out)];
  },
  run: (ctx, [xv, iv], a) => {
    const x = ctx.tensor(xv as Value);
    const axis = normAxis(ctx, a.int('axis', 0), x.ndim);
    const n = x.shape[axis];
    const iShape = shapeOf(iv as Value);
    guard(ctx, [...x.shape.slice(0, axis), ...iShape, ...x.shape.slice(axis + 1)]);
    let flat: Tensor;
    if (isHost(iv as Value)) {
      flat = fromArray(Int32Array.from(gatherIndices(ctx, iv as HostValue, n)), [sizeOfShape(iShape)], { dtype: 'int32', backend: x.backend.name });
    } else {
      const i = cast(reshape(iv as Tensor, [sizeOfShape(iShape)]), 'int32');
      flat = where(lt(i, 0), add(i, n), i);
    }
    const y = indexSelect(x, axis, flat);
    return [reshape(y, [...x.shape.slice(0, axis), ...iShape, ...x.shape.slice(axis + 1)])];
  },
};

function axesOf(ctx: OpContext, inputs: Inputs | readonly (HostValue | undefined)[], a: Attrs): number[] | null {
  if (ctx.opset >= 13) return inputs[1] !== undefined ? ctx.ints(inputs[1], 'axes') : null;
  return a.ints('axes');
}

function squeezedShape(ctx: OpContext, shape: readonly number[], axes: number[] | null): number[] {
  if (axes === null) return shape.filter((d) => d !== 1);
  const ax = axes.map((x) => normAxis(ctx, x, shape.length));
  for (const x of ax) if (shape[x] !== 1) fail(ctx, `cannot squeeze dim ${x} of size ${shape[x]} in [${shape.join(', ')}]`);
  return shape.filter((_, i) => !ax.includes(i));
}

function unsqueezedShape(ctx: OpContext, shape: readonly number[], axes: number[] | null): number[] {
  if (axes === null) return fail(ctx, 'axes are required');
  const r = shape.length + axes.length;
  const ax = axes.map((x) => normAxis(ctx, x, r)).sort((p, q) => p - q);
  if (new Set(ax).size !== ax.length) fail(ctx, `axes [${axes.join(', ')}] repeat a dim`);
  const out = [...shape];
  for (const x of ax) out.splice(x, 0, 1);
  return out;
}

const squeezeOp: OpDef = {
  attrs: { axes: 'ints' },
  minInputs: 1,
  host: (ctx, inputs, a) => (inputs[0] ? [{ ...inputs[0], shape: squeezedShape(ctx, inputs[0].shape, axesOf(ctx, inputs, a)) }] : null),
  run: (ctx, inputs, a) => {
    const x = ctx.tensor(inputs[0] as Value);
    return [reshape(x, squeezedShape(ctx, x.shape, axesOf(ctx, inputs, a)))];
  },
};

const unsqueezeOp: OpDef = {
  attrs: { axes: 'ints' },
  minInputs: 1,
  host: (ctx, inputs, a) => (inputs[0] ? [{ ...inputs[0], shape: unsqueezedShape(ctx, inputs[0].shape, axesOf(ctx, inputs, a)) }] : null),
  run: (ctx, inputs, a) => {
    const x = ctx.tensor(inputs[0] as Value);
    return [reshape(x, unsqueezedShape(ctx, x.shape, axesOf(ctx, inputs, a)))];
  },
};

interface SliceSpec {
  axis: number;
  start: number;
  step: number;
  size: number;
}

function sliceSpecs(ctx: OpContext, inputs: Inputs | readonly (HostValue | undefined)[], a: Attrs, shape: readonly number[]): SliceSpec[] {
  let starts: number[];
  let ends: number[];
  let axes: number[] | null;
  let steps: number[] | null = null;
  if (ctx.opset < 10) {
    starts = a.ints('starts') ?? fail(ctx, 'attribute starts is required');
    ends = a.ints('ends') ?? fail(ctx, 'attribute ends is required');
    axes = a.ints('axes');
  } else {
    if (inputs[1] === undefined || inputs[2] === undefined) fail(ctx, 'inputs starts and ends are required');
    starts = ctx.ints(inputs[1], 'starts');
    ends = ctx.ints(inputs[2], 'ends');
    axes = inputs[3] !== undefined ? ctx.ints(inputs[3], 'axes') : null;
    steps = inputs[4] !== undefined ? ctx.ints(inputs[4], 'steps') : null;
  }
  const ax = axes ?? starts.map((_, i) => i);
  if (ends.length !== starts.length || ax.length !== starts.length || (steps && steps.length !== starts.length)) {
    fail(ctx, `starts, ends, axes and steps have different lengths (${starts.length}, ${ends.length}, ${ax.length}, ${steps?.length ?? starts.length})`);
  }
  return starts.map((s0, i) => {
    const axis = normAxis(ctx, ax[i], shape.length);
    const n = shape[axis];
    const step = steps ? steps[i] : 1;
    if (step === 0 || !Number.isFinite(step)) fail(ctx, 'a slice step is 0');
    let s = s0 < 0 ? s0 + n : s0;
    let e = ends[i] < 0 ? ends[i] + n : ends[i];
    if (step > 0) {
      s = Math.min(Math.max(s, 0), n);
      e = Math.min(Math.max(e, 0), n);
    } else {
      s = Math.min(Math.max(s, 0), n - 1);
      e = Math.min(Math.max(e, -1), n - 1);
    }
    return { axis, start: s, step, size: Math.max(0, Math.ceil((e - s) / step)) };
  });
}

const sliceOp: OpDef = {
  attrs: { starts: 'ints', ends: 'ints', axes: 'ints' },
  minInputs: 1,
  host: (ctx, inputs, a) => {
    const x = inputs[0];
    if (!x || !allSmall(inputs)) return null;
    const specs = sliceSpecs(ctx, inputs, a, x.shape);
    const shape = [...x.shape];
    const start = x.shape.map(() => 0);
    const step = x.shape.map(() => 1);
    for (const s of specs) {
      shape[s.axis] = s.size;
      start[s.axis] = s.start;
      step[s.axis] = s.step;
    }
    const n = sizeOfShape(shape);
    const st = strides(x.shape);
    const os = strides(shape);
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      let rem = i;
      let off = 0;
      for (let d = 0; d < shape.length; d++) {
        const q = Math.floor(rem / os[d]);
        rem -= q * os[d];
        off += (start[d] + q * step[d]) * st[d];
      }
      out[i] = x.data[off];
    }
    return [host(x.dtype, shape, out)];
  },
  run: (ctx, inputs, a) => {
    let x = ctx.tensor(inputs[0] as Value);
    const specs = sliceSpecs(ctx, inputs, a, x.shape);
    const begins = x.shape.map(() => 0);
    const sizes = [...x.shape];
    const steps = x.shape.map(() => 1);
    const reversed: SliceSpec[] = [];
    for (const s of specs) {
      if (s.step > 0) {
        begins[s.axis] = s.start;
        sizes[s.axis] = s.size;
        steps[s.axis] = s.step;
      } else reversed.push(s);
    }
    x = sliceView(x, begins, sizes, steps);
    for (const s of reversed) {
      const idx = Int32Array.from({ length: s.size }, (_, k) => s.start + k * s.step);
      x = indexSelect(x, s.axis, fromArray(idx, [s.size], { dtype: 'int32', backend: x.backend.name }));
    }
    return [x];
  },
};

function castHost(v: HostValue, to: ElemType): HostValue {
  const data = allocHost(to, v.data.length);
  for (let i = 0; i < data.length; i++) {
    const x = v.data[i];
    data[i] = to === 'bool' ? (x !== 0 ? 1 : 0) : to === 'int32' || to === 'int64' ? Math.trunc(x) : x;
  }
  return { kind: 'host', dtype: to, shape: v.shape, data };
}

const castOp: OpDef = {
  attrs: { to: 'int', saturate: 'int' },
  minInputs: 1,
  host: (ctx, [x], a) => (x ? [castHost(x, elemTypeOf(a.int('to', 0), `node '${ctx.node.name}' (Cast) attribute 'to'`))] : null),
  run: (ctx, [x], a) => [cast(ctx.tensor(x as Value), tensorDType(elemTypeOf(a.int('to', 0), `node '${ctx.node.name}' (Cast) attribute 'to'`)))],
};

const shapeOp: OpDef = {
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

const sizeOp: OpDef = {
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

const constantOp: OpDef = {
  attrs: { value: 'tensor', value_float: 'float', value_floats: 'floats', value_int: 'int', value_ints: 'ints' },
  minInputs: 0,
  host: (ctx, _inputs, a) => [constantValue(ctx.node, a)],
  run: (ctx, _inputs, a) => [constantValue(ctx.node, a)],
};

function fillShape(ctx: OpContext, v: Value): number[] {
  const dims = ctx.ints(v, 'shape');
  try {
    checkDims(dims, 'shape', ctx.maxElements);
  } catch (e) {
    fail(ctx, (e as Error).message);
  }
  return dims;
}

const constantOfShapeOp: OpDef = {
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

const expandOp: OpDef = {
  attrs: {},
  minInputs: 2,
  run: (ctx, [xv, sv]) => {
    const x = ctx.tensor(xv as Value);
    const spec = fillShape(ctx, sv as Value);
    const shape = broadcastShapes('Expand', x.shape, spec);
    guard(ctx, shape);
    return [expand(x, shape)];
  },
};

const rangeOp: OpDef = {
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

const splitOp: OpDef = {
  attrs: { axis: 'int', split: 'ints', num_outputs: 'int' },
  minInputs: 1,
  run: (ctx, [xv, sv], a) => {
    const x = ctx.tensor(xv as Value);
    const axis = normAxis(ctx, a.int('axis', 0), x.ndim);
    const n = x.shape[axis];
    const k = ctx.node.outputs.length;
    let sizes = sv !== undefined ? ctx.ints(sv, 'split') : a.ints('split');
    if (!sizes) {
      const each = Math.ceil(n / k);
      sizes = Array.from({ length: k }, (_, i) => Math.max(0, Math.min(each, n - i * each)));
    }
    if (sizes.length !== k || sizes.some((s) => s < 0) || sizes.reduce((p, q) => p + q, 0) !== n) fail(ctx, `split [${sizes.join(', ')}] does not divide dim ${n} into ${k} outputs`);
    let at = 0;
    return sizes.map((s) => {
      const part = narrow(x, axis, at, s);
      at += s;
      return part;
    });
  },
};

function reduceOp(f: (x: Tensor, dims: number[], keep: boolean) => Tensor, axesInputFrom: number): OpDef {
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

const whereOp: OpDef = {
  attrs: {},
  minInputs: 3,
  host: (ctx, [c, x, y]) => (c && x && y && allSmall([c, x, y]) && x.dtype === y.dtype && sizeOfShape(broadcastShapes('Where', broadcastShapes('Where', c.shape, x.shape), y.shape)) <= SMALL ? [hostMap([c, x, y], x.dtype, (p, q, r) => (p ? q : r))] : null),
  run: (ctx, [c, x, y]) => {
    guardBroadcast(ctx, [c, x, y]);
    return [where(ctx.tensor(c as Value), ctx.tensor(x as Value), ctx.tensor(y as Value))];
  },
};

const clipOp: OpDef = {
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

const padOp: OpDef = {
  attrs: { mode: 'string', pads: 'ints', value: 'float' },
  minInputs: 1,
  run: (ctx, [xv, pv, cv, av], a) => {
    const x = ctx.tensor(xv as Value);
    const mode = a.string('mode', 'constant');
    if (mode !== 'constant') fail(ctx, `mode '${mode}' is not supported (constant is)`);
    const pads = ctx.opset >= 11 ? (pv !== undefined ? ctx.ints(pv, 'pads') : fail(ctx, 'input pads is required')) : a.ints('pads') ?? fail(ctx, 'attribute pads is required');
    const value = ctx.opset >= 11 ? (cv !== undefined ? ctx.scalar(cv, 'constant_value') : 0) : a.float('value', 0);
    const axes = av !== undefined ? ctx.ints(av, 'axes').map((d) => normAxis(ctx, d, x.ndim)) : x.shape.map((_, i) => i);
    if (pads.length !== 2 * axes.length) fail(ctx, `pads [${pads.join(', ')}] must hold ${2 * axes.length} values`);
    // ONNX: [begin of each axis…, end of each axis…]; F.pad order: last dim first, [begin, end] each
    const begin = x.shape.map(() => 0);
    const end = x.shape.map(() => 0);
    axes.forEach((d, i) => {
      begin[d] = pads[i];
      end[d] = pads[i + axes.length];
    });
    guard(ctx, x.shape.map((n, d) => n + begin[d] + end[d]));
    const torchOrder: number[] = [];
    for (let d = x.ndim - 1; d >= 0; d--) torchOrder.push(begin[d], end[d]);
    return [pad(x, torchOrder, value)];
  },
};

const dropoutOp: OpDef = {
  attrs: { ratio: 'float', seed: 'int', is_test: 'int' },
  minInputs: 1,
  run: (ctx, [xv]) => {
    const x = ctx.tensor(xv as Value);
    // inference: the identity, and a mask of all true
    return [x, ones(x.shape, { dtype: 'bool', backend: x.backend.name })];
  },
};

const gemm: OpDef = {
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

const tileOp: OpDef = {
  attrs: {},
  minInputs: 2,
  run: (ctx, [xv, rv]) => {
    const x = ctx.tensor(xv as Value);
    const reps = ctx.ints(rv as Value, 'repeats');
    if (reps.length !== x.ndim || reps.some((r) => !Number.isInteger(r) || r < 0)) fail(ctx, `repeats [${reps.join(', ')}] must be ${x.ndim} non-negative integers`);
    const out = x.shape.map((d, i) => d * reps[i]);
    guard(ctx, out);
    // [d0, d1, …] → [1, d0, 1, d1, …] → expand to [r0, d0, r1, d1, …] → [r0·d0, r1·d1, …]
    const inter = x.shape.flatMap((d) => [1, d]);
    const wide = x.shape.flatMap((d, i) => [reps[i], d]);
    return [reshape(expand(reshape(x, inter), wide), out)];
  },
};

const triluOp: OpDef = {
  attrs: { upper: 'int' },
  minInputs: 1,
  run: (ctx, [xv, kv], a) => {
    const x = ctx.tensor(xv as Value);
    if (x.ndim < 2) fail(ctx, `input [${x.shape.join(', ')}] must have at least 2 dims`);
    const k = kv !== undefined ? ctx.scalar(kv, 'k') : 0;
    const upper = a.int('upper', 1) === 1;
    const [R, C] = x.shape.slice(-2);
    // keep j − i ≥ k (upper) or j − i ≤ k (lower); the mask is made on the host
    const keep = new Uint8Array(R * C);
    for (let i = 0; i < R; i++) for (let j = 0; j < C; j++) keep[i * C + j] = (upper ? j - i >= k : j - i <= k) ? 1 : 0;
    const mask = fromArray(keep, [R, C], { dtype: 'bool', backend: x.backend.name });
    return [where(mask, x, 0)];
  },
};

const instanceNorm: OpDef = {
  attrs: { epsilon: 'float' },
  minInputs: 3,
  run: (ctx, [xv, sv, bv], a) => {
    const x = ctx.tensor(xv as Value);
    if (x.ndim < 3) fail(ctx, `input [${x.shape.join(', ')}] has no spatial dims`);
    const axes = x.shape.slice(2).map((_, i) => i + 2);
    const shape = channelShape(x);
    // y = γ·(x − μ)/√(σ² + ε) + β, μ and σ² per sample and channel
    const d = sub(x, mean(x, axes, true));
    const inv = reciprocal(sqrt(add(mean(mul(d, d), axes, true), a.float('epsilon', 1e-5))));
    return [add(mul(mul(d, inv), reshape(ctx.tensor(sv as Value), shape)), reshape(ctx.tensor(bv as Value), shape))];
  },
};

const SELU_ALPHA = 1.67326319217681884765625;
const SELU_GAMMA = 1.05070102214813232421875;

/** Every operator the importer runs, by ONNX op type (default domain). */
export const OPS: Readonly<Record<string, OpDef>> = {
  Add: binary(add, (x, y) => x + y),
  Sub: binary(sub, (x, y) => x - y),
  Mul: binary(mul, (x, y) => x * y),
  Div: binary(intDiv, (x, y) => x / y),
  Pow: binary(pow),
  Equal: binary(eq, (x, y) => (x === y ? 1 : 0), true),
  Less: binary(lt, (x, y) => (x < y ? 1 : 0), true),
  LessOrEqual: binary(le, (x, y) => (x <= y ? 1 : 0), true),
  Greater: binary(gt, (x, y) => (x > y ? 1 : 0), true),
  GreaterOrEqual: binary(ge, (x, y) => (x >= y ? 1 : 0), true),
  And: binary(logicalAnd),
  Or: binary(logicalOr),
  Not: unary(logicalNot),
  Max: variadic(maximum),
  Min: variadic(minimum),
  Sum: variadic(add),
  MatMul: {
    attrs: {},
    minInputs: 2,
    run: (ctx, [x, y]) => {
      const a = shapeOf(x as Value);
      const b = shapeOf(y as Value);
      if (a.length >= 1 && b.length >= 1) {
        const batch = broadcastShapes('MatMul', a.slice(0, -2), b.slice(0, -2));
        guard(ctx, [...batch, a.length > 1 ? a[a.length - 2] : 1, b.length > 1 ? b[b.length - 1] : 1]);
      }
      return [matmul(ctx.tensor(x as Value), ctx.tensor(y as Value))];
    },
  },
  Gemm: gemm,
  Relu: unary(relu),
  LeakyRelu: unary((x, a) => leakyRelu(x, a.float('alpha', 0.01)), { alpha: 'float' }),
  Elu: unary((x, a) => elu(x, a.float('alpha', 1)), { alpha: 'float' }),
  Selu: unary((x, a) => mul(elu(x, a.float('alpha', SELU_ALPHA)), a.float('gamma', SELU_GAMMA)), { alpha: 'float', gamma: 'float' }),
  Sigmoid: unary(sigmoid),
  HardSigmoid: unary((x, a) => minimum(maximum(add(mul(x, a.float('alpha', 0.2)), a.float('beta', 0.5)), 0), 1), { alpha: 'float', beta: 'float' }),
  HardSwish: unary((x) => mul(x, minimum(maximum(add(mul(x, 1 / 6), 0.5), 0), 1))),
  Tanh: unary(tanh),
  Softplus: unary((x) => softplus(x)),
  Softsign: unary((x) => div(x, add(abs(x), 1))),
  Gelu: unary((x, a) => gelu(x, a.string('approximate', 'none') === 'tanh' ? 'tanh' : 'none'), { approximate: 'string' }),
  Softmax: softmaxLike(softmax),
  LogSoftmax: softmaxLike(logSoftmax),
  Erf: unary(erf),
  Exp: unary(exp),
  Log: unary(log),
  Sqrt: unary(sqrt),
  Reciprocal: unary(reciprocal),
  Neg: { ...unary(neg), host: (_ctx, [x]) => (x && allSmall([x]) ? [hostMap([x], x.dtype, (v) => -v)] : null) },
  Abs: unary(abs),
  Floor: unary(floor),
  Ceil: unary(ceil),
  Sin: unary(sin),
  Cos: unary(cos),
  IsInf: unary(
    (x, a) => {
      const pos = a.int('detect_positive', 1) === 1;
      const neg = a.int('detect_negative', 1) === 1;
      const hit = pos && neg ? eq(abs(x), Infinity) : pos ? eq(x, Infinity) : neg ? eq(x, -Infinity) : ne(x, x);
      return pos || neg ? hit : logicalAnd(hit, eq(x, x));
    },
    { detect_positive: 'int', detect_negative: 'int' },
  ),
  IsNaN: unary((x) => ne(x, x)),
  Identity: { attrs: {}, minInputs: 1, host: (_ctx, [x]) => [x], run: (_ctx, [x]) => [x] },
  Dropout: dropoutOp,
  Clip: clipOp,
  Pad: padOp,
  Conv: conv,
  MaxPool: maxPool,
  AveragePool: averagePool,
  GlobalAveragePool: globalPool((x, dims) => mean(x, dims, true)),
  GlobalMaxPool: globalPool((x, dims) => max(x, dims, true)),
  BatchNormalization: batchNorm,
  LayerNormalization: layerNorm,
  InstanceNormalization: instanceNorm,
  Tile: tileOp,
  Trilu: triluOp,
  Flatten: flattenOp,
  Reshape: reshapeOp,
  Transpose: transposeOp,
  Concat: concatOp,
  Gather: gatherOp,
  Squeeze: squeezeOp,
  Unsqueeze: unsqueezeOp,
  Slice: sliceOp,
  Split: splitOp,
  Cast: castOp,
  Shape: shapeOp,
  Size: sizeOp,
  Constant: constantOp,
  ConstantOfShape: constantOfShapeOp,
  Expand: expandOp,
  Range: rangeOp,
  Where: whereOp,
  ReduceMean: reduceOp((x, d, k) => mean(x, d, k), 18),
  ReduceSum: reduceOp((x, d, k) => sum(x, d, k), 13),
  ReduceMax: reduceOp((x, d, k) => max(x, d, k), 18),
  ReduceMin: reduceOp((x, d, k) => min(x, d, k), 18),
  ...RECURRENT_OPS,
};
