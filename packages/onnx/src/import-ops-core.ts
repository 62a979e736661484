/** What every imported operator is built on: values (tensor or host), the op context, typed attribute reads, the element limit and host-side arithmetic. */
import { broadcastShapes, type DType, type Tensor } from '@ml/tensor';
import { OnnxError } from './import-errors.js';
import { allocHost, formatLimit, type Attr, type AttrKind, type ElemType, type HostValue, type NodeIR } from './import-model.js';

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

export type Inputs = readonly (Value | undefined)[];
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

export function shapeOf(v: Value): readonly number[] {
  return v.shape;
}

export function sizeOfShape(s: readonly number[]): number {
  return s.reduce((a, b) => a * b, 1);
}

/** Refuse a result of more than `maxElements` elements before anything is allocated for it. */
export function guard(ctx: OpContext, shape: readonly number[], what = 'the result'): void {
  const n = sizeOfShape(shape);
  if (!(n <= ctx.maxElements)) fail(ctx, `${what} [${shape.join(', ')}] would have ${n} elements, more than the limit ${formatLimit(ctx.maxElements)}`);
}

/** The broadcast shape of some values, checked against the element limit. */
export function guardBroadcast(ctx: OpContext, values: readonly (Value | undefined)[]): void {
  let shape: number[] = [];
  for (const v of values) if (v !== undefined) shape = broadcastShapes(ctx.node.opType, shape, shapeOf(v));
  guard(ctx, shape);
}

export function host(dtype: ElemType, shape: readonly number[], values: ArrayLike<number>): HostValue {
  const data = allocHost(dtype, values.length);
  for (let i = 0; i < values.length; i++) data[i] = dtype === 'bool' ? (values[i] ? 1 : 0) : values[i];
  return { kind: 'host', dtype, shape: [...shape], data };
}

export function normAxis(ctx: OpContext, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= Math.max(rank, 1)) fail(ctx, `axis ${axis} is out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Elementwise on the host with NumPy broadcasting. */
export function hostMap(values: readonly HostValue[], outType: ElemType, f: (...xs: number[]) => number): HostValue {
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

export const SMALL = 4096;
export function allSmall(inputs: readonly (HostValue | undefined)[]): boolean {
  return inputs.every((v) => v === undefined || v.data.length <= SMALL);
}

export function intResult(dtype: ElemType, v: number): number {
  return dtype === 'int32' || dtype === 'int64' ? Math.trunc(v) : v;
}
