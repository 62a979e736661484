import '@ml/autograd';
import { tensor } from '@ml/tensor';
import { assertClose } from '@ml/tensor/testing';
import { describe, expect, it } from 'vitest';
import { BatchNorm1d, Linear, Sequential, elasticNetPenalty, l1Penalty, l2Penalty, weightsOnly } from '../src/index.js';

describe('regularization penalties', () => {
  it('L1 = λΣ|w| with gradient λ·sign(w); L2 = λΣw² with gradient 2λw', async () => {
    const a = tensor([1, -2, 3], { requiresGrad: true });
    const b = tensor([[-0.5, 0.5]], { requiresGrad: true });
    const l1 = l1Penalty([a, b], 0.1);
    await assertClose(l1, 0.1 * (1 + 2 + 3 + 0.5 + 0.5));
    l1.backward();
    await assertClose(a.grad!, [0.1, -0.1, 0.1]);
    a.grad = null;
    const l2 = l2Penalty([a], 0.5);
    await assertClose(l2, 0.5 * 14);
    l2.backward();
    await assertClose(a.grad!, [1, -2, 3]);
    await assertClose(elasticNetPenalty([a], 1, 1), 6 + 14);
  });
  it('weightsOnly skips biases and normalization parameters', () => {
    const m = new Sequential([new Linear({ inFeatures: 2, outFeatures: 2 }), new BatchNorm1d({ numFeatures: 2, name: 'bn' })]);
    expect(weightsOnly(m)).toEqual([m.stateDict()['0.weight']]);
    expect(() => l2Penalty([], 1)).toThrow(/no parameters/);
  });
});
