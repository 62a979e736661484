import '@ml/autograd';
import { Linear } from '@ml/nn';
import { full, manualSeed, memory, randn, setBackend, getBackend, tensor, tidy, zeros, type Tensor } from '@ml/tensor';
import { hostData } from '@ml/tensor/backend';
import { describe, expect, it } from 'vitest';
import { WasmHeap } from '../src/heap.js';
import { WasmBackend, registerWasmBackend } from '../src/index.js';

const PAGE = 65536;
const sharedMemory = (pages: number) => new WebAssembly.Memory({ initial: 1, maximum: pages, shared: true });

describe('WasmHeap', () => {
  it('reuses a freed block of the same size, and lowers its top past free blocks', () => {
    const h = new WasmHeap(sharedMemory(16), 16 * PAGE);
    const a = h.alloc(1000);
    const b = h.alloc(1000);
    const c = h.alloc(40);
    expect([a % 16, b % 16, c % 16]).toEqual([0, 0, 0]);
    expect(b - a).toBeGreaterThanOrEqual(1000 + 16); // 16 bytes of slack after each block
    expect(h.free(a)).toBe(true);
    expect(h.free(a)).toBe(false); // not live any more
    expect(h.alloc(1000)).toBe(a); // the same size comes back from the free list
    const before = h.info();
    expect(before.liveBlocks).toBe(3);
    // freeing the top block lowers the top past every free block below it
    h.free(b);
    h.free(a);
    expect(h.info().freeBytes).toBeGreaterThan(0);
    h.free(c);
    expect(h.info()).toMatchObject({ liveBytes: 0, freeBytes: 0, liveBlocks: 0 });
    expect(h.alloc(8)).toBe(a); // everything was given back: the next block starts where a did
  });

  it('grows the memory for a large block, and says 0 when it cannot grow further', () => {
    const h = new WasmHeap(sharedMemory(4), 4 * PAGE);
    const big = h.alloc(3 * PAGE);
    expect(big).toBeGreaterThan(0);
    expect(h.info().reservedBytes).toBe(4 * PAGE);
    expect(h.alloc(PAGE)).toBe(0); // past the maximum
    const small = h.alloc(PAGE / 4);
    expect(small).toBeGreaterThan(0);
    h.free(small);
    h.alloc(PAGE / 2); // takes the space small left (it was at the top)
    // when full, a smaller request may take a larger free block whole
    h.free(big);
    expect(h.alloc(PAGE)).toBe(big);
  });

  it('hands out arrays that are views of its memory (and survive its growth), up to 7/8 of it', () => {
    const h = new WasmHeap(sharedMemory(8), 8 * PAGE);
    const a = h.array('float32', 100) as Float32Array;
    a.fill(7);
    expect(h.owns(a)).toBe(true);
    expect(h.owns(new Float32Array(4))).toBe(false);
    h.alloc(4 * PAGE); // grows the memory
    expect(a[99]).toBe(7);
    expect(new Float32Array(h.memory.buffer, a.byteOffset, 100)[0]).toBe(7);
    expect(h.array('float64', (3 * PAGE) / 8)).toBeNull(); // its top would pass 7/8 of the maximum
    expect(h.alloc(2 * PAGE)).toBeGreaterThan(0); // work blocks may use the rest
    expect(h.freeArray(a)).toBe(true);
    expect(h.freeArray(a)).toBe(false);
  });

  it('an unshared memory hands out no arrays (growth would detach them)', () => {
    const h = new WasmHeap(new WebAssembly.Memory({ initial: 1, maximum: 4 }), 4 * PAGE);
    expect(h.resident).toBe(false);
    expect(h.array('float32', 10)).toBeNull();
    expect(h.alloc(100)).toBeGreaterThan(0);
  });
});

describe('tensors on the wasm backend live in its memory', () => {
  const wasm = registerWasmBackend();

  it('creation, op results and parameters are blocks of the module memory, counted by memory()', () => {
    const prev = getBackend().name;
    setBackend('wasm');
    try {
      const live = memory().backends.wasm?.heap?.liveBytes ?? 0;
      const x = randn([64, 32]);
      const y = tidy(() => x.matmul(x.T).relu().sum(1));
      const lin = new Linear({ inFeatures: 32, outFeatures: 8 });
      for (const t of [x, y, lin.weight, tensor([1, 2, 3], { dtype: 'int32' })]) expect(wasm.gemm.heap.owns(hostData(t) as Float32Array)).toBe(true);
      const heap = memory().backends.wasm.heap;
      expect(heap?.liveBytes).toBeGreaterThanOrEqual(live + 4 * (64 * 32 + 64 + 8 * 32 + 8));
      for (const t of [x, y, lin.weight, lin.bias as Tensor]) t.dispose();
      expect(memory().backends.wasm.heap?.liveBytes).toBeLessThan(heap?.liveBytes ?? 0);
    } finally {
      setBackend(prev);
    }
  });

  it('fills on the kernel give what TypedArray.fill gives (−0, NaN, ±∞, int conversion, odd lengths); reads come back as ordinary arrays', () => {
    const prev = getBackend().name;
    try {
      const make = (name: string) => {
        setBackend(name);
        const out: string[][] = [];
        for (const n of [1, 3, 4, 9, 1001]) {
          for (const v of [0, -0, 1.5, NaN, Infinity, -3]) {
            for (const dtype of ['float32', 'float64', 'int32', 'bool'] as const) {
              const t = full([n], v, { dtype });
              const data = t.dataSync();
              expect(data.buffer).toBeInstanceOf(ArrayBuffer); // not the shared memory
              out.push(Array.from(data, (x) => (Object.is(x, -0) ? '-0' : String(x))));
              t.dispose();
            }
          }
        }
        out.push(Array.from(zeros([7, 3], { dtype: 'int32' }).add(2.7).dataSync(), String));
        return out;
      };
      expect(make('wasm')).toEqual(make('cpu'));
    } finally {
      setBackend(prev);
    }
  });

  it('past its memory limit, tensors are ordinary arrays and every op still gives the same numbers', () => {
    const small = registerWasmBackend({ name: 'wasm-small', maxMemory: 4 * 2 ** 20, threads: 1 });
    const prev = getBackend().name;
    try {
      const run = (name: string) => {
        setBackend(name);
        manualSeed(5);
        return tidy(() => {
          const xs = Array.from({ length: 6 }, () => randn([512, 512])); // 1 MiB each: the last ones do not fit
          const lin = new Linear({ inFeatures: 512, outFeatures: 64 });
          const out = xs.map((x) => lin.forward(x).relu().sum());
          return { owned: xs.map((x) => (name === 'wasm-small' ? small.gemm.heap.owns(hostData(x) as Float32Array) : true)), values: out.map((t) => t.item()) };
        });
      };
      const a = run('wasm-small');
      const b = run('cpu');
      expect(a.owned).toContain(true);
      expect(a.owned).toContain(false);
      a.values.forEach((v, i) => expect(Math.abs(v - b.values[i])).toBeLessThan(1e-3 * Math.max(1, Math.abs(b.values[i]))));
      expect(small.heap().reservedBytes).toBeLessThanOrEqual(4 * 2 ** 20);
      for (const bad of [0, -1, NaN]) expect(() => new WasmBackend({ maxMemory: bad, threads: 1 })).toThrow(/maxMemory must be a positive number of bytes, got/);
    } finally {
      setBackend(prev);
    }
  });
});
