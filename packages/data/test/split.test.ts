import { arange, tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { type Fold, kFold, randomSplit, stratifiedKFold, TensorDataset, trainValidationSplit } from '../src/node.js';
import { range, sorted } from './helpers.js';

function expectPartition(parts: ArrayLike<number>[], n: number): void {
  const all = parts.flatMap((p) => Array.from(p));
  expect(all).toHaveLength(n);
  expect(sorted(all)).toEqual(range(n));
}

function expectFolds(folds: Fold[], n: number): void {
  // each sample in exactly one validation fold; train is the rest
  expectPartition(
    folds.map((f) => f.validation),
    n,
  );
  for (const f of folds) expectPartition([f.train, f.validation], n);
}

describe('randomSplit', () => {
  const ds = new TensorDataset(arange(0, 10));

  it('splits by fractions into disjoint subsets that cover the dataset', () => {
    const [train, val] = randomSplit(ds, [0.8, 0.2], { seed: 0 });
    expect([train.length, val.length]).toEqual([8, 2]);
    expectPartition([train.indices, val.indices], 10);
  });

  it('hands the samples left over by flooring to the first subsets', () => {
    expect(randomSplit(ds, [0.33, 0.33, 0.34], { seed: 0 }).map((s) => s.length)).toEqual([4, 3, 3]);
  });

  it('splits by counts', () => {
    const parts = randomSplit(ds, [3, 7], { seed: 1 });
    expect(parts.map((s) => s.length)).toEqual([3, 7]);
    expectPartition(
      parts.map((p) => p.indices),
      10,
    );
  });

  it('is reproducible with a seed and differs between seeds', () => {
    const a = randomSplit(ds, [0.5, 0.5], { seed: 4 })[0].indices;
    expect(randomSplit(ds, [0.5, 0.5], { seed: 4 })[0].indices).toEqual(a);
    expect(randomSplit(ds, [0.5, 0.5], { seed: 5 })[0].indices).not.toEqual(a);
  });

  it('rejects lengths that are neither fractions of 1 nor counts of n', () => {
    expect(() => randomSplit(ds, [0.5, 0.6])).toThrow(/fractions summing to 1 or counts summing to the dataset's 10 samples/);
    expect(() => randomSplit(ds, [3, 3])).toThrow(/counts summing/);
  });
});

describe('trainValidationSplit', () => {
  const ds = new TensorDataset(arange(0, 100));

  it('holds out the validation fraction, disjoint from training', () => {
    const { train, validation } = trainValidationSplit(ds, { validationFraction: 0.2, seed: 0 });
    expect([train.length, validation.length]).toEqual([80, 20]);
    expectPartition([train.indices, validation.indices], 100);
    expect(Array.from(validation.indices)).not.toEqual(range(100).slice(80));
  });

  it('keeps the last samples for validation without shuffling (as Keras)', () => {
    const { validation } = trainValidationSplit(ds, { validationFraction: 0.25, shuffle: false });
    expect(Array.from(validation.indices)).toEqual(range(100).slice(75));
  });

  it('keeps class proportions when stratified', () => {
    // 70 of class 0, 30 of class 1 → 14 and 6 in a 20% validation set
    const labels = range(100).map((i) => (i % 10 < 7 ? 0 : 1));
    const { train, validation } = trainValidationSplit(ds, { validationFraction: 0.2, stratify: labels, seed: 2 });
    const ones = Array.from(validation.indices).filter((i) => labels[i] === 1).length;
    expect(validation.length).toBe(20);
    expect(ones).toBe(6);
    expectPartition([train.indices, validation.indices], 100);
  });
});

describe('kFold', () => {
  it('makes k folds of ⌊n/k⌋ or ⌈n/k⌉ samples, the larger ones first', () => {
    const folds = kFold(10, 3);
    expect(folds.map((f) => f.validation.length)).toEqual([4, 3, 3]);
    expect(Array.from(folds[0].validation)).toEqual([0, 1, 2, 3]);
    expect(Array.from(folds[2].train)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expectFolds(folds, 10);
  });

  it('puts every sample in exactly one validation fold when shuffled, reproducibly', () => {
    const folds = kFold(23, 5, { shuffle: true, seed: 3 });
    expectFolds(folds, 23);
    expect(folds.map((f) => f.validation.length)).toEqual([5, 5, 5, 4, 4]);
    expect(kFold(23, 5, { shuffle: true, seed: 3 })).toEqual(folds);
    expect(Array.from(folds[0].validation)).not.toEqual([0, 1, 2, 3, 4]);
  });

  it('rejects k < 2 and k > n', () => {
    expect(() => kFold(10, 1)).toThrow(/k must be an integer >= 2/);
    expect(() => kFold(3, 4)).toThrow(/need at least 4 samples/);
  });
});

describe('stratifiedKFold', () => {
  // 20 of class 0, 7 of class 1, 13 of class 2, interleaved
  const labels = [...range(20).map(() => 0), ...range(7).map(() => 1), ...range(13).map(() => 2)].map((_, i, a) => a[(i * 17) % 40]);

  it('gives every fold each class within one sample of its share', () => {
    for (const shuffle of [false, true]) {
      const k = 5;
      const folds = stratifiedKFold(labels, k, { shuffle, seed: 1 });
      expectFolds(folds, 40);
      for (const c of [0, 1, 2]) {
        const total = labels.filter((l) => l === c).length;
        for (const f of folds) {
          const inFold = Array.from(f.validation).filter((i) => labels[i] === c).length;
          expect(Math.abs(inFold - total / k)).toBeLessThan(1);
        }
      }
      const sizes = folds.map((f) => f.validation.length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
  });

  it('takes labels as a tensor or as strings', () => {
    const fromTensor = stratifiedKFold(tensor(labels, { dtype: 'int32' }), 4);
    expect(fromTensor).toEqual(stratifiedKFold(labels, 4));
    const names = stratifiedKFold(labels.map((l) => ['cat', 'dog', 'eel'][l]), 4);
    expect(names).toEqual(fromTensor);
  });
});
