import { manualSeed, randn, tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { MinMaxScaler, StandardScaler } from '../src/node.js';
import { expectClose, values } from './helpers.js';

// Training data: column 0 = 1, 2, 3; column 1 = 10, 20, 60.
const train = tensor([
  [1, 10],
  [2, 20],
  [3, 60],
]);

describe('StandardScaler', () => {
  it('learns mean and population std from the training data only', () => {
    const s = new StandardScaler().fit(train);
    // mean = [2, 30]; var = [(1 + 0 + 1) / 3, (400 + 100 + 900) / 3] = [2/3, 1400/3]
    expectClose(values(s.mean!), [2, 30], 1e-5);
    expectClose(values(s.scale!), [Math.sqrt(2 / 3), Math.sqrt(1400 / 3)], 1e-4);
    // test data is scaled with the training statistics
    const z = s.transform(tensor([[4, 30]]));
    expectClose(values(z), [2 / Math.sqrt(2 / 3), 0], 1e-5);
  });

  it('fitTransform of the training data has mean 0 and std 1 per column', () => {
    const z = new StandardScaler().fitTransform(train);
    expectClose(values(z.mean(0)), [0, 0], 1e-6);
    expectClose(values(z.std(0, { correction: 0 })), [1, 1], 1e-5);
  });

  it('inverseTransform undoes transform', () => {
    manualSeed(0);
    const x = randn([50, 3]).mul(tensor([1, 10, 100])).add(tensor([5, -3, 0]));
    const s = new StandardScaler().fit(x);
    expectClose(values(s.inverseTransform(s.transform(x))), values(x), 1e-3);
  });

  it('only centers a constant column', () => {
    const s = new StandardScaler().fit(tensor([[5], [5]]));
    expect(values(s.scale!)).toEqual([1]);
    expect(values(s.transform(tensor([[7]])))).toEqual([2]);
  });

  it('refuses to transform before fit or with a different column count', () => {
    expect(() => new StandardScaler().transform(train)).toThrow(/StandardScaler.transform: the scaler is not fitted; call fit\(xTrain\)/);
    const s = new StandardScaler().fit(train);
    expect(() => s.transform(tensor([[1, 2, 3]]))).toThrow(/x \[1,3\] has columns \[3\], the scaler was fit on columns \[2\]/);
    expect(() => s.inverseTransform(tensor([1, 2]))).toThrow(/has columns \[\]/);
  });
});

describe('MinMaxScaler', () => {
  it('maps the training min..max of each column to [0, 1]', () => {
    const s = new MinMaxScaler().fit(train);
    expectClose(values(s.dataMin!), [1, 10]);
    expectClose(values(s.dataMax!), [3, 60]);
    // (2 − 1) / 2 = 0.5, (35 − 10) / 50 = 0.5; new data may fall outside: (4 − 1) / 2, (0 − 10) / 50
    expectClose(values(s.transform(tensor([[2, 35], [4, 0]]))), [0.5, 0.5, 1.5, -0.2], 1e-6);
  });

  it('maps to a featureRange and back', () => {
    const s = new MinMaxScaler({ featureRange: [-1, 1] });
    const z = s.fitTransform(train);
    expectClose(values(z), [-1, -1, 0, -0.6, 1, 1], 1e-6);
    expectClose(values(s.inverseTransform(z)), values(train), 1e-5);
  });

  it('refuses to transform before fit', () => {
    expect(() => new MinMaxScaler().inverseTransform(train)).toThrow(/MinMaxScaler.inverseTransform: the scaler is not fitted/);
    expect(() => new MinMaxScaler({ featureRange: [1, 1] })).toThrow(/a < b/);
  });
});
