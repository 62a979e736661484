import { add, div, exp, getBackend, memory, mul, relu, setBackend, sub, tensor, tidy, type Tensor } from '@ml/tensor';
import { hostData } from '@ml/tensor/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeapAllocator } from '../src/heap-allocator.js';
import { WasmHeap } from '../src/heap.js';
import { registerWasmBackend } from '../src/index.js';

// The small-op paths: array views reused from given-back blocks, binary ops written
// straight into the memory, primitives' scopes with nothing to give back, and no thread
// hand-off for work this small.

const PAGE = 65536;
const sharedMemory = (pages: number) => new WebAssembly.Memory({ initial: 1, maximum: pages, shared: true });
const f32 = Math.fround;

describe('WasmHeap reuses given-back array views', () => {
  it('hands a given-back array out again, as itself, for the next array of its dtype and length at its address', () => {
    const h = new WasmHeap(sharedMemory(16), 16 * PAGE);
    const a = h.array('float32', 100) as Float32Array;
    const at = a.byteOffset;
    expect(h.freeArray(a)).toBe(true);
    const b = h.array('float32', 100) as Float32Array;
    expect(b).toBe(a);
    expect(b.byteOffset).toBe(at);
    expect(h.freeArray(b)).toBe(true);
    expect(h.freeArray(b)).toBe(false); // given back already
  });

  it('another dtype or length at that address gets a view of its own, of the right type and length', () => {
    const h = new WasmHeap(sharedMemory(16), 16 * PAGE);
    const a = h.array('float32', 100) as Float32Array;
    h.freeArray(a);
    const i = h.array('int32', 100) as Int32Array; // the same bytes: the same block
    expect(i.byteOffset).toBe(a.byteOffset);
    expect(i).toBeInstanceOf(Int32Array);
    expect(i.length).toBe(100);
    h.freeArray(i);
    const shorter = h.array('float32', 99) as Float32Array; // the same block size (16-byte steps)
    expect(shorter.byteOffset).toBe(a.byteOffset);
    expect(shorter.length).toBe(99);
    expect(shorter).not.toBe(a);
  });

  it('counts blocks as before: a given-back array holds no live bytes, and a stale one frees nothing', () => {
    const h = new WasmHeap(sharedMemory(16), 16 * PAGE);
    const keep = h.array('float32', 8) as Float32Array; // below: the top never drops past it
    const a = h.array('float32', 64) as Float32Array;
    const b = h.array('float32', 64) as Float32Array;
    const live = h.info().liveBytes;
    h.freeArray(a);
    expect(h.info().liveBytes).toBeLessThan(live);
    const c = h.array('float64', 32) as Float64Array; // a's block (same bytes), a view of its own
    expect(c.byteOffset).toBe(a.byteOffset);
    expect(h.freeArray(a)).toBe(false); // a is stale: c's block stays live
    expect(h.info().liveBytes).toBe(live);
    for (const x of [b, c, keep]) expect(h.freeArray(x)).toBe(true);
    expect(h.info()).toMatchObject({ liveBytes: 0, liveBlocks: 0 });
  });

  it('a work block at an idle array\'s address does not hand that array out while the block is taken', () => {
    const h = new WasmHeap(sharedMemory(16), 16 * PAGE);
    const a = h.array('float32', 100) as Float32Array;
    const top = h.array('float32', 4) as Float32Array; // keeps a's block off the top
    h.freeArray(a);
    const work = h.alloc(400); // the same block size: a's block, as a work block
    expect(work).toBe(a.byteOffset);
    const b = h.array('float32', 100) as Float32Array;
    expect(b.byteOffset).not.toBe(work);
    h.free(work);
    h.freeArray(b);
    h.freeArray(top);
  });
});

describe('HeapAllocator scopes', () => {
  const wasm = registerWasmBackend({ name: 'wasm-scopes', threads: 1 });

  it('a primitive that took only its result gives nothing back; nested, the result joins the enclosing scope', () => {
    const alloc = new HeapAllocator(wasm.gemm);
    const heap = wasm.gemm.heap;
    const blocks = () => heap.info().liveBlocks;
    const b0 = blocks();
    const one = alloc.scoped(() => alloc.array('float32', 16), (r) => r);
    expect(heap.owns(one)).toBe(true);
    expect(blocks()).toBe(b0 + 1);
    let inner: Float32Array | null = null;
    const outer = alloc.scoped(() => {
      inner = alloc.scoped(() => alloc.array('float32', 8) as Float32Array, (r) => r);
      alloc.array('float32', 32); // a temporary of the outer primitive
      return alloc.array('float32', 4);
    }, (r) => r);
    // the outer result stays; the inner result and the temporary were the outer scope's to give back
    expect(blocks()).toBe(b0 + 2);
    expect(heap.freeArray(inner as unknown as Float32Array)).toBe(false);
    for (const a of [outer, one]) expect(heap.freeArray(a)).toBe(true);
    expect(blocks()).toBe(b0);
  });
});

describe('small elementwise ops on the wasm backend', () => {
  const wasm = registerWasmBackend({ name: 'wasm-small-ops', threads: 2 });
  let prev = 'cpu';
  beforeAll(async () => {
    await wasm.gemm.whenReady();
    prev = getBackend().name;
    setBackend(wasm.name);
  });
  afterAll(() => {
    setBackend(prev);
  });

  const xs = Array.from({ length: 64 * 128 }, (_, i) => ((i * 29) % 41) / 8 - 2.5);
  const ys = Array.from({ length: 64 * 128 }, (_, i) => ((i * 13) % 37) / 4 + 0.5);

  it('never hand [64,128] work to the thread pool (a 256 KiB relu does, as the control)', () => {
    const x = tensor(xs).reshape([64, 128]);
    const y = tensor(ys).reshape([64, 128]);
    const before = wasm.gemm.splitCalls;
    tidy(() => {
      for (const op of [add, sub, mul, div]) op(x, y);
      relu(x);
      exp(x);
      mul(x, 2);
    });
    expect(wasm.gemm.splitCalls).toBe(before);
    tidy(() => relu(tensor(new Float32Array(256 * 256).fill(-1)).reshape([256, 256])));
    expect(wasm.gemm.splitCalls).toBe(before + 1);
    x.dispose();
    y.dispose();
  });

  it('write the result into the module memory, equal to the per-element float32 results', () => {
    const x = tensor(xs).reshape([64, 128]);
    const y = tensor(ys).reshape([64, 128]);
    const ops: [string, (a: Tensor, b: Tensor) => Tensor, (a: number, b: number) => number][] = [
      ['add', add, (a, b) => a + b],
      ['sub', sub, (a, b) => a - b],
      ['mul', mul, (a, b) => a * b],
      ['div', div, (a, b) => a / b],
    ];
    for (const [name, op, f] of ops) {
      const out = op(x, y);
      const data = hostData(out) as Float32Array;
      expect(wasm.gemm.heap.owns(data), name).toBe(true);
      let wrong = 0;
      for (let i = 0; i < xs.length; i++) if (data[i] !== f32(f(f32(xs[i]), f32(ys[i])))) wrong++;
      expect(wrong, name).toBe(0);
      out.dispose();
    }
    // a bias row over the batch (b's rows: one row again) and a scalar on the left (a's rows: one value)
    const bias = tensor(ys.slice(0, 128));
    const biased = Array.from(add(x, bias).dataSync());
    expect(biased.every((v, i) => v === f32(f32(xs[i]) + f32(ys[i % 128])))).toBe(true);
    const left = Array.from(sub(3, x).dataSync());
    expect(left.every((v, i) => v === f32(3 - f32(xs[i])))).toBe(true);
    for (const t of [x, y, bias]) t.dispose();
  });

  it('give every block back when the tidy ends (z·y + y, 400 ops)', () => {
    const y = tensor(ys).reshape([64, 128]);
    const z = tensor(xs).reshape([64, 128]);
    const before = memory().backends[wasm.name].heap?.liveBlocks;
    for (let round = 0; round < 3; round++) {
      tidy(() => {
        for (let i = 0; i < 200; i++) z.mul(y).add(y);
      });
      expect(memory().backends[wasm.name].heap?.liveBlocks).toBe(before);
    }
    y.dispose();
    z.dispose();
  });
});
