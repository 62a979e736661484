import { mkdtempSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SafetensorsError, memory, parseSafetensors, parseSafetensorsHeader, readSafetensorsHeader, serializeSafetensors, tensor } from '../src/node.js';

/** A file whose header declares `shape` F32 for 'w', with the length prefix and header only. */
function headerOnly(shape: number[]): Uint8Array {
  const bytes = shape.reduce((a, d) => a * d, 1) * 4;
  const json = new TextEncoder().encode(JSON.stringify({ w: { dtype: 'F32', shape, data_offsets: [0, bytes] } }));
  const out = new Uint8Array(8 + json.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

describe('safetensors header-only reading', () => {
  it('parseSafetensorsHeader gives names, dtypes, shapes, offsets and element counts, allocating no tensor', async () => {
    const file = await serializeSafetensors({ b: tensor([1, 2, 3], { dtype: 'int32' }), a: tensor([[1, 2], [3, 4]]) }, { k: 'v' });
    const before = memory().numTensors;
    const h = parseSafetensorsHeader(file);
    expect(memory().numTensors).toBe(before);
    expect(h.entries).toEqual([
      { name: 'a', dtype: 'float32', fileDtype: 'F32', shape: [2, 2], dataOffsets: [0, 16] },
      { name: 'b', dtype: 'int32', fileDtype: 'I32', shape: [3], dataOffsets: [16, 28] },
    ]);
    expect(h.metadata).toEqual({ k: 'v' });
    expect(h.numElements).toBe(7);
    expect(h.headerBytes + h.dataBytes).toBe(file.length);
    // the full parser agrees
    expect(Object.keys(parseSafetensors(file).tensors).sort()).toEqual(['a', 'b']);
  });

  it('checks the layout against a declared file size when given only the header bytes', () => {
    const head = headerOnly([1000, 1000]);
    expect(parseSafetensorsHeader(head, { fileSize: head.length + 4_000_000 }).numElements).toBe(1_000_000);
    expect(() => parseSafetensorsHeader(head)).toThrow(SafetensorsError);
    expect(() => parseSafetensorsHeader(head, { fileSize: head.length + 8 })).toThrow(/out of range for a 8-byte data buffer/);
  });

  it('readSafetensorsHeader reads only the header of a 4 GB file', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'ml-st-header-')), 'big.safetensors');
    const head = headerOnly([1 << 15, 1 << 15]);
    writeFileSync(path, head);
    truncateSync(path, head.length + 4 * 2 ** 30); // sparse: no data is written or read
    const t0 = performance.now();
    const h = await readSafetensorsHeader(path);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(h.entries[0].shape).toEqual([32768, 32768]);
    expect(h.numElements).toBe(2 ** 30);
  });

  it('readSafetensorsHeader rejects a header length past the file without allocating it', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'ml-st-header-')), 'bad.safetensors');
    const out = new Uint8Array(16);
    new DataView(out.buffer).setBigUint64(0, 99_999_999n, true);
    writeFileSync(path, out);
    await expect(readSafetensorsHeader(path)).rejects.toThrow(/^safetensors: header length 99999999 is larger than the file allows \(8 bytes/);
  });
});
