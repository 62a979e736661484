import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { encodeIdx, IdxError, parseIdx, readIdx } from '../src/node.js';
import { expectClose, values } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'ml-data-idx-'));

// A 2×3 uint8 file written byte by byte: magic 00 00 08 02, dims 2 and 3 (big-endian), values 1..6.
const tiny = Uint8Array.from([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]);

describe('readIdx', () => {
  it('reads a hand-built uint8 file: shape, values, tensor', async () => {
    const a = await readIdx(tiny);
    expect(a.shape).toEqual([2, 3]);
    expect(a.dtype).toBe('uint8');
    expect(Array.from(a.data)).toEqual([1, 2, 3, 4, 5, 6]);
    const t = a.toTensor();
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe('int32');
    expect(values(t)).toEqual([1, 2, 3, 4, 5, 6]);
    const scaled = a.toTensor({ scale: 1 / 2 });
    expect(scaled.dtype).toBe('float32');
    expect(values(scaled)).toEqual([0.5, 1, 1.5, 2, 2.5, 3]);
  });

  it('reads big-endian int16, int32, float32 and float64 values', () => {
    // int16 0x0102 = 258 and 0xfffe = −2
    expect(Array.from(parseIdx(Uint8Array.from([0, 0, 0x0b, 1, 0, 0, 0, 2, 0x01, 0x02, 0xff, 0xfe])).data)).toEqual([258, -2]);
    // int32 0xffffffff = −1, 0x00010000 = 65536
    expect(Array.from(parseIdx(Uint8Array.from([0, 0, 0x0c, 1, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff, 0, 1, 0, 0])).data)).toEqual([-1, 65536]);
    // float32 0x3fc00000 = 1.5, 0xc0000000 = −2
    expect(Array.from(parseIdx(Uint8Array.from([0, 0, 0x0d, 1, 0, 0, 0, 2, 0x3f, 0xc0, 0, 0, 0xc0, 0, 0, 0])).data)).toEqual([1.5, -2]);
    // float64 0x3fd0000000000000 = 0.25
    const f64 = parseIdx(Uint8Array.from([0, 0, 0x0e, 1, 0, 0, 0, 1, 0x3f, 0xd0, 0, 0, 0, 0, 0, 0]));
    expect(Array.from(f64.data)).toEqual([0.25]);
    expect(f64.toTensor().dtype).toBe('float64');
    // int8 0x80 = −128
    expect(Array.from(parseIdx(Uint8Array.from([0, 0, 0x09, 1, 0, 0, 0, 1, 0x80])).data)).toEqual([-128]);
  });

  it('toTensor converts into the asked dtype: bool as nonzero, int8 scaled, float64 rounded to float32', () => {
    const int8 = parseIdx(Uint8Array.from([0, 0, 0x09, 1, 0, 0, 0, 3, 0x80, 0, 2]));
    expect(int8.toTensor({ dtype: 'bool' }).dtype).toBe('bool');
    expect(values(int8.toTensor({ dtype: 'bool' }))).toEqual([1, 0, 1]);
    expect(values(int8.toTensor({ scale: 0.5 }))).toEqual([-64, 0, 1]);
    expect(values(int8.toTensor())).toEqual([-128, 0, 2]);
    const f64 = parseIdx(Uint8Array.from([0, 0, 0x0e, 1, 0, 0, 0, 1, 0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a])); // 0.1
    const f32 = f64.toTensor({ dtype: 'float32' });
    expect([f32.dtype, values(f32)]).toEqual(['float32', [Math.fround(0.1)]]);
  });

  it('copies the values unless told not to (copy: false: a view of the input bytes)', () => {
    const bytes = Uint8Array.from([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 8, 9]);
    const copied = parseIdx(bytes);
    const viewed = parseIdx(bytes, { copy: false });
    expect([Array.from(copied.data), Array.from(viewed.data)]).toEqual([[7, 8, 9], [7, 8, 9]]);
    bytes[8] = 70;
    expect([copied.data[0], viewed.data[0]]).toEqual([7, 70]);
    const signed = parseIdx(Uint8Array.from([0, 0, 0x09, 1, 0, 0, 0, 1, 0xff]), { copy: false });
    expect(Array.from(signed.data)).toEqual([-1]);
  });

  it('encodeIdx writes the same bytes and round-trips every type', () => {
    expect(Array.from(encodeIdx([1, 2, 3, 4, 5, 6], [2, 3]))).toEqual(Array.from(tiny));
    for (const dtype of ['uint8', 'int8', 'int16', 'int32', 'float32', 'float64'] as const) {
      const data = dtype === 'uint8' ? [0, 7, 255] : dtype.startsWith('float') ? [-1.5, 0, 3.25] : [-100, 0, 100];
      const back = parseIdx(encodeIdx(data, [3, 1], dtype));
      expect(back.shape).toEqual([3, 1]);
      expect(back.dtype).toBe(dtype);
      expectClose(back.data, data);
    }
  });

  it('reads gzip files transparently', async () => {
    const path = join(tmp, 'tiny-idx1-ubyte.gz');
    writeFileSync(path, gzipSync(tiny));
    const a = await readIdx(path);
    expect(a.shape).toEqual([2, 3]);
    expect(Array.from(a.data)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('rejects a truncated file, naming the file and the expected and actual byte counts', async () => {
    const path = join(tmp, 'truncated-idx');
    writeFileSync(path, tiny.subarray(0, 17));
    await expect(readIdx(path)).rejects.toThrow(IdxError);
    await expect(readIdx(path)).rejects.toThrow(`${path}: expected 18 bytes (12-byte header + 2×3 uint8 values of 1 byte), got 17 (truncated: 1 byte missing)`);
    expect(() => parseIdx(Uint8Array.from([...tiny, 0]))).toThrow(/expected 18 bytes .*got 19 \(1 byte too long\)/);
    expect(() => parseIdx(tiny.subarray(0, 10))).toThrow(/truncated header: 2 dims need 12 header bytes, the file has 10/);
  });

  it('rejects a damaged gzip stream', () => {
    const gz = gzipSync(tiny);
    expect(() => parseIdx(gz.subarray(0, gz.length - 6), { name: 'cut.gz' })).toThrow(/^cut\.gz: the gzip data is damaged/);
  });

  it('rejects a bad magic number and an unsupported type code', () => {
    expect(() => parseIdx(Uint8Array.from([1, 0, 0x08, 1, 0, 0, 0, 0]), { name: 'x' })).toThrow(/^x: not an IDX file: the magic number starts 0x01 0x00, expected 0x00 0x00/);
    expect(() => parseIdx(Uint8Array.from([0, 0, 0x0a, 1, 0, 0, 0, 0]))).toThrow(/unsupported IDX data type code 0x0a \(supported: 0x08 uint8, 0x09 int8, 0x0b int16, 0x0c int32, 0x0d float32, 0x0e float64\)/);
  });

  it('checks an expected MD5 or SHA-256 and rejects a mismatch', async () => {
    const md5 = createHash('md5').update(tiny).digest('hex');
    const sha = createHash('sha256').update(tiny).digest('hex');
    expect((await readIdx(tiny, { expectedMd5: md5.toUpperCase(), expectedSha256: sha })).shape).toEqual([2, 3]);
    const changed = Uint8Array.from(tiny);
    changed[17] = 7;
    await expect(readIdx(changed, { expectedMd5: md5, name: 'c.idx' })).rejects.toThrow(`c.idx: md5 is ${createHash('md5').update(changed).digest('hex')}, expected ${md5}`);
    await expect(readIdx(changed, { expectedSha256: sha })).rejects.toThrow(/sha256 is [0-9a-f]{64}, expected/);
  });

  it('names a file it cannot read', async () => {
    await expect(readIdx(join(tmp, 'nope'))).rejects.toThrow(/nope: cannot read the file/);
  });
});

/** gzip members of 1 MiB of zeros each, after a member holding `head`: a bomb of `mib` MiB */
function bomb(head: Uint8Array, mib: number): Uint8Array {
  const zeros = gzipSync(new Uint8Array(1 << 20), { level: 9 });
  const parts = [gzipSync(head), ...Array.from({ length: mib }, () => zeros)];
  return Uint8Array.from(Buffer.concat(parts));
}

describe('readIdx on a gzip bomb', () => {
  it('stops unpacking at the size the header promises, naming the file', () => {
    // header: uint8 [16], then 1 GiB of zeros in 1 MiB members (about 1 MB of gzip)
    const gz = bomb(Uint8Array.from([0, 0, 0x08, 1, 0, 0, 0, 16]), 1024);
    expect(gz.length).toBeLessThan(1_200_000);
    const rss0 = process.resourceUsage().maxRSS;
    const t0 = performance.now();
    expect(() => parseIdx(gz, { name: 'bomb-idx1-ubyte.gz' })).toThrow(IdxError);
    expect(() => parseIdx(gz, { name: 'bomb-idx1-ubyte.gz' })).toThrow(
      /^bomb-idx1-ubyte\.gz: the gzip data unpacks to more than the 24 bytes its header promises \(8-byte header \+ 16 uint8 values of 1 byte\); the file is corrupt or not an IDX file$/,
    );
    // unpacking it whole took 1 GiB and about a second
    expect(performance.now() - t0).toBeLessThan(1000);
    expect((process.resourceUsage().maxRSS - rss0) / 1024).toBeLessThan(100);
  });

  it('refuses a header promising more than a buffer can hold before unpacking anything', () => {
    // uint8 [2^32-1, 2^32-1, 2^32-1]
    const gz = bomb(Uint8Array.from([0, 0, 0x08, 3, ...new Array<number>(12).fill(0xff)]), 4);
    expect(() => parseIdx(gz, { name: 'huge.gz' })).toThrow(/^huge\.gz: the header promises 4294967295×4294967295×4294967295 uint8 values \([\d.e+]+ bytes\), more than can be held in memory$/);
  });

  it('still reads gzip files whose header or data is split across members or comes late', () => {
    const data = encodeIdx(Array.from({ length: 3000 }, (_, i) => i % 251), [3, 1000]);
    const split = Buffer.concat([gzipSync(data.subarray(0, 2)), gzipSync(data.subarray(2, 9)), gzipSync(data.subarray(9))]);
    expect(Array.from(parseIdx(split).data)).toEqual(Array.from(data.subarray(12)));
    const stored = gzipSync(data, { level: 0 });
    expect(parseIdx(stored).shape).toEqual([3, 1000]);
    // a damaged stream is still reported as such, and a gzip file with a bad magic number as that
    expect(() => parseIdx(gzipSync(Uint8Array.from([1, 2, 3, 4, 5])), { name: 'm.gz' })).toThrow(/^m\.gz: not an IDX file: the magic number starts 0x01 0x02/);
    expect(() => parseIdx(gzipSync(Uint8Array.from([0, 0]))) ).toThrow(/2 bytes is too short for an IDX header/);
  });
});
