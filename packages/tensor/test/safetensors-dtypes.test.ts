import { describe, expect, it } from 'vitest';
import { parseSafetensors, parseSafetensorsHeader, SafetensorsError, serializeSafetensors, tensor } from '../src/index.js';

/** A safetensors file holding one tensor `x` of `dtype` with these raw little-endian bytes (the header padded to 8 bytes). */
function file(dtype: string, shape: number[], data: Uint8Array, extra: Record<string, unknown> = {}): Uint8Array {
  let json = new TextEncoder().encode(JSON.stringify({ ...extra, x: { dtype, shape, data_offsets: [0, data.length] } }));
  const padded = Math.ceil(json.length / 8) * 8;
  const p = new Uint8Array(padded).fill(0x20);
  p.set(json);
  json = p;
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const u16 = (...v: number[]) => new Uint8Array(Uint16Array.from(v).buffer);
const i64 = (...v: bigint[]) => new Uint8Array(BigInt64Array.from(v).buffer);
const load = (bytes: Uint8Array) => parseSafetensors(bytes).tensors.x;

describe('safetensors dtypes PyTorch writes', () => {
  it('F16 widens to float32 exactly: normals, the largest (65504), the smallest normal (2^-14) and subnormal (2^-24), ±0, ±∞, NaN', async () => {
    const t = load(file('F16', [10], u16(0x3c00, 0xc000, 0x3800, 0x7bff, 0x0400, 0x0001, 0x8000, 0x7c00, 0xfc00, 0x7e00)));
    expect(t.dtype).toBe('float32');
    const v = Array.from(await t.data());
    expect(v.slice(0, 6)).toEqual([1, -2, 0.5, 65504, 2 ** -14, 2 ** -24]);
    expect(Object.is(v[6], -0)).toBe(true);
    expect(v.slice(7, 9)).toEqual([Infinity, -Infinity]);
    expect(Number.isNaN(v[9])).toBe(true);
  });

  it('BF16 widens to float32 exactly (the top 16 bits of a float32)', async () => {
    const t = load(file('BF16', [2, 2], u16(0x3f80, 0xc020, 0x4049, 0x7f80)));
    expect([t.dtype, t.shape]).toEqual(['float32', [2, 2]]);
    expect(Array.from(await t.data())).toEqual([1, -2.5, 3.140625, Infinity]);
  });

  it('I64 loads as int32 when every value fits; one that does not is refused naming the tensor, the value and its index', async () => {
    const t = load(file('I64', [4], i64(0n, -1n, 2147483647n, -2147483648n)));
    expect(t.dtype).toBe('int32');
    expect(Array.from(await t.data())).toEqual([0, -1, 2147483647, -2147483648]);
    expect(() => load(file('I64', [3], i64(1n, 2n, 9007199254740993n)))).toThrow(
      new SafetensorsError("tensor 'x' (I64) holds 9007199254740993 at element 2, outside int32's range [-2147483648, 2147483647]; it cannot load as int32"),
    );
    expect(() => load(file('I64', [1], i64(2147483648n)))).toThrow(/holds 2147483648 at element 0/);
  });

  it('the small and unsigned integers load as int32 (U32 checked to fit)', async () => {
    expect(Array.from(await load(file('U8', [2], Uint8Array.of(0, 255))).data())).toEqual([0, 255]);
    expect(Array.from(await load(file('I8', [2], Uint8Array.of(0x80, 0x7f))).data())).toEqual([-128, 127]);
    expect(Array.from(await load(file('I16', [2], u16(0x8000, 0x7fff))).data())).toEqual([-32768, 32767]);
    expect(Array.from(await load(file('U16', [1], u16(0xffff))).data())).toEqual([65535]);
    expect(Array.from(await load(file('U32', [1], new Uint8Array(Uint32Array.of(7).buffer))).data())).toEqual([7]);
    expect(() => load(file('U32', [1], new Uint8Array(Uint32Array.of(4294967295).buffer)))).toThrow(/\(U32\) holds 4294967295 at element 0/);
  });

  it('the header reports the file dtype, the dtype it loads as, and counts elements by the file dtype', () => {
    const h = parseSafetensorsHeader(file('F16', [3], u16(1, 2, 3)));
    expect(h.entries[0]).toMatchObject({ name: 'x', dtype: 'float32', fileDtype: 'F16', shape: [3], dataOffsets: [0, 6] });
    expect(h.numElements).toBe(3);
    // a span that does not match the F16 element size is refused
    expect(() => parseSafetensorsHeader(file('F16', [4], u16(1, 2, 3)))).toThrow(/shape \[4\] \(F16, 8 bytes\) but data_offsets span 6 bytes/);
    expect(() => parseSafetensorsHeader(file('F8_E4M3', [1], Uint8Array.of(1)))).toThrow(/unsupported dtype 'F8_E4M3' \(supported: F64, F32, F16, BF16, I64, U32, I32, I16, U16, I8, U8, BOOL\)/);
  });

  it("writes int32 tensors as I64 when asked (PyTorch's num_batches_tracked), all or by name, and reads them back as int32", async () => {
    const tensors = { 'bn.num_batches_tracked': tensor(7, { dtype: 'int32' }), idx: tensor([-3, 2 ** 31 - 1], { dtype: 'int32' }), w: tensor([0.5]) };
    const some = await serializeSafetensors(tensors, undefined, { int64: ['bn.num_batches_tracked'] });
    const h = parseSafetensorsHeader(some);
    expect(Object.fromEntries(h.entries.map((e) => [e.name, e.fileDtype]))).toEqual({ 'bn.num_batches_tracked': 'I64', idx: 'I32', w: 'F32' });
    const all = await serializeSafetensors(tensors, undefined, { int64: true });
    expect(parseSafetensorsHeader(all).entries.map((e) => e.fileDtype)).toEqual(['I64', 'I64', 'F32']);
    const back = parseSafetensors(all).tensors;
    expect(back['bn.num_batches_tracked'].dtype).toBe('int32');
    expect(Array.from(await back.idx.data())).toEqual([-3, 2 ** 31 - 1]);
    // the I64 bytes are the sign-extended values
    const data = all.subarray(parseSafetensorsHeader(all).headerBytes);
    const view = new DataView(data.buffer, data.byteOffset);
    expect([view.getBigInt64(8, true), view.getBigInt64(16, true)]).toEqual([-3n, 2147483647n]);
    await expect(serializeSafetensors(tensors, undefined, { int64: ['w'] })).rejects.toThrow(/int64 names 'w', which is not an int32 tensor of this file/);
  });
});
