import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  fromArray,
  loadSafetensors,
  memory,
  parseSafetensors,
  SafetensorsError,
  saveSafetensors,
  serializeSafetensors,
  type Tensor,
} from '../src/node.js';

const enc = new TextEncoder();

/** A file from a raw header string (unpadded) or object, with `data` as the byte buffer. */
function build(header: string | object, data: Uint8Array | number = 0, lengthOverride?: bigint): Uint8Array {
  const json = enc.encode(typeof header === 'string' ? header : JSON.stringify(header));
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}

function entry(dtype: string, shape: number[], begin: number, end: number): object {
  return { dtype, shape, data_offsets: [begin, end] };
}

function bytesOf(a: ArrayBufferView): number[] {
  return [...new Uint8Array(a.buffer, a.byteOffset, a.byteLength)];
}

function disposeAll(tensors: Record<string, Tensor>): void {
  for (const t of Object.values(tensors)) t.dispose();
}

async function roundTrip(tensors: Record<string, Tensor>, metadata?: Record<string, string>) {
  const file = await serializeSafetensors(tensors, metadata);
  return { file, ...parseSafetensors(file) };
}

function headerLength(file: Uint8Array): number {
  return Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
}

describe('safetensors round trip', () => {
  it('float32 is bit-exact, including NaN, infinities, -0 and subnormals', async () => {
    const values = new Float32Array([1.5, -2.25, NaN, Infinity, -Infinity, -0, 1e-45, 3.4e38, Math.PI, -1e-20]);
    const a = fromArray(values, [2, 5], { dtype: 'float32' });
    const { tensors } = await roundTrip({ a });
    expect(tensors.a.dtype).toBe('float32');
    expect(tensors.a.shape).toEqual([2, 5]);
    const got = await tensors.a.data();
    expect(got).toBeInstanceOf(Float32Array);
    expect(bytesOf(got)).toEqual(bytesOf(values));
    a.dispose();
    disposeAll(tensors);
  });

  it('float64 keeps double precision', async () => {
    const values = new Float64Array([0.1 + 0.2, 1 / 3, Number.MAX_VALUE, 5e-324, -1e300, 1 + 2 ** -52]);
    const a = fromArray(values, [3, 2], { dtype: 'float64' });
    const { tensors } = await roundTrip({ a });
    expect(tensors.a.dtype).toBe('float64');
    const got = await tensors.a.data();
    expect(got).toBeInstanceOf(Float64Array);
    expect(bytesOf(got)).toEqual(bytesOf(values));
    a.dispose();
    disposeAll(tensors);
  });

  it('int32 with negatives and extremes', async () => {
    const values = new Int32Array([-2147483648, 2147483647, -1, 0, 7, -123456]);
    const a = fromArray(values, [6], { dtype: 'int32' });
    const { tensors } = await roundTrip({ a });
    expect(tensors.a.dtype).toBe('int32');
    expect([...(await tensors.a.data())]).toEqual([...values]);
    a.dispose();
    disposeAll(tensors);
  });

  it('bool as one byte per element', async () => {
    const a = fromArray([true, false, true, true, false], [5], { dtype: 'bool' });
    const { file, tensors } = await roundTrip({ a });
    expect([...file.subarray(file.length - 5)]).toEqual([1, 0, 1, 1, 0]);
    expect(tensors.a.dtype).toBe('bool');
    expect(await tensors.a.array()).toEqual([true, false, true, true, false]);
    a.dispose();
    disposeAll(tensors);
  });

  it('0-d scalars and zero-size tensors', async () => {
    const s = fromArray([3.5], [], { dtype: 'float32' });
    const z = fromArray([], [0, 3], { dtype: 'float32' });
    const { tensors } = await roundTrip({ s, z });
    expect(tensors.s.shape).toEqual([]);
    expect(tensors.s.item()).toBe(3.5);
    expect(tensors.z.shape).toEqual([0, 3]);
    expect((await tensors.z.data()).length).toBe(0);
    for (const t of [s, z]) t.dispose();
    disposeAll(tensors);
  });

  it('mixed dtypes at unaligned buffer offsets, names sorted, metadata kept', async () => {
    const input = {
      c: fromArray([1, 2, 3], [3], { dtype: 'float64' }),
      a: fromArray([true, false, true], [3], { dtype: 'bool' }),
      b: fromArray([-1.25, 8], [2], { dtype: 'float32' }),
      d: fromArray([-5, 6], [1, 2], { dtype: 'int32' }),
    };
    const metadata = { format: 'pt', note: 'héllo "quoted" ✓' };
    const { file, tensors, metadata: meta } = await roundTrip(input, metadata);
    expect(meta).toEqual(metadata);
    const n = headerLength(file);
    const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n))) as Record<string, { data_offsets: number[] }>;
    expect(Object.keys(header)).toEqual(['__metadata__', 'a', 'b', 'c', 'd']);
    expect(header.b.data_offsets).toEqual([3, 11]); // float32 right after 3 bool bytes
    expect(await tensors.a.array()).toEqual([true, false, true]);
    expect(await tensors.b.array()).toEqual([-1.25, 8]);
    expect(await tensors.c.array()).toEqual([1, 2, 3]);
    expect(await tensors.d.array()).toEqual([[-5, 6]]);
    disposeAll(input);
    disposeAll(tensors);
  });

  it('writes strided views in row-major order', async () => {
    const m = fromArray([1, 2, 3, 4, 5, 6], [2, 3], { dtype: 'float32' });
    const t = m.T;
    const { tensors } = await roundTrip({ t });
    expect(await tensors.t.array()).toEqual([[1, 4], [2, 5], [3, 6]]);
    m.dispose();
    t.dispose();
    disposeAll(tensors);
  });

  it('pads the header with spaces so data starts 8-byte aligned', async () => {
    for (const name of ['a', 'ab', 'abc', 'weight.long_name', 'x'.repeat(13)]) {
      const t = fromArray([1], [1], { dtype: 'float32' });
      const file = await serializeSafetensors({ [name]: t }, { k: 'v'.repeat(name.length) });
      const n = headerLength(file);
      expect((8 + n) % 8).toBe(0);
      const text = new TextDecoder().decode(file.subarray(8, 8 + n));
      expect(text.slice(text.lastIndexOf('}') + 1)).toMatch(/^ {0,7}$/);
      t.dispose();
    }
  });

  it('matches a hand-written file byte for byte', async () => {
    // header: 54 bytes of JSON + 2 spaces = 56 (0x38), so data starts at 64
    const headerText = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}  ';
    expect(headerText.length).toBe(56);
    const expected = new Uint8Array([
      0x38, 0, 0, 0, 0, 0, 0, 0,
      ...[...headerText].map((c) => c.charCodeAt(0)),
      0x00, 0x00, 0x80, 0x3f, // 1.0f
      0x00, 0x00, 0x00, 0xc0, // -2.0f
    ]);
    const parsed = parseSafetensors(expected);
    expect(parsed.metadata).toEqual({});
    expect(parsed.tensors.a.dtype).toBe('float32');
    expect(parsed.tensors.a.shape).toEqual([2]);
    expect(await parsed.tensors.a.array()).toEqual([1, -2]);
    disposeAll(parsed.tensors);

    const a = fromArray([1, -2], [2], { dtype: 'float32' });
    expect([...(await serializeSafetensors({ a }))]).toEqual([...expected]);
    a.dispose();
  });

  it('reads from an unaligned view into a larger buffer (e.g. a Node Buffer slice)', async () => {
    const a = fromArray([0.5, -7, 1e10], [3], { dtype: 'float64' });
    const file = await serializeSafetensors({ a });
    const big = new Uint8Array(file.length + 3);
    big.set(file, 3);
    const { tensors } = parseSafetensors(big.subarray(3));
    expect(await tensors.a.array()).toEqual([0.5, -7, 1e10]);
    const fromBuffer = parseSafetensors(Buffer.from(file));
    expect(await fromBuffer.tensors.a.array()).toEqual([0.5, -7, 1e10]);
    a.dispose();
    disposeAll(tensors);
    disposeAll(fromBuffer.tensors);
  });

  it("keeps a tensor named '__proto__' as an ordinary entry", async () => {
    const t = fromArray([4], [1], { dtype: 'int32' });
    const input: Record<string, Tensor> = Object.fromEntries([['__proto__', t]]);
    const { tensors } = await roundTrip(input);
    expect(Object.keys(tensors)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(tensors)).toBe(Object.prototype);
    t.dispose();
    disposeAll(tensors);
  });

  it('reads any non-zero BOOL byte as true', async () => {
    const { tensors } = parseSafetensors(build({ m: entry('BOOL', [3], 0, 3) }, new Uint8Array([0, 2, 255])));
    expect(await tensors.m.array()).toEqual([false, true, true]);
    disposeAll(tensors);
  });

  it('creates tensors on the requested backend', () => {
    const { tensors } = parseSafetensors(build({ a: entry('I32', [1], 0, 4) }, 4), { backend: 'cpu' });
    expect(tensors.a.backend.name).toBe('cpu');
    disposeAll(tensors);
  });
});

describe('safetensors serialization errors', () => {
  it('rejects non-string metadata values', async () => {
    const a = fromArray([1], [1], { dtype: 'float32' });
    const bad = { n: 3 } as unknown as Record<string, string>;
    await expect(serializeSafetensors({ a }, bad)).rejects.toThrow(/^safetensors: metadata value for key 'n' must be a string, got number/);
    a.dispose();
  });

  it('rejects non-tensors and the reserved name', async () => {
    const a = fromArray([1], [1], { dtype: 'float32' });
    await expect(serializeSafetensors({ x: 5 } as unknown as Record<string, Tensor>)).rejects.toThrow(/^safetensors: value for 'x' is not a Tensor/);
    await expect(serializeSafetensors({ __metadata__: a })).rejects.toThrow(SafetensorsError);
    a.dispose();
  });
});

describe('safetensors parse validation', () => {
  const f32 = (shape: number[], begin: number, end: number) => entry('F32', shape, begin, end);

  const cases: [string, () => Uint8Array, RegExp][] = [
    ['file shorter than 8 bytes', () => new Uint8Array(5), /^safetensors: file is 5 bytes, too short/],
    ['header length larger than file', () => build('{}', 8, 1000n), /^safetensors: header length 1000 is larger than the file allows \(10 bytes/],
    ['header length 2^40', () => build('{}', 0, 2n ** 40n), /^safetensors: header length 1099511627776 exceeds the 100000000-byte limit/],
    ['header length 2^64 - 1', () => build('{}', 0, 2n ** 64n - 1n), /exceeds the 100000000-byte limit/],
    ['header over 100 MB', () => build('{}', 0, 100_000_001n), /^safetensors: header length 100000001 exceeds the 100000000-byte limit/],
    ['invalid UTF-8', () => build('{}', new Uint8Array(0), 2n).map((b, i) => (i >= 8 ? 0xff : b)), /^safetensors: header is not valid UTF-8/],
    ['invalid JSON', () => build('{"a": '), /^safetensors: header is not valid JSON/],
    ['empty header', () => build(''), /^safetensors: header is not valid JSON/],
    ['header is an array', () => build('[1,2]'), /^safetensors: header must be a JSON object/],
    ['header is null', () => build('null'), /^safetensors: header must be a JSON object/],
    ['entry not an object', () => build({ w: 5 }), /^safetensors: tensor 'w' must be an object with dtype, shape and data_offsets/],
    ['missing dtype', () => build({ w: { shape: [1], data_offsets: [0, 4] } }, 4), /^safetensors: tensor 'w' is missing a string 'dtype'/],
    ['non-string dtype', () => build({ w: { dtype: 1, shape: [1], data_offsets: [0, 4] } }, 4), /^safetensors: tensor 'w' is missing a string 'dtype'/],
    ['missing shape', () => build({ w: { dtype: 'F32', data_offsets: [0, 4] } }, 4), /^safetensors: tensor 'w' has invalid shape undefined/],
    ['negative dim', () => build({ w: f32([-1], 0, 4) }, 4), /^safetensors: tensor 'w' has invalid shape \[-1\] \(expected an array of non-negative integers\)/],
    ['fractional dim', () => build({ w: f32([1.5], 0, 4) }, 4), /^safetensors: tensor 'w' has invalid shape \[1.5\]/],
    ['string dim', () => build({ w: f32(['1'] as unknown as number[], 0, 4) }, 4), /^safetensors: tensor 'w' has invalid shape \["1"\]/],
    ['missing data_offsets', () => build({ w: { dtype: 'F32', shape: [1] } }, 4), /^safetensors: tensor 'w' has invalid data_offsets undefined/],
    ['data_offsets of length 3', () => build({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4, 8] } }, 4), /^safetensors: tensor 'w' has invalid data_offsets \[0,4,8\]/],
    ['non-integer data_offsets', () => build({ w: { dtype: 'F32', shape: [1], data_offsets: [0, '4'] } }, 4), /^safetensors: tensor 'w' has invalid data_offsets \[0,"4"\]/],
    ['end past the data buffer', () => build({ w: f32([4], 0, 16) }, 8), /^safetensors: tensor 'w' has data_offsets \[0,16\] out of range for a 8-byte data buffer/],
    ['negative begin', () => build({ w: f32([1], -4, 0) }, 4), /^safetensors: tensor 'w' has data_offsets \[-4,0\] out of range/],
    ['begin after end', () => build({ w: f32([1], 8, 4) }, 8), /^safetensors: tensor 'w' has data_offsets \[8,4\] out of range/],
    ['size mismatch', () => build({ w: f32([2, 3], 0, 20) }, 20), /^safetensors: tensor 'w' has shape \[2,3\] \(F32, 24 bytes\) but data_offsets span 20 bytes$/],
    ['overflowing shape', () => build({ w: f32([2 ** 40, 2 ** 40], 0, 4) }, 4), /^safetensors: tensor 'w' has shape .* but data_offsets span 4 bytes/],
    ['unsupported F8_E5M2', () => build({ w: entry('F8_E5M2', [2], 0, 2) }, 2), /^safetensors: tensor 'w' has unsupported dtype 'F8_E5M2' \(supported: F64, F32, F16, BF16, I64, U32, I32, I16, U16, I8, U8, BOOL\)/],
    ['unknown X9', () => build({ w: entry('X9', [2], 0, 4) }, 4), /^safetensors: tensor 'w' has unsupported dtype 'X9'/],
    ['unsupported U64', () => build({ w: entry('U64', [1], 0, 8) }, 8), /^safetensors: tensor 'w' has unsupported dtype 'U64'/],
    ['unsupported C64', () => build({ w: entry('C64', [1], 0, 8) }, 8), /^safetensors: tensor 'w' has unsupported dtype 'C64'/],
    ['inherited key as dtype', () => build({ w: entry('toString', [1], 0, 1) }, 1), /^safetensors: tensor 'w' has unsupported dtype 'toString'/],
    ['overlapping tensors', () => build({ a: f32([2], 0, 8), b: f32([2], 4, 12) }, 12), /^safetensors: tensor 'b' \[4,12\] overlaps tensor 'a' \[0,8\]/],
    ['duplicate ranges', () => build({ a: f32([2], 0, 8), b: f32([2], 0, 8) }, 8), /^safetensors: tensor 'b' \[0,8\] overlaps tensor 'a' \[0,8\]/],
    ['hole between tensors', () => build({ a: f32([1], 0, 4), b: f32([1], 8, 12) }, 12), /^safetensors: hole in data buffer: bytes \[4,8\) before tensor 'b'/],
    ['hole at the start', () => build({ a: f32([1], 4, 8) }, 8), /^safetensors: hole in data buffer: bytes \[0,4\) before tensor 'a'/],
    ['trailing bytes', () => build({ a: f32([1], 0, 4) }, 8), /^safetensors: data buffer is 8 bytes but tensors cover only \[0,4\)/],
    ['data but no tensors', () => build({}, 4), /^safetensors: data buffer is 4 bytes but tensors cover only \[0,0\)/],
    ['metadata not an object', () => build({ __metadata__: 'x' }), /^safetensors: '__metadata__' must be an object mapping strings to strings/],
    ['metadata number value', () => build({ __metadata__: { k: 1 } }), /^safetensors: '__metadata__' value for key 'k' must be a string, got number/],
    ['metadata null value', () => build({ __metadata__: { k: null } }), /^safetensors: '__metadata__' value for key 'k' must be a string, got null/],
  ];

  for (const [name, make, message] of cases) {
    it(`rejects ${name}`, () => {
      const file = make();
      const before = memory().numTensors;
      let caught: unknown;
      try {
        parseSafetensors(file);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(SafetensorsError);
      expect(caught).toBeInstanceOf(Error);
      expect(() => parseSafetensors(file)).toThrow(message);
      expect(memory().numTensors).toBe(before);
    });
  }

  it('allocates nothing when a later entry is bad, or the backend is unknown', () => {
    const before = memory();
    const file = build({ a: entry('F32', [1], 0, 4), b: entry('F32', [1], 4, 8), z: entry('F8_E4M3', [1], 8, 9) }, 9);
    expect(() => parseSafetensors(file)).toThrow(/tensor 'z' has unsupported dtype 'F8_E4M3'/);
    const good = build({ a: entry('F32', [1], 0, 4) }, 4);
    expect(() => parseSafetensors(good, { backend: 'nope' })).toThrow(/^safetensors: .*no backend named 'nope'/);
    expect(memory().numTensors).toBe(before.numTensors);
    expect(memory().numBytes).toBe(before.numBytes);
  });

  it('accepts a header padded with spaces and no __metadata__', () => {
    const { tensors, metadata } = parseSafetensors(build('{"a":{"dtype":"I32","shape":[],"data_offsets":[0,4]}}      ', new Uint8Array([255, 255, 255, 255])));
    expect(metadata).toEqual({});
    expect(tensors.a.item()).toBe(-1);
    disposeAll(tensors);
  });
});

describe('saveSafetensors / loadSafetensors', () => {
  it('round-trips through a file and replaces it atomically', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'safetensors-test-'));
    try {
      const path = join(dir, 'model.safetensors');
      const w = fromArray([1, 2, 3, 4], [2, 2], { dtype: 'float32' });
      await saveSafetensors(path, { w }, { step: '1' });
      const loaded = await loadSafetensors(path);
      expect(await loaded.tensors.w.array()).toEqual([[1, 2], [3, 4]]);
      expect(loaded.metadata).toEqual({ step: '1' });
      disposeAll(loaded.tensors);
      const original = await readFile(path);

      // overwriting with a disposed tensor fails during serialization
      const gone = fromArray([9], [1], { dtype: 'float32' });
      gone.dispose();
      await expect(saveSafetensors(path, { w, gone })).rejects.toThrow(/disposed/);
      expect(await readdir(dir)).toEqual(['model.safetensors']);
      expect(Buffer.compare(await readFile(path), original)).toBe(0);
      const again = await loadSafetensors(path);
      expect(await again.tensors.w.array()).toEqual([[1, 2], [3, 4]]);
      disposeAll(again.tensors);

      // a successful overwrite replaces the content and leaves no temp file
      const v = fromArray([7, 8], [2], { dtype: 'int32' });
      await saveSafetensors(path, { v });
      expect(await readdir(dir)).toEqual(['model.safetensors']);
      const third = await loadSafetensors(path, { backend: 'cpu' });
      expect(Object.keys(third.tensors)).toEqual(['v']);
      expect(await third.tensors.v.array()).toEqual([7, 8]);
      disposeAll(third.tensors);
      w.dispose();
      v.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fails cleanly when the target directory does not exist', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'safetensors-test-'));
    try {
      const w = fromArray([1], [1], { dtype: 'float32' });
      await expect(saveSafetensors(join(dir, 'missing', 'x.safetensors'), { w })).rejects.toThrow(/ENOENT/);
      expect(await readdir(dir)).toEqual([]);
      w.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
