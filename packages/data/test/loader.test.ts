import { arange, manualSeed, memory, stack, type Tensor, tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { DataLoader, type Dataset, defaultCollate, IterableDataset, parseCsv, Subset, TensorDataset } from '../src/node.js';
import { range, sorted, values } from './helpers.js';

/** x row i = [i, i + 0.5], y = i: a batch's y says which samples it holds. */
function numbered(n: number): TensorDataset<[Tensor, Tensor]> {
  const x = tensor(range(n).map((i) => [i, i + 0.5]));
  return new TensorDataset(x, arange(0, n, 1, { dtype: 'int32' }));
}

async function epochOrder(loader: DataLoader<[Tensor, Tensor], [Tensor, Tensor]>): Promise<number[]> {
  const seen: number[] = [];
  for await (const [, y] of loader) seen.push(...values(y));
  return seen;
}

describe('DataLoader batches', () => {
  it('yields ⌈n / batchSize⌉ batches in order, the last one smaller', async () => {
    const loader = new DataLoader(numbered(10), { batchSize: 4 });
    expect(loader.length).toBe(3);
    const shapes: number[][] = [];
    const ys: number[][] = [];
    for await (const [x, y] of loader) {
      shapes.push([...x.shape]);
      ys.push(values(y));
      expect(y.dtype).toBe('int32');
    }
    expect(shapes).toEqual([
      [4, 2],
      [4, 2],
      [2, 2],
    ]);
    expect(ys).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
  });

  it('drops the short last batch with dropLast', async () => {
    const loader = new DataLoader(numbered(10), { batchSize: 4, dropLast: true });
    expect(loader.length).toBe(2);
    expect(await epochOrder(loader)).toEqual(range(8));
  });

  it('gathers the same batch values as fetching rows one by one and stacking them', async () => {
    const ds = numbered(9);
    const stacked = new DataLoader(ds, { batchSize: 4, shuffle: true, seed: 5, collate: (s) => [stack(s.map((p) => p[0])), stack(s.map((p) => p[1]))] as [Tensor, Tensor] });
    const fast = new DataLoader(ds, { batchSize: 4, shuffle: true, seed: 5 });
    const a: number[][] = [];
    const b: number[][] = [];
    for await (const [x, y] of stacked) a.push([...values(x), ...values(y)]);
    for await (const [x, y] of fast) b.push([...values(x), ...values(y)]);
    expect(b).toEqual(a);
    expect(a[0].length).toBe(4 * 2 + 4);
  });

  it('batches a Subset of a TensorDataset with the parent rows it points to', async () => {
    const sub = new Subset(numbered(10), [7, 2, 9]);
    const seen: number[] = [];
    for await (const [x, y] of new DataLoader(sub, { batchSize: 2 })) {
      seen.push(...values(y));
      expect(values(x).filter((_, i) => i % 2 === 0)).toEqual(values(y));
    }
    expect(seen).toEqual([7, 2, 9]);
  });
});

describe('DataLoader shuffling', () => {
  it('a seeded shuffle visits every sample exactly once per epoch', async () => {
    const loader = new DataLoader(numbered(23), { batchSize: 5, shuffle: true, seed: 1 });
    for (let epoch = 0; epoch < 3; epoch++) {
      const order = await epochOrder(loader);
      expect(order).toHaveLength(23);
      expect(sorted(order)).toEqual(range(23));
      expect(order).not.toEqual(range(23));
    }
  });

  it('draws a different order every epoch', async () => {
    const loader = new DataLoader(numbered(20), { batchSize: 4, shuffle: true, seed: 1 });
    const e0 = await epochOrder(loader);
    const e1 = await epochOrder(loader);
    expect(e1).not.toEqual(e0);
    expect(loader.epoch).toBe(2);
  });

  it('repeats the same orders for the same seed and differs for another seed', async () => {
    const run = async (seed: number) => {
      const loader = new DataLoader(numbered(20), { batchSize: 4, shuffle: true, seed });
      return [await epochOrder(loader), await epochOrder(loader), await epochOrder(loader)];
    };
    const a = await run(7);
    expect(await run(7)).toEqual(a);
    expect(await run(8)).not.toEqual(a);
  });

  it('setEpoch replays an epoch’s order (resuming training)', async () => {
    const loader = new DataLoader(numbered(20), { batchSize: 4, shuffle: true, seed: 3 });
    await epochOrder(loader);
    const e1 = await epochOrder(loader);
    loader.setEpoch(1);
    expect(await epochOrder(loader)).toEqual(e1);
  });

  it('without a seed, follows manualSeed', async () => {
    manualSeed(11);
    const a = await epochOrder(new DataLoader(numbered(20), { batchSize: 4, shuffle: true }));
    manualSeed(11);
    const b = await epochOrder(new DataLoader(numbered(20), { batchSize: 4, shuffle: true }));
    expect(b).toEqual(a);
    expect(sorted(a)).toEqual(range(20));
  });
});

describe('DataLoader prefetch', () => {
  /** An async dataset that logs when each read starts and resolves after a delay. */
  function slowDataset(n: number, started: number[]): Dataset<[number, number]> {
    return {
      length: n,
      get: (i: number) => {
        started.push(i);
        // later samples resolve sooner, so order must come from the loader, not the timers
        return new Promise<[number, number]>((resolve) => setTimeout(() => resolve([i * 1.5, i]), (n - i) % 4));
      },
    };
  }

  it('loads the next `prefetch` batches while one is consumed, and keeps their order', async () => {
    const started: number[] = [];
    const loader = new DataLoader(slowDataset(12, started), { batchSize: 2, prefetch: 2 });
    const startedWhenConsuming: number[] = [];
    const ys: number[] = [];
    for await (const [x, y] of loader) {
      startedWhenConsuming.push(started.length);
      ys.push(...values(y));
      expect(x.dtype).toBe('float32');
      expect(y.dtype).toBe('int32');
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(ys).toEqual(range(12));
    // holding batch k, the loader has asked for batches up to k + 2 (2 samples each)
    expect(startedWhenConsuming).toEqual([6, 8, 10, 12, 12, 12]);
  });

  it('with prefetch 0 reads a batch only when it is asked for', async () => {
    const started: number[] = [];
    const loader = new DataLoader(slowDataset(6, started), { batchSize: 2, prefetch: 0 });
    const startedWhenConsuming: number[] = [];
    for await (const _ of loader) startedWhenConsuming.push(started.length);
    expect(startedWhenConsuming).toEqual([2, 4, 6]);
  });

  it('frees the batches it loaded ahead when the consumer stops early', async () => {
    const ds = numbered(40);
    const before = memory().numTensors;
    for await (const [x, y] of new DataLoader(ds, { batchSize: 4, prefetch: 3, shuffle: true, seed: 0 })) {
      x.dispose();
      y.dispose();
      break;
    }
    await new Promise((r) => setTimeout(r, 0));
    expect(memory().numTensors).toBe(before);
  });

  it('names the sample whose read failed', async () => {
    const ds = { length: 4, get: async (i: number) => (i === 2 ? Promise.reject(new Error('disk on fire')) : i) };
    const loader = new DataLoader(ds, { batchSize: 2 });
    await expect(async () => {
      for await (const _ of loader) {
        // consume
      }
    }).rejects.toThrow(/reading sample 2 failed: disk on fire/);
  });
});

describe('DataLoader over an IterableDataset', () => {
  it('batches consecutive samples', async () => {
    const ds = IterableDataset.from(async function* () {
      for (let i = 0; i < 10; i++) yield i;
    });
    const loader = new DataLoader(ds, { batchSize: 4 });
    expect(loader.length).toBeNaN();
    const batches: number[][] = [];
    for await (const b of loader) batches.push(values(b));
    expect(batches).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    const dropped = new DataLoader(IterableDataset.from(() => range(10), { length: 10 }), { batchSize: 4, dropLast: true, prefetch: 0 });
    expect(dropped.length).toBe(2);
    const sizes: number[] = [];
    for await (const b of dropped) sizes.push(b.shape[0]);
    expect(sizes).toEqual([4, 4]);
  });

  it('refuses to shuffle it', () => {
    expect(() => new DataLoader(IterableDataset.from(() => [1]), { shuffle: true })).toThrow(/cannot be shuffled/);
  });
});

describe('DataLoader options', () => {
  it('rejects a batch size that is not a positive integer', () => {
    expect(() => new DataLoader(numbered(3), { batchSize: 0 })).toThrow(/batchSize must be a positive integer/);
    expect(() => new DataLoader(numbered(3), { prefetch: -1 })).toThrow(/prefetch/);
  });
});

describe('defaultCollate', () => {
  it('turns integer numbers into int32 and other numbers into float32', () => {
    const labels = defaultCollate([3, 1, 4]);
    expect(labels.dtype).toBe('int32');
    expect(values(labels)).toEqual([3, 1, 4]);
    const targets = defaultCollate([0.5, 2]);
    expect(targets.dtype).toBe('float32');
    expect(values(targets)).toEqual([0.5, 2]);
    expect(defaultCollate([true, false]).dtype).toBe('bool');
  });

  it('stacks tensors and typed-array rows along a new first dim', () => {
    const t = defaultCollate([tensor([1, 2]), tensor([3, 4])]);
    expect(t.shape).toEqual([2, 2]);
    expect(values(t)).toEqual([1, 2, 3, 4]);
    const rows = defaultCollate([Float64Array.from([1, 2, 3]), Float64Array.from([4, 5, 6])]);
    expect(rows.shape).toEqual([2, 3]);
    expect(rows.dtype).toBe('float64');
  });

  it('collates tuples and objects field by field and keeps strings as a list', () => {
    const [x, y] = defaultCollate([
      [tensor([1, 2]), 0],
      [tensor([3, 4]), 1],
    ] as [Tensor, number][]);
    expect(x.shape).toEqual([2, 2]);
    expect(values(y)).toEqual([0, 1]);
    const o = defaultCollate([
      { image: tensor([1]), label: 2, name: 'a' },
      { image: tensor([3]), label: 5, name: 'b' },
    ]);
    expect(o.image.shape).toEqual([2, 1]);
    expect(values(o.label)).toEqual([2, 5]);
    expect(o.name).toEqual(['a', 'b']);
  });

  it('collates table rows, whatever their columns are named', () => {
    const t = parseCsv('toString,__proto__,b\n1,2.5,x\n3,4.5,y\n');
    const batch = defaultCollate(t.rows) as Record<string, unknown>;
    expect(Object.keys(batch)).toEqual(['toString', '__proto__', 'b']);
    expect(values(batch.toString as unknown as Tensor)).toEqual([1, 3]);
    expect(values(batch.__proto__ as Tensor)).toEqual([2.5, 4.5]);
    expect(batch.b).toEqual(['x', 'y']);
    // a sample with other keys is named, even when the other key is an Object.prototype member
    expect(() => defaultCollate<object>([{ a: 1, toString: 2 }, { a: 1, b: 2 }])).toThrow(/sample 1 has keys \{a, b\}, sample 0 has \{a, toString\}/);
    expect(() => defaultCollate([JSON.parse('{"__proto__": 1}') as object, JSON.parse('{"__proto__": 2}') as object])).not.toThrow();
  });

  it('names the sample (and field) whose shape or type does not match', () => {
    expect(() => defaultCollate([{ a: 1 }, { a: 'x' }])).toThrow(/sample 1\.a is a string but sample 0\.a is a number/);
    expect(() => defaultCollate([tensor([1, 2]), tensor([1, 2]), tensor([1, 2, 3])])).toThrow(/sample 2 is a tensor \[3\] \(float32\) but sample 0 is a tensor \[2\]/);
  });
});
