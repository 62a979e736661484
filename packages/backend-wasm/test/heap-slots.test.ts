import { type TypedArray } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { WasmHeap } from '../src/heap.js';

// The heap's bookkeeping by address (a slot per address, holding the taken block's size and
// the idle array given back there) checked against a plain model of the blocks: a random
// sequence of arrays and work blocks taken and given back, then the cap on idle arrays.

const PAGE = 65536;
const sharedMemory = (pages: number) => new WebAssembly.Memory({ initial: 1, maximum: pages, shared: true });

/** The bytes a block of `bytes` takes: 16-byte steps and 16 bytes of slack (heap.ts). */
const blockBytes = (bytes: number) => ((bytes + 15) & ~15) + 16;

/** A seeded generator of integers in [0, n) (an LCG: enough to vary the sequence). */
function lcg(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.floor((s / 2 ** 32) * n);
  };
}

describe('WasmHeap slots', () => {
  for (const seed of [1, 2, 3]) {
    it(`agrees with a model of its blocks over random takes and give-backs (seed ${seed})`, () => {
      const h = new WasmHeap(sharedMemory(64), 64 * PAGE);
      const rand = lcg(seed);
      const arrays: TypedArray[] = [];
      const given: TypedArray[] = [];
      const work: { at: number; bytes: number }[] = [];
      let handedOut = 0;
      let reused = 0;
      for (let step = 0; step < 3000; step++) {
        const r = rand(10);
        if (r < 4) {
          // a few lengths only, so given-back blocks and idle arrays come back often
          const dtype = rand(4) === 0 ? 'int32' : 'float32';
          const n = [1, 3, 4, 100, 1000][rand(5)];
          const a = h.array(dtype, n) as TypedArray;
          expect(a).toBeInstanceOf(dtype === 'int32' ? Int32Array : Float32Array);
          expect(a.length).toBe(n);
          if (given.includes(a)) reused++;
          handedOut++;
          a.fill(arrays.length + 1);
          arrays.push(a);
        } else if (r < 7 && arrays.length > 0) {
          const [a] = arrays.splice(rand(arrays.length), 1);
          expect(h.freeArray(a)).toBe(true);
          expect(h.freeArray(a)).toBe(false); // given back already
          given.push(a);
        } else if (r < 8) {
          const bytes = [16, 400, 4000][rand(3)];
          work.push({ at: h.alloc(bytes), bytes });
        } else if (work.length > 0) {
          const [w] = work.splice(rand(work.length), 1);
          expect(h.free(w.at)).toBe(true);
          expect(h.free(w.at)).toBe(false);
        }
        // the live blocks and bytes are the model's, and no two taken blocks overlap
        const blocks = [
          ...arrays.map((a) => ({ at: a.byteOffset, size: blockBytes(a.byteLength) })),
          ...work.map((w) => ({ at: w.at, size: blockBytes(w.bytes) })),
        ].sort((x, y) => x.at - y.at);
        let disjoint = true;
        for (let i = 1; i < blocks.length; i++) disjoint &&= blocks[i].at >= blocks[i - 1].at + blocks[i - 1].size;
        const info = h.info();
        const agrees = disjoint && info.liveBlocks === blocks.length && info.liveBytes === blocks.reduce((s, b) => s + b.size, 0);
        if (!agrees) expect({ step, disjoint, info }).toEqual({ step, disjoint: true, info: { ...info, liveBlocks: blocks.length } });
      }
      // every live array still holds what was written into it (no block was handed out twice)
      arrays.forEach((a) => expect(a.every((v) => v === a[0])).toBe(true));
      expect(handedOut).toBeGreaterThan(1000);
      expect(reused).toBeGreaterThan(100); // the idle path ran
      for (const a of arrays) expect(h.freeArray(a)).toBe(true);
      for (const w of work) expect(h.free(w.at)).toBe(true);
      expect(h.info()).toMatchObject({ liveBytes: 0, freeBytes: 0, liveBlocks: 0 });
    });
  }

  it('keeps at most 4096 idle arrays, those given back last, and hands out right views past the cap', () => {
    const h = new WasmHeap(sharedMemory(64), 64 * PAGE);
    const n = 5000;
    const arrays = Array.from({ length: n }, () => h.array('float32', 4) as Float32Array);
    const top = h.array('float32', 4) as Float32Array; // keeps the blocks below off the top
    for (const a of arrays) h.freeArray(a);
    expect(h.info().liveBlocks).toBe(1);
    // the free list hands the blocks back last given first: the newest idle arrays come back as themselves
    const again = Array.from({ length: n }, () => h.array('float32', 4) as Float32Array);
    const same = again.filter((a, i) => a === arrays[n - 1 - i]).length;
    expect(again.slice(0, 100).every((a, i) => a === arrays[n - 1 - i])).toBe(true);
    expect(same).toBeGreaterThanOrEqual(2048);
    expect(same).toBeLessThanOrEqual(4096);
    // every one a view of its own block, of the right length
    expect(new Set(again.map((a) => a.byteOffset)).size).toBe(n);
    expect(again.every((a) => a.length === 4 && a.byteOffset % 16 === 0)).toBe(true);
    for (const a of [...again, top]) expect(h.freeArray(a)).toBe(true);
    expect(h.info()).toMatchObject({ liveBytes: 0, freeBytes: 0, liveBlocks: 0 });
  });
});
