/**
 * The IDX pieces that need Node: gzip (zlib, with the output capped so a bomb is refused
 * early), checksums (crypto) and reading files.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { constants as bufferConstants } from 'node:buffer';
import { gunzipSync, constants as zlibConstants } from 'node:zlib';
import { checkIdxOptions, describeHeader, type IdxArray, type IdxCodec, type IdxDType, IdxError, type IdxOptions, parseIdxWith, readHeader } from '../idx.js';

/**
 * Read an IDX file (or its bytes): the 4-byte magic 0x00 0x00 <type> <ndim>, ndim
 * big-endian uint32 dims, then the values, big-endian. A gzip file (.gz) is unpacked
 * transparently. Checks the magic, the type code, that the size is exactly header +
 * product(dims) · element size, and the checksum when given; any failure throws an
 * `IdxError` and nothing is returned.
 */
export async function readIdx(pathOrBytes: string | Uint8Array, options: IdxOptions = {}): Promise<IdxArray> {
  checkIdxOptions('readIdx', options);
  if (typeof pathOrBytes !== 'string') return parseIdx(pathOrBytes, options);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(pathOrBytes);
  } catch (e) {
    throw new IdxError(`${pathOrBytes}: cannot read the file (${(e as Error).message})`, pathOrBytes);
  }
  // the bytes were just read here: the values can be a view of them unless told otherwise
  return parseIdx(bytes, { copy: false, ...options, name: options.name ?? pathOrBytes });
}

/** @internal */
export function digest(algorithm: 'md5' | 'sha256', bytes: Uint8Array): string {
  return createHash(algorithm).update(bytes).digest('hex');
}

/** the longest header: 4-byte magic and 255 dims */
const MAX_HEADER = 4 + 4 * 255;
/** the most a probe for the header unpacks */
const HEAD_PROBE = 1 << 16;

const isTooLarge = (e: unknown): boolean => (e as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE';
const damaged = (file: string, e: unknown): IdxError =>
  new IdxError(`${file}: the gzip data is damaged (${(e as Error).message}); the file is truncated or corrupt`, file);

/**
 * The start of a gzip file's contents, at least MAX_HEADER bytes of it (or all of it when
 * shorter) and at most HEAD_PROBE: prefixes of the gzip bytes are unpacked, each with its
 * output capped, so a bomb costs no more than a probe.
 */
function gunzipHead(bytes: Uint8Array, file: string): Uint8Array {
  const n = bytes.length;
  /** the output of the first k bytes, or null when it is more than HEAD_PROBE */
  const prefix = (k: number): Uint8Array | null => {
    try {
      // Z_SYNC_FLUSH: the output so far from input that stops anywhere
      return gunzipSync(bytes.subarray(0, k), { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: HEAD_PROBE });
    } catch (e) {
      if (isTooLarge(e)) return null;
      throw damaged(file, e);
    }
  };
  // widen the prefix until it unpacks to enough; when one unpacks to too much, halve the
  // step between it and the last short one (one input byte makes at most ~1 KB of output)
  let short = 0;
  let k = Math.min(256, n);
  for (;;) {
    const out = prefix(k);
    if (out === null) break;
    if (out.length >= MAX_HEADER || k === n) return out;
    short = k;
    k = Math.min(k * 4, n);
  }
  let long = k;
  while (long - short > 1) {
    const mid = short + Math.floor((long - short) / 2);
    const out = prefix(mid);
    if (out === null) long = mid;
    else if (out.length >= MAX_HEADER) return out;
    else short = mid;
  }
  throw new IdxError(`${file}: the gzip data unpacks to more than ${HEAD_PROBE} bytes from one byte; the file is corrupt`, file);
}

/**
 * @internal gunzip when the bytes start with the gzip magic 1f 8b — never past the size the
 * IDX header promises, nor past `maxBytes`: the header is unpacked first, then the rest with
 * the output capped at that size, so a gzip bomb is refused after a few bytes of output
 * instead of filling the memory. `maxBytes` (mnist's published size) is checked against the
 * header by `checkHeader`, which throws its own error.
 */
export function gunzipIfNeeded(bytes: Uint8Array, file: string, checkHeader?: (shape: readonly number[], dtype: IdxDType, bytes: number) => void): Uint8Array {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  const head = gunzipHead(bytes, file);
  // a short head is all the file holds (unpacked again, in full, to check the stream's end);
  // a head that is not an IDX header throws the error parseIdx would give for it
  const header = head.length < MAX_HEADER ? null : readHeader(head, file);
  if (header !== null) {
    checkHeader?.(header.shape, header.code.dtype, header.expected);
    if (header.expected > bufferConstants.MAX_LENGTH) {
      throw new IdxError(`${file}: the header promises ${header.shape.join('×')} ${header.code.dtype} values (${header.expected} bytes), more than can be held in memory`, file);
    }
  }
  try {
    return gunzipSync(bytes, { maxOutputLength: header?.expected ?? HEAD_PROBE });
  } catch (e) {
    if (header !== null && isTooLarge(e)) {
      throw new IdxError(`${file}: the gzip data unpacks to more than the ${header.expected} bytes its header promises (${describeHeader(header)}); the file is corrupt or not an IDX file`, file);
    }
    throw damaged(file, e);
  }
}

const NODE_CODEC: IdxCodec = { gunzipIfNeeded: (bytes, file) => gunzipIfNeeded(bytes, file), digest };

/** `readIdx` for bytes already in memory: gzip data is unpacked, checksums are checked. */
export function parseIdx(bytes: Uint8Array, options: IdxOptions = {}): IdxArray {
  return parseIdxWith(NODE_CODEC, bytes, options);
}
