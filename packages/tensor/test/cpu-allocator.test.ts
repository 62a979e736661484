import { describe, expect, it } from 'vitest';
import { contiguousStrides, type DType, type Im2ColParams, type TypedArray } from '../src/index.js';
import { CpuBackend, HostAllocator, type ArrayAllocator, type DataId, type View } from '../src/backend-api.js';

// The CPU backend writes every result into the allocator it was given (a backend with a
// memory of its own, such as the wasm one, passes an allocator of that memory): a result
// array made any other way would silently live outside that memory.

/**
 * Hands out arrays of a HostAllocator, remembers each one, and fills what `array()` gives
 * with garbage (a kernel that asks for an uninitialised array must write every element).
 */
class CountingAllocator implements ArrayAllocator {
  readonly handedOut = new Set<TypedArray>();
  readonly recycled: TypedArray[] = [];
  readonly #host = new HostAllocator();
  array(dtype: DType, n: number): TypedArray {
    const a = this.#host.array(dtype, n);
    a.fill(dtype === 'bool' ? 7 : dtype === 'int32' ? -123456 : NaN);
    this.handedOut.add(a);
    return a;
  }
  filled(dtype: DType, n: number, value: number): TypedArray {
    const a = this.#host.filled(dtype, n, value);
    this.handedOut.add(a);
    return a;
  }
  recycle(a: TypedArray): void {
    this.recycled.push(a);
    this.#host.recycle(a);
  }
}

/** A subclass that counts the runs of the primitive hook. */
class HookedCpu extends CpuBackend {
  hookRuns = 0;
  protected override primitive<T extends DataId | null>(run: () => T): T {
    this.hookRuns++;
    return run();
  }
}

const ARRAYS = { float32: Float32Array, float64: Float64Array, int32: Int32Array, bool: Uint8Array } as const;

/** A contiguous view of `values` written to `b`. */
function view(b: CpuBackend, values: readonly number[], shape: readonly number[], dtype: DType = 'float32'): View {
  return { data: b.write(ARRAYS[dtype].from(values), dtype), dtype, shape, strides: contiguousStrides(shape), offset: 0 };
}

/** The [n, m] transpose of a contiguous [m, n] view (strided: the kernels copy it first). */
const transposed = (v: View): View => ({ ...v, shape: [v.shape[1], v.shape[0]], strides: [v.strides[1], v.strides[0]] });

const seq = (n: number, f: (i: number) => number = (i) => i) => Array.from({ length: n }, (_, i) => f(i));
const conv: Im2ColParams = { kernel: [3, 3], stride: [1, 1], dilation: [1, 1], pad: [1, 1, 1, 1], padValue: 0 };
const pool: Im2ColParams = { kernel: [2, 2], stride: [2, 2], dilation: [1, 1], pad: [0, 0, 0, 0], padValue: -Infinity };

/** Every primitive and fused kernel of the CPU backend, some on strided views, each returning its result. */
function cases(b: CpuBackend): [string, () => DataId | null][] {
  const x = view(b, seq(6, (i) => i - 2.5), [2, 3]);
  const x3 = view(b, seq(48, (i) => Math.sin(i)), [2, 3, 8]);
  const img = view(b, seq(2 * 2 * 4 * 4, (i) => Math.cos(i)), [2, 2, 4, 4]);
  const w = view(b, seq(3 * 2 * 9, (i) => ((i % 7) - 3) / 4), [3, 2, 3, 3]);
  const bias = view(b, [0.5, -1, 2], [3]);
  const dy = view(b, seq(2 * 3 * 16, (i) => ((i % 5) - 2) / 3), [2, 3, 4, 4]);
  const mask: View = { ...x, data: b.cast(x, 'bool') as DataId, dtype: 'bool' };
  // pooling's output gradient, [2, 2, 2, 2] with its last axis broadcast (strided)
  const dyPool: View = { ...view(b, [1, 2, 3, 4, 5, 6, 7, 8], [8]), shape: [2, 2, 2, 2], strides: [4, 2, 1, 0] };
  const logits = view(b, seq(12, (i) => (i % 5) - 1), [3, 4]);
  const target = view(b, [3, 0, 2], [3], 'int32');
  const rowIndex = view(b, [1, 0, 1], [3, 1], 'int32');
  const patches = b.im2col(img, conv) as DataId;
  const patchRows = b.im2row(img, conv) as DataId;
  const y = b.maxPool2d(img, pool) as DataId;
  const at = (data: DataId, shape: readonly number[]): View => ({ data, dtype: 'float32', shape, strides: contiguousStrides(shape), offset: 0 });
  return [
    ['fill', () => b.fill(5, 'float32', 2.5)],
    ['copy (transposed)', () => b.copy(transposed(x))],
    ['cast to int32', () => b.cast(x, 'int32')],
    ['cast to bool', () => b.cast(x, 'bool')],
    ['unary relu (float32 bits)', () => b.unary('relu', x)],
    ['unary exp (transposed)', () => b.unary('exp', transposed(x))],
    ['binary add', () => b.binary('add', x, x, 'float32')],
    ['binary mul by a broadcast value', () => b.binary('mul', x, { ...x, strides: [0, 0] }, 'float32')],
    ['binary gt (transposed)', () => b.binary('gt', transposed(x), transposed(x), 'bool')],
    ['where', () => b.where(mask, x, { ...x, data: x.data, strides: [1, 2] })],
    ['reduce sum over the middle axis', () => b.reduce('sum', x3, [1])],
    ['reduce max over both ends', () => b.reduce('max', x3, [0, 2])],
    ['reduce prod over the last axis', () => b.reduce('prod', x3, [2])],
    ['reduce sum over a strided axis', () => b.reduce('sum', transposed(x), [1])],
    ['argReduce argmax', () => b.argReduce('argmax', x3, 2)],
    ['matmul', () => b.matmul({ ...x, shape: [1, 2, 3], strides: [0, 3, 1] }, { ...transposed(x), shape: [1, 3, 2], strides: [0, 1, 3] })],
    ['gather rows', () => b.gather(x3, 0, { ...rowIndex, shape: [2, 3, 8], strides: [1, 0, 0] })],
    ['gather', () => b.gather(x, 1, { ...rowIndex, shape: [2, 3], strides: [1, 0] })],
    ['scatterAdd', () => b.scatterAdd(x, 1, { ...rowIndex, shape: [2, 1], strides: [1, 1] }, x)],
    ['pad', () => b.pad(x, [1, 0], [0, 2], [0, 1], -1)],
    ['concat', () => b.concat([x, transposed(transposed(x))], 0, [4, 3])],
    ['im2col', () => b.im2col(img, conv)],
    ['col2im', () => b.col2im(at(patches, [2, 18, 16]), [2, 2, 4, 4], conv)],
    ['im2row', () => b.im2row(img, conv)],
    ['row2im', () => b.row2im(at(patchRows, [32, 18]), [2, 2, 4, 4], conv)],
    ['conv2d', () => b.conv2d(img, w, bias, conv, 1, null)],
    ['conv2dBackwardInput', () => b.conv2dBackwardInput(dy, w, [2, 2, 4, 4], conv, 1)],
    ['conv2dBackwardWeight', () => b.conv2dBackwardWeight(dy, img, [3, 2, 3, 3], conv, 1, [])],
    ['maxPool2d', () => b.maxPool2d(img, pool)],
    ['maxPool2dBackward', () => b.maxPool2dBackward(img, at(y, [2, 2, 2, 2]), dyPool, pool)],
    ['reluBackward (transposed)', () => b.reluBackward(transposed(x), transposed(x))],
    ['logSoftmax', () => b.logSoftmax(logits, 1)],
    ['softmaxCrossEntropy per sample', () => b.softmaxCrossEntropy(logits, target, null)],
    ['softmaxCrossEntropy mean', () => b.softmaxCrossEntropy(logits, target, 3)],
    ['softmaxCrossEntropyBackward', () => b.softmaxCrossEntropyBackward(logits, target, view(b, [1, 2, 3], [3]), 3)],
  ];
}

describe('CpuBackend writes through the allocator it is given', () => {
  it('every result buffer of every primitive and fused kernel is an array the allocator handed out', () => {
    const alloc = new CountingAllocator();
    const b = new CpuBackend({ allocator: alloc });
    for (const [what, run] of cases(b)) {
      const out = run();
      expect(out, what).not.toBeNull();
      expect(alloc.handedOut.has(b.hostArray(out as DataId)), `${what}: result array from the allocator`).toBe(true);
    }
  });

  it('gives the default backend’s values although the allocator’s arrays start as garbage', () => {
    const reference = new CpuBackend();
    const b = new CpuBackend({ allocator: new CountingAllocator() });
    const want = cases(reference).map(([what, run]) => [what, Array.from(reference.hostArray(run() as DataId))] as const);
    const got = cases(b).map(([what, run]) => [what, Array.from(b.hostArray(run() as DataId))] as const);
    expect(got).toEqual(want);
  });

  it('runs every primitive and fused kernel through the primitive hook', () => {
    const b = new HookedCpu();
    for (const [what, run] of cases(b)) {
      const before = b.hookRuns;
      run();
      expect(b.hookRuns, what).toBeGreaterThan(before);
    }
  });

  it('dispose gives the array back to the allocator, and the handle fails after', () => {
    const alloc = new CountingAllocator();
    const b = new CpuBackend({ allocator: alloc });
    const data = b.fill(3, 'float64', 1);
    const a = b.hostArray(data);
    b.dispose(data);
    expect(alloc.recycled).toEqual([a]);
    expect(() => b.readSync(data)).toThrow(TypeError);
  });

  it('rejects an unknown option, naming the one meant', () => {
    expect(() => new CpuBackend({ alocator: new HostAllocator() } as never)).toThrow(/alocator.*allocator/);
  });
});

describe('HostAllocator', () => {
  it('hands a given-back array to the next request of the same dtype and length', () => {
    const h = new HostAllocator();
    const a = h.array('float32', 5000);
    h.recycle(a);
    expect(h.pooledBytes).toBe(20000);
    expect(h.array('float64', 5000)).not.toBe(a); // another dtype
    expect(h.array('float32', 5001)).not.toBe(a); // another length
    expect(h.array('float32', 5000)).toBe(a);
    expect(h.pooledBytes).toBe(0);
  });

  it('fills a reused array (a fresh one is +0 already, −0 written out)', () => {
    const h = new HostAllocator();
    const a = h.array('float32', 4096);
    a.fill(9);
    h.recycle(a);
    const z = h.filled('float32', 4096, 0);
    expect(z).toBe(a);
    expect(z.every((v) => Object.is(v, 0))).toBe(true);
    expect(Object.is(h.filled('float64', 3, -0)[2], -0)).toBe(true);
    expect(Array.from(h.filled('int32', 3, 7))).toEqual([7, 7, 7]);
  });

  it('keeps no short arrays and no more than poolBytes', () => {
    const h = new HostAllocator({ poolBytes: 40000, minLength: 1000 });
    const short = h.array('float32', 999);
    h.recycle(short);
    expect(h.pooledBytes).toBe(0);
    const [a, b, c] = [h.array('float32', 5000), h.array('float32', 5000), h.array('float32', 5000)];
    for (const x of [a, b, c]) h.recycle(x);
    expect(h.pooledBytes).toBe(40000); // the third would pass the cap
    expect([h.array('float32', 5000), h.array('float32', 5000)]).toEqual(expect.arrayContaining([a, b]));
    expect(h.array('float32', 5000)).not.toBe(c);
  });
});
