import { describe, expect, it } from 'vitest';
import { fromFill, memory, registerBackend, ShapeError, type TypedArray } from '../src/index.js';
import { AsyncCpuBackend } from './async-backend.js';

registerBackend(new AsyncCpuBackend());

describe('fromFill: a tensor whose elements a function writes', () => {
  it('on cpu, fill writes the tensor’s own zeroed buffer (no staging copy)', () => {
    let seen: TypedArray | null = null;
    const t = fromFill([2, 3], (out) => {
      expect(out).toBeInstanceOf(Float32Array);
      expect(Array.from(out)).toEqual([0, 0, 0, 0, 0, 0]);
      for (let i = 0; i < out.length; i++) out[i] = i / 2;
      seen = out;
    });
    expect([t.shape, t.dtype]).toEqual([[2, 3], 'float32']);
    expect(Array.from(t.dataSync())).toEqual([0, 0.5, 1, 1.5, 2, 2.5]);
    // the array fill saw is the tensor's storage: a write to it shows in the tensor
    (seen as unknown as Float32Array)[0] = 7;
    expect(t.dataSync()[0]).toBe(7);
  });

  it('gives the dtype’s array type and honours requiresGrad', () => {
    const ints = fromFill([3], (out) => out.set([1, -2, 3]), { dtype: 'int32' });
    expect([ints.dtype, Array.from(ints.dataSync())]).toEqual(['int32', [1, -2, 3]]);
    const flags = fromFill([2], (out) => {
      expect(out).toBeInstanceOf(Uint8Array);
      out[1] = 1;
    }, { dtype: 'bool' });
    expect([flags.dtype, Array.from(flags.dataSync())]).toEqual(['bool', [0, 1]]);
    const w = fromFill([2], (out) => out.fill(0.5), { requiresGrad: true });
    expect([w.requiresGrad, Array.from(w.dataSync())]).toEqual([true, [0.5, 0.5]]);
  });

  it('on a backend without host memory, fills an array and writes it over', async () => {
    const t = fromFill([4], (out) => out.set([4, 3, 2, 1]), { backend: 'async-cpu' });
    expect(t.backend.name).toBe('async-cpu');
    expect(Array.from(await t.data())).toEqual([4, 3, 2, 1]);
  });

  it('keeps nothing when fill throws, on either path', () => {
    for (const backend of ['cpu', 'async-cpu']) {
      const before = memory();
      expect(() => fromFill([1000], () => {
        throw new Error('bad record 17');
      }, { backend })).toThrow('bad record 17');
      expect([memory().numTensors, memory().numBytes]).toEqual([before.numTensors, before.numBytes]);
    }
  });

  it('refuses a bad shape or dtype, naming fromFill', () => {
    expect(() => fromFill([2, -1], () => {})).toThrow(ShapeError);
    expect(() => fromFill([2, -1], () => {})).toThrow(/fromFill/);
    // @ts-expect-error: not a dtype
    expect(() => fromFill([2], () => {}, { dtype: 'float16' })).toThrow(/fromFill: unknown dtype 'float16'/);
  });
});
