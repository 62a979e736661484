import { tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { compose, lambda, normalize, toDType, toFloat } from '../src/node.js';
import { expectClose, values } from './helpers.js';

describe('compose', () => {
  it('applies transforms left to right', () => {
    const f = compose(
      (x: number) => x + 1,
      (x: number) => x * 2,
      lambda((x: number) => `${x}`),
    );
    expect(f(3)).toBe('8');
    expect(compose<number>()(5)).toBe(5);
  });
});

describe('normalize', () => {
  it('maps (x − mean) / std with one mean and std for all values', () => {
    expectClose(values(normalize(0.5, 0.25)(tensor([0, 0.5, 1]))), [-2, 0, 2]);
  });

  it('uses one mean and std per channel along dim 0 of a [C, H, W] sample', () => {
    const x = tensor([
      [[1, 3]],
      [[2, 6]],
    ]); // [2, 1, 2]
    // channel 0: (x − 1) / 1, channel 1: (x − 2) / 2
    expectClose(values(normalize([1, 2], [1, 2])(x)), [0, 2, 0, 2]);
  });

  it('normalizes the columns of a [N, F] batch with dim 1', () => {
    const x = tensor([
      [10, 1],
      [20, 3],
    ]);
    expectClose(values(normalize([15, 2], [5, 1], { dim: 1 })(x)), [-1, -1, 1, 1]);
  });

  it('casts integer input to float32', () => {
    const out = normalize(0, 255)(tensor([0, 255], { dtype: 'int32' }));
    expect(out.dtype).toBe('float32');
    expectClose(values(out), [0, 1]);
  });

  it('rejects a zero std and a channel count that does not match', () => {
    expect(() => normalize(0, 0)).toThrow(/std must be positive/);
    expect(() => normalize([1, 2, 3], [1, 1, 1])(tensor([[1, 2]]))).toThrow(/3 channel values for dim 0 of a tensor \[1,2\]/);
  });
});

describe('toFloat and toDType', () => {
  it('cast tensors', () => {
    expect(toFloat(tensor([1, 2], { dtype: 'int32' })).dtype).toBe('float32');
    expect(toDType('float64')(tensor([1])).dtype).toBe('float64');
  });
});
