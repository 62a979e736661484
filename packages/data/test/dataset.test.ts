import { arange, memory, tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { IterableDataset, MappedDataset, Subset, TensorDataset } from '../src/node.js';
import { values } from './helpers.js';

describe('TensorDataset', () => {
  const x = arange(0, 12).reshape([4, 3]);
  const y = tensor([10, 11, 12, 13], { dtype: 'int32' });

  it('item i is row i of every tensor', () => {
    const ds = new TensorDataset(x, y);
    expect(ds.length).toBe(4);
    const [xi, yi] = ds.get(2);
    expect(xi.shape).toEqual([3]);
    expect(values(xi)).toEqual([6, 7, 8]);
    expect(yi.shape).toEqual([]);
    expect(yi.item()).toBe(12);
  });

  it('gathers a batch of rows in the order asked, runs and jumps alike', () => {
    const [xb, yb] = new TensorDataset(x, y).getBatch(Int32Array.from([3, 0, 1, 2]));
    expect(xb.shape).toEqual([4, 3]);
    expect(values(xb)).toEqual([9, 10, 11, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(values(yb)).toEqual([13, 10, 11, 12]);
    expect(yb.dtype).toBe('int32');
  });

  it('a run of consecutive indices is a view; repeats and an empty batch gather too', () => {
    const big = arange(0, 40, 1, { dtype: 'float64' }).reshape([10, 4]);
    const flags = tensor([true, false, true, true, false, false, true, false, true, true]);
    const ds = new TensorDataset(big, flags);
    const [run, runFlags] = ds.getBatch(Int32Array.from([2, 3, 4]));
    expect(run.storage).toBe(big.storage); // no copy
    expect(values(run)).toEqual([8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    expect(values(runFlags)).toEqual([1, 1, 0]);
    const [rep, repFlags] = ds.getBatch(Int32Array.from([9, 9, 0, 5]));
    expect(rep.dtype).toBe('float64');
    expect(values(rep)).toEqual([36, 37, 38, 39, 36, 37, 38, 39, 0, 1, 2, 3, 20, 21, 22, 23]);
    expect(repFlags.dtype).toBe('bool');
    expect(values(repFlags)).toEqual([1, 1, 1, 0]);
    const [none] = ds.getBatch(new Int32Array(0));
    expect(none.shape).toEqual([0, 4]);
    expect(() => ds.getBatch(Int32Array.from([1, 10]))).toThrow(/index 10 is out of range/);
  });

  it('rejects an array of tensors in place of the tensors', () => {
    expect(() => new TensorDataset([x, y] as never)).toThrow(/TensorDataset: argument 0 is an array \(pass the tensors themselves/);
  });

  it('rejects tensors with different numbers of samples', () => {
    expect(() => new TensorDataset(x, tensor([1, 2, 3]))).toThrow(/same size along dim 0.*\[4,3\].*\[3\]/);
  });

  it('rejects an index outside the dataset', () => {
    expect(() => new TensorDataset(x).get(4)).toThrow(/index 4 is out of range for a dataset of 4 samples/);
  });
});

describe('Subset', () => {
  it('maps its indices onto the parent dataset', () => {
    const ds = new TensorDataset(arange(0, 5));
    const sub = new Subset(ds, [4, 1]);
    expect(sub.length).toBe(2);
    expect((sub.get(0) as ReturnType<typeof ds.get>)[0].item()).toBe(4);
    expect((sub.get(1) as ReturnType<typeof ds.get>)[0].item()).toBe(1);
    expect(() => sub.get(2)).toThrow(/out of range/);
    expect(() => new Subset(ds, [5])).toThrow(/index 5 is out of range/);
  });
});

describe('MappedDataset', () => {
  it('applies the function to each sample when it is read', () => {
    const ds = new MappedDataset(new TensorDataset(arange(0, 3)), ([v], i) => ({ v: v.mul(2).add(1), i }));
    const s = ds.get(2) as { v: ReturnType<typeof tensor>; i: number };
    expect(s.v.item()).toBe(5);
    expect(s.i).toBe(2);
  });

  it('disposes the tensors the function makes on the way, keeping only its result', () => {
    const base = new TensorDataset(arange(0, 3, 1, { dtype: 'float32' }));
    const ds = new MappedDataset(base, ([v]) => v.mul(2).add(1).sqrt());
    const before = memory().numTensors;
    const out = ds.get(1) as ReturnType<typeof tensor>;
    // the row view from TensorDataset.get and the result; mul and add's outputs are gone
    expect(memory().numTensors - before).toBe(2);
    expect(out.item()).toBeCloseTo(Math.sqrt(3), 6);
  });

  it('waits for an async parent', async () => {
    const parent = { length: 2, get: async (i: number) => i * 10 };
    const ds = new MappedDataset(parent, (v: number) => v + 1);
    expect(await ds.get(1)).toBe(11);
  });
});

describe('IterableDataset', () => {
  it('wraps a generator function and replays it on every pass', async () => {
    const ds = IterableDataset.from(function* () {
      yield* [1, 2, 3];
    });
    for (let pass = 0; pass < 2; pass++) {
      const seen: number[] = [];
      for await (const v of ds) seen.push(v);
      expect(seen).toEqual([1, 2, 3]);
    }
    expect(ds.length).toBeUndefined();
    expect(IterableDataset.from(() => [1], { length: 1 }).length).toBe(1);
  });
});
