import { gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeIdx, IdxError, parseIdx } from '../src/node.js';
import { fuzzSettings } from './fuzz.js';

// The gzip path of parseIdx (header first, then the rest capped at the header's size) on
// mutated gzip streams: each reads (the same values as unpacked whole) or throws an IdxError.

const idxBytes = fc
  .tuple(fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 0, maxLength: 3 }), fc.constantFrom('uint8', 'int16', 'float32') as fc.Arbitrary<'uint8' | 'int16' | 'float32'>)
  .map(([shape, dtype]) => encodeIdx(new Array<number>(shape.reduce((a, b) => a * b, 1)).fill(1), shape, dtype));

const edit = fc.tuple(fc.constantFrom('flip', 'cut', 'append', 'zeros'), fc.nat(), fc.integer({ min: 0, max: 255 }));

const gz = fc.tuple(idxBytes, fc.integer({ min: 0, max: 9 }), fc.array(edit, { maxLength: 3 }), fc.integer({ min: 1, max: 3 })).map(([raw, level, edits, members]) => {
  // split into gzip members, then damage
  const cut = Math.floor(raw.length / members);
  const parts = Array.from({ length: members }, (_, i) => gzipSync(raw.subarray(i * cut, i === members - 1 ? raw.length : (i + 1) * cut), { level }));
  let b = Uint8Array.from(Buffer.concat(parts));
  for (const [op, at, byte] of edits) {
    const i = at % (b.length + 1);
    if (op === 'flip' && i < b.length) b[i] ^= byte || 1;
    else if (op === 'cut') b = b.subarray(0, Math.max(2, i));
    else if (op === 'append') b = Uint8Array.from([...b, byte]);
    else if (op === 'zeros') b = Uint8Array.from(Buffer.concat([b, gzipSync(new Uint8Array(byte * 1024))]));
  }
  return { raw, bytes: b };
});

describe('parseIdx fuzz (gzip)', () => {
  it('reads or refuses with an IdxError 3,000 damaged gzip IDX files', () => {
    let rejected = 0;
    fc.assert(
      fc.property(gz, ({ bytes }) => {
        let whole: Uint8Array | null;
        try {
          whole = Uint8Array.from(gunzipSync(bytes));
        } catch {
          whole = null;
        }
        try {
          const a = parseIdx(bytes, { name: 'f.gz' });
          // what reads is what a plain gunzip gives
          expect(whole).not.toBeNull();
          expect(Array.from(parseIdx(whole!).data)).toEqual(Array.from(a.data));
        } catch (e) {
          rejected++;
          if (!(e instanceof IdxError)) throw e;
          expect(e.message.startsWith('f.gz: ')).toBe(true);
        }
      }),
      fuzzSettings(3000),
    );
    expect(rejected).toBeGreaterThan(0);
  });
});
