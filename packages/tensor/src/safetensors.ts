/**
 * safetensors (https://github.com/huggingface/safetensors) read/write:
 * u64 LE header length N, N bytes of JSON header, then the tensor bytes (little-endian).
 */
import type { Backend } from './backend.js';
import { allocArray, bytesPerElement, type DType, type TypedArray } from './dtype.js';
import { getBackend } from './engine.js';
import { fileAccess } from './files.js';
import { fromData } from './ops/prim.js';
import { checkOptions, optionKeys } from './options.js';
import { isTensor, type Tensor } from './tensor.js';

/** Thrown for malformed files and unserializable inputs; messages start with `safetensors:`. */
export class SafetensorsError extends Error {
  constructor(message: string) {
    super(`safetensors: ${message}`);
    this.name = 'SafetensorsError';
  }
}

export interface ParsedSafetensors {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

export interface LoadSafetensorsOptions {
  /** backend to create the tensors on; default: the current backend */
  backend?: string;
}

const LOAD_KEYS = optionKeys<LoadSafetensorsOptions>()(['backend']);

/** Largest header accepted (same limit as the reference implementation). */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';

const TO_FILE_DTYPE: Record<DType, string> = { float32: 'F32', float64: 'F64', int32: 'I32', bool: 'BOOL' };

/**
 * The dtypes read from a file, with their element size and the dtype they load as: the
 * four this library writes as they are; half precision (F16, BF16) widened to float32
 * (exactly: every half value is a float32); 64-bit and unsigned 32-bit integers as int32,
 * each element checked to fit (PyTorch writes `num_batches_tracked` and index tensors as
 * I64); the small integers as int32. `read` decodes element `i` of a little-endian view.
 */
interface FileDType {
  bytes: number;
  dtype: DType;
  read?: (view: DataView, i: number) => number;
}
const FILE_DTYPES: ReadonlyMap<string, FileDType> = new Map<string, FileDType>([
  ['F64', { bytes: 8, dtype: 'float64' }],
  ['F32', { bytes: 4, dtype: 'float32' }],
  ['F16', { bytes: 2, dtype: 'float32', read: (v, i) => halfToFloat(v.getUint16(2 * i, true)) }],
  ['BF16', { bytes: 2, dtype: 'float32', read: (v, i) => bfloat16ToFloat(v.getUint16(2 * i, true)) }],
  ['I64', { bytes: 8, dtype: 'int32', read: (v, i) => Number(v.getBigInt64(8 * i, true)) }],
  ['U32', { bytes: 4, dtype: 'int32', read: (v, i) => v.getUint32(4 * i, true) }],
  ['I32', { bytes: 4, dtype: 'int32' }],
  ['I16', { bytes: 2, dtype: 'int32', read: (v, i) => v.getInt16(2 * i, true) }],
  ['U16', { bytes: 2, dtype: 'int32', read: (v, i) => v.getUint16(2 * i, true) }],
  ['I8', { bytes: 1, dtype: 'int32', read: (v, i) => v.getInt8(i) }],
  ['U8', { bytes: 1, dtype: 'int32', read: (v, i) => v.getUint8(i) }],
  ['BOOL', { bytes: 1, dtype: 'bool' }],
]);

/** IEEE 754 half precision (1 sign, 5 exponent, 10 fraction bits) to a number: (−1)^s · 2^(e−15) · 1.f, or 2^−14 · 0.f when e = 0. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return sign * 2 ** -14 * (f / 1024);
  if (e === 31) return f === 0 ? sign * Infinity : NaN;
  return sign * 2 ** (e - 15) * (1 + f / 1024);
}

const bf16Scratch = new DataView(new ArrayBuffer(4));
/** bfloat16 is the top half of a float32: put its 16 bits above 16 zero bits. */
function bfloat16ToFloat(h: number): number {
  bf16Scratch.setUint32(0, h << 16);
  return bf16Scratch.getFloat32(0);
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

interface Entry {
  name: string;
  dtype: DType;
  /** the dtype as the file names it (F16, I64, …) */
  fileDtype: string;
  shape: number[];
  begin: number;
  end: number;
}

const quote = (name: string): string => JSON.stringify(name).slice(1, -1);
const fmtShape = (shape: readonly number[]): string => `[${shape.join(',')}]`;

// ---------------------------------------------------------------- write

export interface SaveSafetensorsOptions {
  /**
   * int32 tensors to write as I64, the dtype PyTorch uses for integer buffers such as
   * BatchNorm's `num_batches_tracked` and for indices: `true` for every int32 tensor, or
   * their names. Reading converts I64 back to int32 (each value checked to fit).
   */
  int64?: boolean | readonly string[];
}

const SAVE_KEYS = optionKeys<SaveSafetensorsOptions>()(['int64']);
const HEADER_KEYS = optionKeys<{ fileSize?: number }>()(['fileSize']);

/** Serialize tensors (names sorted, data 8-byte aligned) and optional string metadata. */
export async function serializeSafetensors(tensors: Record<string, Tensor>, metadata?: Record<string, string>, options: SaveSafetensorsOptions = {}): Promise<Uint8Array> {
  checkOptions('serializeSafetensors', options, SAVE_KEYS);
  const int64 = options.int64 ?? false;
  if (Array.isArray(int64)) {
    for (const n of int64) {
      const t: unknown = Object.hasOwn(tensors, n) ? tensors[n] : undefined;
      if (!isTensor(t) || t.dtype !== 'int32') throw new SafetensorsError(`int64 names '${quote(n)}', which is not an int32 tensor of this file`);
    }
  }
  const asInt64 = (name: string, t: Tensor): boolean => t.dtype === 'int32' && (int64 === true || (Array.isArray(int64) && int64.includes(name)));
  // entries, then Object.fromEntries, so a name like '__proto__' stays an own key
  const header: [string, unknown][] = [];
  if (metadata !== undefined) header.push([METADATA_KEY, checkMetadata(metadata, 'metadata')]);

  const names = Object.keys(tensors).sort();
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const name of names) {
    if (name === METADATA_KEY) throw new SafetensorsError(`'${METADATA_KEY}' is reserved and cannot be a tensor name`);
    const t: unknown = tensors[name];
    if (!isTensor(t)) throw new SafetensorsError(`value for '${quote(name)}' is not a Tensor`);
    const wide = asInt64(name, t);
    const values = await t.data();
    const bytes = wide ? encodeInt64(values as Int32Array) : encode(values);
    chunks.push(bytes);
    header.push([name, { dtype: wide ? 'I64' : TO_FILE_DTYPE[t.dtype], shape: [...t.shape], data_offsets: [offset, offset + bytes.length] }]);
    offset += bytes.length;
  }

  let json = new TextEncoder().encode(JSON.stringify(Object.fromEntries(header)));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}

/** int32 values as little-endian I64 (sign-extended). */
function encodeInt64(values: Int32Array): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return out;
}

/** Little-endian bytes of a typed array. */
function encode(values: TypedArray): Uint8Array {
  if (values instanceof Uint8Array) return values.map((v) => (v ? 1 : 0));
  if (LITTLE_ENDIAN_HOST) return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  const out = new Uint8Array(values.byteLength);
  const view = new DataView(out.buffer);
  if (values instanceof Float32Array) values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  else if (values instanceof Float64Array) values.forEach((v, i) => view.setFloat64(i * 8, v, true));
  else values.forEach((v, i) => view.setInt32(i * 4, v, true));
  return out;
}

// ---------------------------------------------------------------- read

/** One tensor's entry in a safetensors header: what it is and where its bytes lie. */
export interface SafetensorsHeaderEntry {
  name: string;
  /** the dtype the tensor loads as */
  dtype: DType;
  /** the dtype as the file stores it: F32, F64, I32, BOOL, or one widened on load (F16, BF16 → float32; I64, U32, I16, U16, I8, U8 → int32) */
  fileDtype: string;
  shape: number[];
  /** [begin, end) in bytes, relative to the start of the data buffer */
  dataOffsets: [number, number];
}

/** A validated safetensors header: the tensors' names, dtypes and shapes, without their data. */
export interface SafetensorsHeader {
  entries: SafetensorsHeaderEntry[];
  metadata: Record<string, string>;
  /** bytes before the data buffer: the 8-byte length prefix and the JSON header */
  headerBytes: number;
  /** bytes of the data buffer */
  dataBytes: number;
  /** elements of all tensors together */
  numElements: number;
}

/**
 * Validate a safetensors header without reading or allocating any tensor. `input` is the
 * whole file or only its beginning (at least the 8-byte prefix and the JSON header), in
 * which case `fileSize` gives the whole file's length, for the layout checks. Throws
 * `SafetensorsError` exactly where `parseSafetensors` would.
 */
export function parseSafetensorsHeader(input: Uint8Array, options: { fileSize?: number } = {}): SafetensorsHeader {
  checkOptions('parseSafetensorsHeader', options, HEADER_KEYS);
  // a plain view, so subclasses like Node's Buffer (whose slice() does not copy) behave
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  const fileSize = options.fileSize ?? bytes.length;
  if (fileSize < 8) throw new SafetensorsError(`file is ${fileSize} bytes, too short for the 8-byte header length`);
  if (bytes.length < 8) throw new SafetensorsError(`got ${bytes.length} bytes, too few for the 8-byte header length`);
  // both checks run on the u64 before anything is decoded or allocated
  const n64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) throw new SafetensorsError(`header length ${n64} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  if (n64 > BigInt(fileSize - 8)) {
    throw new SafetensorsError(`header length ${n64} is larger than the file allows (${fileSize - 8} bytes after the length prefix)`);
  }
  const n = Number(n64);
  if (bytes.length < 8 + n) throw new SafetensorsError(`got ${bytes.length} bytes, fewer than the ${8 + n} of the length prefix and header`);

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    throw new SafetensorsError('header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(`header is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(header)) throw new SafetensorsError('header must be a JSON object');

  const dataLength = fileSize - 8 - n;
  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === METADATA_KEY) metadata = checkMetadata(raw, `'${METADATA_KEY}'`);
    else entries.push(checkEntry(name, raw, dataLength));
  }
  checkLayout(entries, dataLength);
  let numElements = 0;
  for (const e of entries) numElements += (e.end - e.begin) / FILE_DTYPES.get(e.fileDtype)!.bytes;
  return {
    entries: entries.map((e) => ({ name: e.name, dtype: e.dtype, fileDtype: e.fileDtype, shape: e.shape, dataOffsets: [e.begin, e.end] })),
    metadata,
    headerBytes: 8 + n,
    dataBytes: dataLength,
    numElements,
  };
}

/**
 * Parse a safetensors file. The whole header and layout are validated before any tensor
 * is allocated, so a malformed file throws `SafetensorsError` and creates nothing.
 */
export function parseSafetensors(input: Uint8Array, options: LoadSafetensorsOptions = {}): ParsedSafetensors {
  checkOptions('parseSafetensors', options, LOAD_KEYS);
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  const { entries, metadata, headerBytes } = parseSafetensorsHeader(bytes);
  const backend = resolveBackend(options.backend);
  const data = bytes.subarray(headerBytes);
  const created: [string, Tensor][] = [];
  try {
    for (const { name, dtype, fileDtype, shape, dataOffsets: [begin, end] } of entries) {
      const values = decode(data.subarray(begin, end), fileDtype, name);
      created.push([name, fromData(backend, backend.write(values, dtype), shape, dtype)]);
    }
  } catch (err) {
    for (const [, t] of created) t.dispose();
    throw err;
  }
  return { tensors: Object.fromEntries(created), metadata };
}

function resolveBackend(name: string | undefined): Backend {
  try {
    return getBackend(name);
  } catch (e) {
    throw new SafetensorsError((e as Error).message);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkMetadata(raw: unknown, what: string): Record<string, string> {
  if (!isPlainObject(raw)) throw new SafetensorsError(`${what} must be an object mapping strings to strings`);
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'string') throw new SafetensorsError(`${what} value for key '${quote(k)}' must be a string, got ${v === null ? 'null' : typeof v}`);
  }
  return Object.fromEntries(Object.entries(raw as Record<string, string>));
}

function checkEntry(name: string, raw: unknown, dataLength: number): Entry {
  const where = `tensor '${quote(name)}'`;
  if (!isPlainObject(raw)) throw new SafetensorsError(`${where} must be an object with dtype, shape and data_offsets`);
  const { dtype, shape, data_offsets: offsets } = raw;
  if (typeof dtype !== 'string') throw new SafetensorsError(`${where} is missing a string 'dtype'`);
  const file = FILE_DTYPES.get(dtype);
  if (file === undefined) {
    throw new SafetensorsError(`${where} has unsupported dtype '${quote(dtype)}' (supported: ${[...FILE_DTYPES.keys()].join(', ')})`);
  }
  if (!Array.isArray(shape) || !shape.every((d): d is number => Number.isSafeInteger(d) && d >= 0)) {
    throw new SafetensorsError(`${where} has invalid shape ${JSON.stringify(shape) ?? 'undefined'} (expected an array of non-negative integers)`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o): o is number => Number.isSafeInteger(o))) {
    throw new SafetensorsError(`${where} has invalid data_offsets ${JSON.stringify(offsets) ?? 'undefined'} (expected [begin, end] integers)`);
  }
  const [begin, end] = offsets;
  if (begin < 0 || begin > end || end > dataLength) {
    throw new SafetensorsError(`${where} has data_offsets [${begin},${end}] out of range for a ${dataLength}-byte data buffer`);
  }
  // exact below 2^53; larger products can never match a real span
  const byteSize = shape.includes(0) ? 0 : shape.reduce((a, d) => a * d, 1) * file.bytes;
  if (byteSize !== end - begin) {
    throw new SafetensorsError(`${where} has shape ${fmtShape(shape)} (${dtype}, ${byteSize} bytes) but data_offsets span ${end - begin} bytes`);
  }
  return { name, dtype: file.dtype, fileDtype: dtype, shape, begin, end };
}

/** Tensors must tile the data buffer exactly: no overlaps, no holes, nothing left over. */
function checkLayout(entries: Entry[], dataLength: number): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev: Entry | null = null;
  for (const e of sorted) {
    if (e.begin < pos && prev) {
      throw new SafetensorsError(`tensor '${quote(e.name)}' [${e.begin},${e.end}] overlaps tensor '${quote(prev.name)}' [${prev.begin},${prev.end}]`);
    }
    if (e.begin > pos) {
      throw new SafetensorsError(`hole in data buffer: bytes [${pos},${e.begin}) before tensor '${quote(e.name)}' belong to no tensor`);
    }
    pos = e.end;
    prev = e;
  }
  if (pos !== dataLength) {
    throw new SafetensorsError(`data buffer is ${dataLength} bytes but tensors cover only [0,${pos}); the remaining bytes belong to no tensor`);
  }
}

/** Copy little-endian bytes into a fresh, aligned typed array of the dtype the file's dtype loads as. */
function decode(src: Uint8Array, fileDtype: string, name: string): TypedArray {
  const { dtype, read, bytes } = FILE_DTYPES.get(fileDtype)!;
  if (read !== undefined) return widen(src, fileDtype, name, dtype, bytes, read);
  const size = src.length / bytesPerElement(dtype);
  if (dtype === 'bool') return Uint8Array.from(src, (v) => (v ? 1 : 0));
  if (LITTLE_ENDIAN_HOST) {
    const copy = new Uint8Array(src.length);
    copy.set(src);
    const buf = copy.buffer;
    return dtype === 'float32' ? new Float32Array(buf) : dtype === 'float64' ? new Float64Array(buf) : new Int32Array(buf);
  }
  const out = allocArray(dtype, size);
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  for (let i = 0; i < size; i++) {
    out[i] = dtype === 'float32' ? view.getFloat32(i * 4, true) : dtype === 'float64' ? view.getFloat64(i * 8, true) : view.getInt32(i * 4, true);
  }
  return out;
}

/** Elements of a dtype this library does not hold (F16, I64, …) read one by one into `dtype`; integers checked to fit int32. */
function widen(src: Uint8Array, fileDtype: string, name: string, dtype: DType, bytes: number, read: (view: DataView, i: number) => number): TypedArray {
  const size = src.length / bytes;
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const out = allocArray(dtype, size);
  for (let i = 0; i < size; i++) {
    const v = read(view, i);
    if (dtype === 'int32' && (v < INT32_MIN || v > INT32_MAX)) {
      const exact = fileDtype === 'I64' ? view.getBigInt64(8 * i, true).toString() : String(v);
      throw new SafetensorsError(`tensor '${quote(name)}' (${fileDtype}) holds ${exact} at element ${i}, outside int32's range [${INT32_MIN}, ${INT32_MAX}]; it cannot load as int32`);
    }
    out[i] = v;
  }
  return out;
}

// ---------------------------------------------------------------- file I/O (Node)
// The file access comes from the Node entry (files.ts), so that this module imports no Node
// module; in a browser these throw, pointing at serializeSafetensors / parseSafetensors.

/**
 * Write a safetensors file atomically and durably (`writeFileAtomic`: a temp sibling
 * written and fsynced, renamed over `path`, the directory fsynced), so a crash at any
 * moment leaves either the previous file or the new one. Temps of `path` left by killed
 * processes are removed once the write succeeds.
 */
export async function saveSafetensors(path: string, tensors: Record<string, Tensor>, metadata?: Record<string, string>, options: SaveSafetensorsOptions = {}): Promise<void> {
  checkOptions('saveSafetensors', options, SAVE_KEYS);
  const files = fileAccess('saveSafetensors');
  await files.writeFileAtomic(path, await serializeSafetensors(tensors, metadata, options));
}

/** Read and parse a safetensors file (Node). */
export async function loadSafetensors(path: string, options: LoadSafetensorsOptions = {}): Promise<ParsedSafetensors> {
  checkOptions('loadSafetensors', options, LOAD_KEYS);
  return parseSafetensors(await fileAccess('loadSafetensors').readFile(path), options);
}

/**
 * Read and validate only a safetensors file's header (Node): names, dtypes, shapes and
 * offsets, without reading the tensor data.
 */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const files = fileAccess('readSafetensorsHeader');
  const { size, bytes: prefix } = await files.readHead(path, 8);
  if (size < 8) return parseSafetensorsHeader(prefix, { fileSize: size });
  const n64 = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  // the length is checked by parseSafetensorsHeader before a buffer of that size is made
  if (n64 > BigInt(MAX_HEADER_BYTES) || n64 > BigInt(size - 8)) return parseSafetensorsHeader(prefix, { fileSize: size });
  const head = await files.readHead(path, 8 + Number(n64));
  return parseSafetensorsHeader(head.bytes, { fileSize: head.size });
}
