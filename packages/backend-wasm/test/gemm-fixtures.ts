// What the product tests share: seeded operands, blocks of the module memory, and a
// WasmGemm on n threads for a describe block.
import { afterAll, beforeAll } from 'vitest';
import { WasmGemm } from '../src/gemm.js';

/** n floats in [−1, 1) from a linear congruential sequence started at `seed`. */
export function seededFloats(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 30 - 1;
  });
}

/** n floats of the module memory, as the backend's tensors hold them. */
export function memoryFloats(g: WasmGemm, n: number): Float32Array {
  const a = g.heap.array('float32', n);
  if (!(a instanceof Float32Array)) throw new Error('the memory is full, or not shared');
  return a;
}

/** A WasmGemm on `threads` threads, started before the block's tests and closed after them. */
export function gemmOn(threads: number): { readonly g: WasmGemm } {
  const holder: { g: WasmGemm } = { g: undefined as unknown as WasmGemm };
  beforeAll(async () => {
    holder.g = new WasmGemm({ threads });
    await holder.g.whenReady();
  });
  afterAll(async () => {
    await holder.g.close();
  });
  return holder;
}
