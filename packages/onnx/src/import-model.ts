/**
 * Reading an ONNX file into a checked graph: decode the protobuf (ONNX's own schema through
 * `onnx-proto`), then check everything the evaluator relies on before any tensor is made —
 * initializer sizes against their dims and dtype, dims that are non-negative integers under
 * a cap, node inputs that exist, no cycles, attributes of known types. Every problem is an
 * {@link OnnxError}; nothing here allocates more than the file itself holds.
 */
import onnxProto from 'onnx-proto';
import type { onnx } from 'onnx-proto';
import { OnnxError } from './import-errors.js';

/** The most elements one tensor of a file (or a shape computed while running it) may have, unless `maxElements` says otherwise: 2^28. */
export const MAX_ELEMENTS = 2 ** 28;

/** 2^28 → '2^28', other limits as numbers. */
export function formatLimit(limit: number): string {
  const k = Math.log2(limit);
  return Number.isInteger(k) ? `2^${k}` : String(limit);
}

/** Element types as the importer keeps them; narrower integers widen to int32, halves to float32. */
export type ElemType = 'float32' | 'float64' | 'int32' | 'int64' | 'bool';

export type HostData = Float32Array | Float64Array | Int32Array | Uint8Array;

/**
 * A tensor's values on the host: initializers, constants and the small integer tensors a
 * graph computes from shapes (`Shape → Gather → Concat → Reshape`). int64 values are kept
 * as JS numbers (a Float64Array), exact up to 2^53.
 */
export interface HostValue {
  readonly kind: 'host';
  readonly dtype: ElemType;
  readonly shape: readonly number[];
  readonly data: HostData;
}

export type Attr =
  | { kind: 'float'; value: number }
  | { kind: 'int'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'tensor'; value: HostValue }
  | { kind: 'floats'; value: number[] }
  | { kind: 'ints'; value: number[] }
  | { kind: 'strings'; value: string[] }
  | { kind: 'unsupported'; type: string };

export type AttrKind = Attr['kind'];

export interface NodeIR {
  readonly name: string;
  readonly opType: string;
  readonly domain: string;
  /** '' marks an omitted optional input */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs: ReadonlyMap<string, Attr>;
}

export interface InputIR {
  readonly name: string;
  readonly dtype: ElemType;
  /** per dim: a size, a symbolic name (dim_param) or null (unknown); null when the rank is unknown */
  readonly dims: readonly (number | string | null)[] | null;
}

export interface GraphIR {
  /** the default domain's opset version */
  readonly opset: number;
  readonly producer: string;
  readonly inputs: readonly InputIR[];
  readonly outputs: readonly string[];
  readonly initializers: ReadonlyMap<string, HostValue>;
  /** in an order where every node comes after the nodes that produce its inputs */
  readonly nodes: readonly NodeIR[];
}

// ONNX TensorProto.DataType
const DTYPE_NAMES: Record<number, string> = {
  1: 'FLOAT', 2: 'UINT8', 3: 'INT8', 4: 'UINT16', 5: 'INT16', 6: 'INT32', 7: 'INT64', 8: 'STRING', 9: 'BOOL',
  10: 'FLOAT16', 11: 'DOUBLE', 12: 'UINT32', 13: 'UINT64', 14: 'COMPLEX64', 15: 'COMPLEX128', 16: 'BFLOAT16',
};

interface DTypeInfo {
  elem: ElemType;
  bytes: number;
}

const DTYPES: Record<number, DTypeInfo> = {
  1: { elem: 'float32', bytes: 4 },
  2: { elem: 'int32', bytes: 1 },
  3: { elem: 'int32', bytes: 1 },
  4: { elem: 'int32', bytes: 2 },
  5: { elem: 'int32', bytes: 2 },
  6: { elem: 'int32', bytes: 4 },
  7: { elem: 'int64', bytes: 8 },
  9: { elem: 'bool', bytes: 1 },
  10: { elem: 'float32', bytes: 2 },
  11: { elem: 'float64', bytes: 8 },
  12: { elem: 'int64', bytes: 4 },
  16: { elem: 'float32', bytes: 2 },
};

/** The importer's element type of an ONNX data type number, or an OnnxError naming it. */
export function elemTypeOf(code: number, what: string): ElemType {
  const info = DTYPES[code];
  if (!info) {
    const name = DTYPE_NAMES[code];
    throw new OnnxError(`${what}: ${name ? `data type ${name} (${code}) is not supported` : `unknown data type ${code}`}`);
  }
  return info.elem;
}

/** ONNX data type number of an element type (for Cast's `to` and the exporter's tests). */
export const ONNX_DTYPE: Record<ElemType, number> = { float32: 1, float64: 11, int32: 6, int64: 7, bool: 9 };

type IntLike = number | { toNumber(): number };

function toNumber(v: IntLike | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

/** Dims of a tensor: non-negative integers whose product stays within `limit` elements. */
export function checkDims(dims: readonly number[], what: string, limit: number): number {
  let n = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw new OnnxError(`${what}: dims [${dims.join(', ')}] must be non-negative integers`);
    n *= d;
  }
  if (n > limit) throw new OnnxError(`${what}: dims [${dims.join(', ')}] give ${n} elements, more than the limit ${formatLimit(limit)}`);
  return n;
}

function half(bits: number): number {
  const s = bits & 0x8000 ? -1 : 1;
  const e = (bits >> 10) & 0x1f;
  const m = bits & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function bfloat16(bits: number): number {
  const buf = new DataView(new ArrayBuffer(4));
  buf.setUint32(0, (bits & 0xffff) << 16);
  return buf.getFloat32(0);
}

/** Read a TensorProto (an initializer or an attribute's tensor) into host values, checked. */
export function readTensor(t: onnx.ITensorProto, what: string, limit: number): HostValue {
  const code = t.dataType ?? 0;
  const dtype = elemTypeOf(code, what);
  const dims = (t.dims ?? []).map(toNumber);
  const n = checkDims(dims, what, limit);
  if (t.dataLocation === 1) throw new OnnxError(`${what}: external data is not supported (save the model with its weights inside the file)`);
  if (t.segment) throw new OnnxError(`${what}: segmented tensors are not supported`);
  const bytes = DTYPES[code].bytes;
  const raw = t.rawData;
  let data: HostData;
  if (raw && raw.length > 0) {
    if (raw.length !== n * bytes) {
      throw new OnnxError(`${what}: raw_data has ${raw.length} bytes, but dims [${dims.join(', ')}] of ${DTYPE_NAMES[code]} need ${n * bytes}`);
    }
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    data = allocHost(dtype, n);
    for (let i = 0; i < n; i++) data[i] = rawElement(view, code, i);
  } else {
    const typed: ArrayLike<IntLike> =
      code === 1 ? t.floatData ?? [] : code === 11 ? t.doubleData ?? [] : code === 7 || code === 12 || code === 13 ? t.int64Data ?? [] : t.int32Data ?? [];
    if (typed.length !== n) {
      throw new OnnxError(`${what}: holds ${typed.length} values, but dims [${dims.join(', ')}] need ${n}`);
    }
    data = allocHost(dtype, n);
    for (let i = 0; i < n; i++) {
      const v = toNumber(typed[i]);
      data[i] = code === 10 ? half(v) : code === 16 ? bfloat16(v) : v;
    }
  }
  return { kind: 'host', dtype, shape: dims, data };
}

function rawElement(view: DataView, code: number, i: number): number {
  switch (code) {
    case 1: return view.getFloat32(4 * i, true);
    case 2: return view.getUint8(i);
    case 3: return view.getInt8(i);
    case 4: return view.getUint16(2 * i, true);
    case 5: return view.getInt16(2 * i, true);
    case 6: return view.getInt32(4 * i, true);
    case 7: return Number(view.getBigInt64(8 * i, true));
    case 9: return view.getUint8(i) ? 1 : 0;
    case 10: return half(view.getUint16(2 * i, true));
    case 11: return view.getFloat64(8 * i, true);
    case 12: return view.getUint32(4 * i, true);
    case 16: return bfloat16(view.getUint16(2 * i, true));
    default: throw new OnnxError(`raw data of type ${code} cannot be read`);
  }
}

export function allocHost(dtype: ElemType, n: number): HostData {
  switch (dtype) {
    case 'float32': return new Float32Array(n);
    case 'float64': case 'int64': return new Float64Array(n);
    case 'int32': return new Int32Array(n);
    case 'bool': return new Uint8Array(n);
  }
}

// ONNX AttributeProto.AttributeType
const ATTR_TYPES: Record<number, string> = {
  1: 'FLOAT', 2: 'INT', 3: 'STRING', 4: 'TENSOR', 5: 'GRAPH', 6: 'FLOATS', 7: 'INTS', 8: 'STRINGS', 9: 'TENSORS',
  10: 'GRAPHS', 11: 'SPARSE_TENSOR', 12: 'SPARSE_TENSORS', 13: 'TYPE_PROTO', 14: 'TYPE_PROTOS',
};

function has(o: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, key);
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

function readAttribute(a: onnx.IAttributeProto, where: string, limit: number): Attr {
  let type = a.type ?? 0;
  if (type === 0) {
    // IR version 1 files leave the type out: infer it from the field that is set
    if (has(a, 'f')) type = 1;
    else if (has(a, 'i')) type = 2;
    else if (has(a, 's')) type = 3;
    else if (has(a, 't')) type = 4;
    else if ((a.floats ?? []).length) type = 6;
    else if ((a.ints ?? []).length) type = 7;
    else if ((a.strings ?? []).length) type = 8;
  }
  const what = `${where} attribute '${a.name}'`;
  switch (type) {
    case 1: return { kind: 'float', value: a.f ?? 0 };
    case 2: return { kind: 'int', value: toNumber(a.i) };
    case 3: return { kind: 'string', value: utf8.decode(a.s ?? new Uint8Array()) };
    case 4:
      if (!a.t) throw new OnnxError(`${what} is of type TENSOR but holds no tensor`);
      return { kind: 'tensor', value: readTensor(a.t, what, limit) };
    case 6: return { kind: 'floats', value: [...(a.floats ?? [])] };
    case 7: return { kind: 'ints', value: (a.ints ?? []).map(toNumber) };
    case 8: return { kind: 'strings', value: (a.strings ?? []).map((s) => utf8.decode(s)) };
    default:
      if (ATTR_TYPES[type]) return { kind: 'unsupported', type: ATTR_TYPES[type] };
      throw new OnnxError(`${what} has unknown type ${type}`);
  }
}

function inputOf(v: onnx.IValueInfoProto, i: number, limit: number): InputIR {
  const name = v.name ?? '';
  const what = `graph input ${i} '${name}'`;
  if (!name) throw new OnnxError(`graph input ${i} has no name`);
  const tt = v.type?.tensorType;
  if (!tt) throw new OnnxError(`${what}: only tensor inputs are supported`);
  const dtype = elemTypeOf(tt.elemType ?? 0, what);
  if (!tt.shape) return { name, dtype, dims: null };
  const dims = (tt.shape.dim ?? []).map((d): number | string | null => {
    if (d.dimParam) return d.dimParam;
    if (has(d, 'dimValue')) {
      const n = toNumber(d.dimValue);
      if (!Number.isSafeInteger(n) || n < 0 || n > limit) throw new OnnxError(`${what}: dim ${n} must be an integer in [0, ${formatLimit(limit)}]`);
      return n;
    }
    return null;
  });
  return { name, dtype, dims };
}

/** Decode and check an ONNX model; see the module comment for what is checked. */
export function readModel(bytes: Uint8Array, limit = MAX_ELEMENTS): GraphIR {
  if (!(bytes instanceof Uint8Array)) throw new OnnxError('importOnnx: expected the file as a Uint8Array');
  let model: onnx.ModelProto;
  try {
    model = onnxProto.onnx.ModelProto.decode(bytes);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new OnnxError(`not a valid ONNX file: the protobuf cannot be decoded (${msg})`, { cause: e });
  }
  const graph = model.graph;
  if (!graph) throw new OnnxError('the ONNX model has no graph');
  let opset = 0;
  for (const o of model.opsetImport ?? []) {
    if (!o.domain || o.domain === 'ai.onnx') opset = toNumber(o.version);
  }
  if (opset === 0) throw new OnnxError('the ONNX model imports no opset of the default domain (opset_import)');
  if (opset < 7 || opset > 23) throw new OnnxError(`opset ${opset} is not supported (7 to 23 are)`);

  const initializers = new Map<string, HostValue>();
  (graph.initializer ?? []).forEach((t, i) => {
    const name = t.name ?? '';
    if (!name) throw new OnnxError(`initializer ${i} has no name`);
    if (initializers.has(name)) throw new OnnxError(`initializer '${name}' is defined twice`);
    initializers.set(name, readTensor(t, `initializer '${name}'`, limit));
  });
  if ((graph.sparseInitializer ?? []).length) throw new OnnxError('sparse initializers are not supported');

  const defined = new Set<string>(initializers.keys());
  const inputs: InputIR[] = [];
  (graph.input ?? []).forEach((v, i) => {
    if (v.name && initializers.has(v.name)) return; // IR < 4 lists initializers as inputs too
    const input = inputOf(v, i, limit);
    if (defined.has(input.name)) throw new OnnxError(`graph input '${input.name}' is defined twice`);
    defined.add(input.name);
    inputs.push(input);
  });

  const raw = graph.node ?? [];
  const nodes: NodeIR[] = raw.map((n, i) => {
    const opType = n.opType ?? '';
    const name = n.name || `${opType || 'node'}_${i}`;
    const where = `node '${name}' (${opType || '?'})`;
    if (!opType) throw new OnnxError(`node ${i} '${name}' has no op_type`);
    const attrs = new Map<string, Attr>();
    for (const a of n.attribute ?? []) {
      if (!a.name) throw new OnnxError(`${where}: an attribute has no name`);
      if (attrs.has(a.name)) throw new OnnxError(`${where}: attribute '${a.name}' is given twice`);
      attrs.set(a.name, readAttribute(a, where, limit));
    }
    return { name, opType, domain: n.domain === 'ai.onnx' ? '' : n.domain ?? '', inputs: [...(n.input ?? [])], outputs: [...(n.output ?? [])], attrs };
  });

  // every value is defined once: by an input, an initializer or one node output
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => {
    for (const o of n.outputs) {
      if (!o) continue;
      if (defined.has(o) || producer.has(o)) throw new OnnxError(`node '${n.name}' (${n.opType}): output '${o}' is already defined elsewhere in the graph`);
      producer.set(o, i);
    }
  });
  const dangling: string[] = [];
  nodes.forEach((n) => {
    for (const x of n.inputs) if (x && !defined.has(x) && !producer.has(x)) dangling.push(`'${x}' of node '${n.name}' (${n.opType})`);
  });
  if (dangling.length) throw new OnnxError(`inputs defined nowhere in the graph: ${dangling.slice(0, 20).join(', ')}${dangling.length > 20 ? ` and ${dangling.length - 20} more` : ''}`);

  const outputs = (graph.output ?? []).map((v, i) => {
    const name = v.name ?? '';
    if (!name) throw new OnnxError(`graph output ${i} has no name`);
    if (!defined.has(name) && !producer.has(name)) throw new OnnxError(`graph output '${name}' is produced by no node`);
    return name;
  });
  if (outputs.length === 0) throw new OnnxError('the graph has no outputs');

  return { opset, producer: model.producerName ?? '', inputs, outputs, initializers, nodes: topoSort(nodes, producer) };
}

/** Kahn's algorithm over the producer relation; the nodes left over form cycles. */
function topoSort(nodes: readonly NodeIR[], producer: ReadonlyMap<string, number>): NodeIR[] {
  const waiting = nodes.map((n) => new Set(n.inputs.filter((x) => producer.has(x)).map((x) => producer.get(x) as number)).size);
  const users: number[][] = nodes.map(() => []);
  nodes.forEach((n, i) => {
    for (const p of new Set(n.inputs.filter((x) => producer.has(x)).map((x) => producer.get(x) as number))) users[p].push(i);
  });
  const ready: number[] = [];
  waiting.forEach((w, i) => (w === 0 ? ready.push(i) : undefined));
  const order: NodeIR[] = [];
  for (let k = 0; k < ready.length; k++) {
    const i = ready[k];
    order.push(nodes[i]);
    for (const u of users[i]) if (--waiting[u] === 0) ready.push(u);
  }
  if (order.length !== nodes.length) {
    const stuck = nodes.filter((_, i) => waiting[i] > 0).map((n) => `'${n.name}' (${n.opType})`);
    throw new OnnxError(`the graph has a cycle through nodes ${stuck.slice(0, 10).join(', ')}${stuck.length > 10 ? ` and ${stuck.length - 10} more` : ''}`);
  }
  return order;
}
