import { checkOptions, type DType, fromFill, optionKeys, type Tensor } from '@ml/tensor';

/** Element types of the IDX format (MNIST's file format). */
export type IdxDType = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/** An IDX file that is not what it should be; names the file and what is wrong. */
export class IdxError extends Error {
  override name = 'IdxError';
  constructor(
    message: string,
    readonly file: string,
  ) {
    super(message);
  }
}

export interface IdxToTensorOptions {
  /** default: int32 for integer files, float32/float64 for float files, float32 when scaling */
  dtype?: DType;
  /** multiply every value, e.g. 1 / 255 for pixels in [0, 1] */
  scale?: number;
}

/** The contents of an IDX file: its shape and its values in row-major order. */
export interface IdxArray {
  shape: number[];
  dtype: IdxDType;
  data: IdxData;
  /** The values as a tensor of `shape`. */
  toTensor(options?: IdxToTensorOptions): Tensor;
}

export interface IdxOptions {
  /** hex MD5 of the file's bytes as stored (the .gz bytes for a gzip file) */
  expectedMd5?: string;
  /** hex SHA-256 of the file's bytes as stored */
  expectedSha256?: string;
  /** the name errors use for bytes input (default 'IDX data') */
  name?: string;
  /**
   * false: uint8 and int8 values are a view of the input bytes (or of their unzipped copy)
   * instead of a copy — for bytes nothing else will change (a file just read). Default true.
   */
  copy?: boolean;
}

/** @internal the keys of IdxOptions */
export const IDX_KEYS = optionKeys<IdxOptions>()(['expectedMd5', 'expectedSha256', 'name', 'copy']);
const IDX_ALIASES = { md5: 'expectedMd5', sha256: 'expectedSha256' };
const TO_TENSOR_KEYS = optionKeys<IdxToTensorOptions>()(['dtype', 'scale']);

/** @internal check the options of `parseIdx` or `readIdx` */
export function checkIdxOptions(op: string, options: unknown): void {
  checkOptions(op, options, IDX_KEYS, IDX_ALIASES);
}

// type code → element type and size (big-endian in the file)
const CODES: Record<number, { dtype: IdxDType; size: number }> = {
  0x08: { dtype: 'uint8', size: 1 },
  0x09: { dtype: 'int8', size: 1 },
  0x0b: { dtype: 'int16', size: 2 },
  0x0c: { dtype: 'int32', size: 4 },
  0x0d: { dtype: 'float32', size: 4 },
  0x0e: { dtype: 'float64', size: 8 },
};
const CODE_OF: Record<IdxDType, number> = { uint8: 0x08, int8: 0x09, int16: 0x0b, int32: 0x0c, float32: 0x0d, float64: 0x0e };

const hex = (b: number): string => `0x${b.toString(16).padStart(2, '0')}`;
const bytesText = (n: number): string => (n === 1 ? '1 byte' : `${n} bytes`);

/** @internal What an IDX header says: the element type, the shape, and so the size of the file. */
export interface IdxHeader {
  code: { dtype: IdxDType; size: number };
  shape: number[];
  headerBytes: number;
  count: number;
  /** header + values: the exact size of the file */
  expected: number;
}

/** @internal Read and check the header at the start of `raw`, which may be only the file's first bytes. */
export function readHeader(raw: Uint8Array, file: string): IdxHeader {
  if (raw.length < 4) throw new IdxError(`${file}: ${raw.length} bytes is too short for an IDX header (4-byte magic)`, file);
  if (raw[0] !== 0 || raw[1] !== 0) {
    throw new IdxError(`${file}: not an IDX file: the magic number starts ${hex(raw[0])} ${hex(raw[1])}, expected 0x00 0x00`, file);
  }
  const code = CODES[raw[2]];
  if (!code) {
    throw new IdxError(
      `${file}: unsupported IDX data type code ${hex(raw[2])} (supported: ${Object.entries(CODES).map(([c, t]) => `${hex(Number(c))} ${t.dtype}`).join(', ')})`,
      file,
    );
  }
  const ndim = raw[3];
  const headerBytes = 4 + 4 * ndim;
  if (raw.length < headerBytes) {
    throw new IdxError(`${file}: truncated header: ${ndim} dims need ${headerBytes} header bytes, the file has ${raw.length}`, file);
  }
  const view = new DataView(raw.buffer, raw.byteOffset, headerBytes);
  const shape: number[] = [];
  for (let d = 0; d < ndim; d++) shape.push(view.getUint32(4 + 4 * d, false));
  const count = shape.reduce((a, b) => a * b, 1);
  return { code, shape, headerBytes, count, expected: headerBytes + count * code.size };
}

/** @internal */
export const describeHeader = (h: IdxHeader): string => `${h.headerBytes}-byte header + ${h.shape.join('×') || '1'} ${h.code.dtype} values of ${bytesText(h.code.size)}`;

/**
 * @internal What parsing needs from the platform: unpacking gzip and hashing. The Node entry
 * passes Node's zlib and crypto; the browser-safe entry has neither (see `parseIdx`).
 */
export interface IdxCodec {
  /** the bytes unpacked when they start with the gzip magic 1f 8b, else the bytes as they are */
  gunzipIfNeeded(bytes: Uint8Array, file: string): Uint8Array;
  digest(algorithm: 'md5' | 'sha256', bytes: Uint8Array): string;
}

const isGzip = (bytes: Uint8Array): boolean => bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;

/** Without Node's zlib and crypto: plain IDX bytes only, no checksums; the errors say what to do. */
const BROWSER_CODEC: IdxCodec = {
  gunzipIfNeeded(bytes, file) {
    if (!isGzip(bytes)) return bytes;
    throw new IdxError(
      `${file}: gzip-compressed IDX data; unpack it first (in a browser: new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'))).arrayBuffer()), or parse it under Node, where @ml/data unpacks gzip itself`,
      file,
    );
  },
  digest(algorithm, _bytes) {
    throw new IdxError(`checking the ${algorithm} of IDX data needs Node's crypto; under Node @ml/data checks it, in a browser leave expected${algorithm === 'md5' ? 'Md5' : 'Sha256'} out`, 'IDX data');
  },
};

/**
 * `readIdx` for bytes already in memory. Under Node gzip data is unpacked and checksums are
 * checked; the browser-safe entry reads plain (unpacked) IDX bytes and takes no checksum.
 */
export function parseIdx(bytes: Uint8Array, options: IdxOptions = {}): IdxArray {
  return parseIdxWith(BROWSER_CODEC, bytes, options);
}

/** @internal `parseIdx` with the platform's gzip and hashing. */
export function parseIdxWith(codec: IdxCodec, bytes: Uint8Array, options: IdxOptions = {}): IdxArray {
  checkIdxOptions('parseIdx', options);
  const file = options.name ?? 'IDX data';
  for (const [algorithm, expected] of [['md5', options.expectedMd5], ['sha256', options.expectedSha256]] as const) {
    if (expected === undefined) continue;
    const actual = codec.digest(algorithm, bytes);
    if (actual !== expected.toLowerCase()) {
      throw new IdxError(`${file}: ${algorithm} is ${actual}, expected ${expected.toLowerCase()}; the file is corrupt or a different version`, file);
    }
  }
  const raw = codec.gunzipIfNeeded(bytes, file);
  const header = readHeader(raw, file);
  const { expected } = header;
  if (raw.length !== expected) {
    const how = raw.length < expected ? `truncated: ${bytesText(expected - raw.length)} missing` : `${bytesText(raw.length - expected)} too long`;
    throw new IdxError(`${file}: expected ${expected} bytes (${describeHeader(header)}), got ${raw.length} (${how})`, file);
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const data = decode(view, header.headerBytes, header.count, header.code.dtype, options.copy ?? true);
  return idxArray(header.shape, header.code.dtype, data);
}

function decode(view: DataView, offset: number, count: number, dtype: IdxDType, copy: boolean): IdxData {
  const start = view.byteOffset + offset;
  switch (dtype) {
    case 'uint8':
      return copy ? new Uint8Array(view.buffer.slice(start, start + count)) : new Uint8Array(view.buffer, start, count);
    case 'int8':
      return copy ? new Int8Array(view.buffer.slice(start, start + count)) : new Int8Array(view.buffer, start, count);
    case 'int16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

function idxArray(shape: number[], dtype: IdxDType, data: IdxData): IdxArray {
  return {
    shape,
    dtype,
    data,
    toTensor(options: IdxToTensorOptions = {}): Tensor {
      checkOptions('IdxArray.toTensor', options, TO_TENSOR_KEYS);
      const scale = options.scale;
      const target: DType = options.dtype ?? (scale !== undefined || dtype === 'float32' ? 'float32' : dtype === 'float64' ? 'float64' : 'int32');
      // converted straight into the tensor's memory (no staging array, no second copy)
      return fromFill(shape, (out) => {
        if (target === 'bool') for (let i = 0; i < data.length; i++) out[i] = data[i] * (scale ?? 1) ? 1 : 0;
        else if (scale === undefined) out.set(data);
        else for (let i = 0; i < data.length; i++) out[i] = data[i] * scale;
      }, { dtype: target });
    },
  };
}

/** Encode values as IDX bytes (big-endian), the inverse of `parseIdx`. */
export function encodeIdx(data: IdxData | ArrayLike<number>, shape: readonly number[], dtype: IdxDType = 'uint8'): Uint8Array {
  const code = CODES[CODE_OF[dtype]];
  if (!code) throw new TypeError(`encodeIdx: unknown dtype ${dtype}`);
  if (shape.length > 255) throw new RangeError(`encodeIdx: at most 255 dims, got ${shape.length}`);
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new RangeError(`encodeIdx: ${data.length} values do not fill shape [${shape.join(',')}] (${count})`);
  const header = 4 + 4 * shape.length;
  const out = new Uint8Array(header + count * code.size);
  const view = new DataView(out.buffer);
  out[2] = CODE_OF[dtype];
  out[3] = shape.length;
  shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  for (let i = 0; i < count; i++) {
    const at = header + i * code.size;
    const v = data[i];
    switch (dtype) {
      case 'uint8':
        view.setUint8(at, v);
        break;
      case 'int8':
        view.setInt8(at, v);
        break;
      case 'int16':
        view.setInt16(at, v, false);
        break;
      case 'int32':
        view.setInt32(at, v, false);
        break;
      case 'float32':
        view.setFloat32(at, v, false);
        break;
      case 'float64':
        view.setFloat64(at, v, false);
        break;
    }
  }
  return out;
}
