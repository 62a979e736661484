import '../src/index.js';
import { describe, expect, it } from 'vitest';
import { checkCustomOp, softsign, softsignOp } from '../src/testing/index.js';
import * as T from '@ml/tensor';
import { defineOp, getOpDef } from '@ml/tensor/backend';

describe('a new op defined in one file (softsign: composite, gradient, fused kernel)', () => {
  it('runs on the cpu backend by its fused kernel and passes gradcheck, first and second order', async () => {
    await checkCustomOp('cpu');
  });
  it('is registered under its name, and autograd reads its rule from the definition', () => {
    expect(getOpDef('softsign')).toBe(softsignOp);
    const x = T.tensor([-2, 0.5], { dtype: 'float64', requiresGrad: true });
    softsign(x).sum().backward();
    // d/dx x/(1+|x|) = 1/(1+|x|)²
    expect(Array.from(x.grad!.dataSync())).toEqual([1 / 9, 1 / 2.25]);
  });
  it('a second op of the same name is refused', () => {
    expect(() => defineOp({ name: 'softsign' })).toThrow(/defineOp: an op named 'softsign' is already defined/);
  });
});
