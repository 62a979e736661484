import { describe, expect, it } from 'vitest';
import { manualSeed, tensor } from '@ml/tensor';
import { autogradGradients, backprop, circles, initMlp, maxDifference, trainBackprop } from '../src/backprop.js';

describe('backprop by hand (δ_L, δ_l, ∂W_l = δ_l a_{l−1}ᵀ)', () => {
  for (const hidden of ['sigmoid', 'relu'] as const) {
    it(`equals autograd's gradients on the same weights to 1e-10 (float64, ${hidden}, 2-5-4-1)`, () => {
      manualSeed(3);
      const { x, y } = circles(16);
      const net = initMlp([2, 5, 4, 1], hidden);
      const hand = backprop(net, x, y);
      const auto = autogradGradients(net, x, y);
      expect(hand.cost).toBeCloseTo(auto.cost, 14);
      expect(maxDifference(hand, auto)).toBeLessThan(1e-10);
      // and the gradients are not trivially zero
      expect(Math.max(...hand.dW.map((g) => g.abs().max().item()))).toBeGreaterThan(1e-4);
    });
  }

  it("a 1-1-1 sigmoid network: ∂W and ∂b equal δ_L and δ_1 computed in plain JS", () => {
    // a 1-1-1 network, x = 0.5, y = 1, W₁ = 0.4, W₂ = 0.1: the notes' two δ's, in plain JS from the formulas
    const x = tensor([[0.5]], { dtype: 'float64' });
    const y = tensor([[1]], { dtype: 'float64' });
    const net = { weights: [tensor([[0.4]], { dtype: 'float64' }), tensor([[0.1]], { dtype: 'float64' })], biases: [tensor([[0]], { dtype: 'float64' }), tensor([[0]], { dtype: 'float64' })], hidden: 'sigmoid' as const };
    const s = (z: number) => 1 / (1 + Math.exp(-z));
    const a1 = s(0.4 * 0.5);
    const out = s(0.1 * a1);
    const dOut = (out - 1) * out * (1 - out); // δ_L
    const dHid = 0.1 * dOut * a1 * (1 - a1); // δ_1 = W_2ᵀ δ_L ⊙ σ'(z_1)
    const g = backprop(net, x, y);
    expect(g.dW[1].item()).toBeCloseTo(dOut * a1, 15);
    expect(g.dW[0].item()).toBeCloseTo(dHid * 0.5, 15);
    expect(g.db[1].item()).toBeCloseTo(dOut, 15);
  });

  it('training with it lowers the cost and classifies the circle', () => {
    const r = trainBackprop({ epochs: 1000, lr: 10, seed: 1 });
    expect(r.losses[r.losses.length - 1]).toBeLessThan(r.losses[0] / 3);
    expect(r.accuracy).toBeGreaterThan(0.9);
    expect(r.maxDiff.first).toBeLessThan(1e-10);
    expect(r.maxDiff.last).toBeLessThan(1e-10);
  });
});
