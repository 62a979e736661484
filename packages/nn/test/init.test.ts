import { eye, manualSeed, matmul, zeros, type Tensor } from '@ml/tensor';
import { assertClose } from '@ml/tensor/testing';
import { describe, expect, it } from 'vitest';
import { Conv2d, Linear, calculateGain, fans, getInitializer, init, initialize_ } from '../src/index.js';

async function stats(t: Tensor): Promise<{ mean: number; std: number; maxAbs: number }> {
  const v = Array.from(await t.data());
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
  return { mean, std, maxAbs: Math.max(...Array.from(v, Math.abs)) };
}

describe('initializers', () => {
  it('fan in / fan out of dense and conv weights', () => {
    expect(fans([128, 784])).toEqual({ fanIn: 784, fanOut: 128 });
    expect(fans([64, 32, 3, 3])).toEqual({ fanIn: 288, fanOut: 576 });
  });

  it('calculateGain matches the published values', () => {
    expect(calculateGain('linear')).toBe(1);
    expect(calculateGain('tanh')).toBeCloseTo(5 / 3, 15);
    expect(calculateGain('relu')).toBeCloseTo(Math.SQRT2, 15);
    expect(calculateGain('leaky_relu', 0.2)).toBeCloseTo(Math.sqrt(2 / 1.04), 15);
    expect(calculateGain('selu')).toBe(0.75);
  });

  it('Xavier uniform: U(±√(6/(fan_in+fan_out))), variance 2/(fan_in+fan_out)', async () => {
    manualSeed(0);
    const s = await stats(init.xavierUniform()([200, 300]));
    const a = Math.sqrt(6 / 500);
    expect(s.maxAbs).toBeLessThanOrEqual(a);
    expect(s.maxAbs).toBeGreaterThan(0.99 * a);
    expect(s.std).toBeCloseTo(Math.sqrt(2 / 500), 3);
  });

  it('Xavier normal with gain: σ = gain·√(2/(fan_in+fan_out))', async () => {
    manualSeed(1);
    const s = await stats(init.xavierNormal({ gain: 2 })([200, 300]));
    expect(Math.abs(s.std / (2 * Math.sqrt(2 / 500)) - 1)).toBeLessThan(0.01);
    expect(Math.abs(s.mean)).toBeLessThan(0.003);
  });

  it('He/Kaiming normal for ReLU: σ = √2/√fan_in; fanOut mode uses fan_out', async () => {
    manualSeed(2);
    const s = await stats(init.kaimingNormal({ nonlinearity: 'relu' })([64, 32, 3, 3]));
    expect(Math.abs(s.std / (Math.SQRT2 / Math.sqrt(288)) - 1)).toBeLessThan(0.02);
    const t = await stats(init.kaimingNormal({ nonlinearity: 'relu', mode: 'fanOut' })([64, 32, 3, 3]));
    expect(Math.abs(t.std / (Math.SQRT2 / Math.sqrt(576)) - 1)).toBeLessThan(0.02);
  });

  it('He/Kaiming uniform: bound = gain·√(3/fan_in)', async () => {
    manualSeed(3);
    const s = await stats(init.kaimingUniform({ nonlinearity: 'relu' })([100, 200]));
    const b = Math.SQRT2 * Math.sqrt(3 / 200);
    expect(s.maxAbs).toBeLessThanOrEqual(b);
    expect(s.maxAbs).toBeGreaterThan(0.99 * b);
  });

  it('orthogonal: WWᵀ = I for wide, WᵀW = I for tall matrices, scaled by the gain', async () => {
    manualSeed(4);
    const wide = init.orthogonal()([5, 8], { dtype: 'float64' });
    await assertClose(matmul(wide, wide.T), await eye(5, 5, { dtype: 'float64' }).array(), { atol: 1e-12 });
    const tall = init.orthogonal({ gain: 3 })([8, 5], { dtype: 'float64' });
    await assertClose(matmul(tall.T, tall), await eye(5, 5, { dtype: 'float64' }).mul(9).array(), { atol: 1e-11 });
    const conv = init.orthogonal()([4, 2, 3, 3], { dtype: 'float64' }).reshape([4, 18]);
    await assertClose(matmul(conv, conv.T), await eye(4, 4, { dtype: 'float64' }).array(), { atol: 1e-12 });
  });

  it('zeros, ones, constant, uniform, normal', async () => {
    await assertClose(init.constant(0.5)([2]), [0.5, 0.5]);
    await assertClose(init.ones()([1]), [1]);
    manualSeed(5);
    const u = await stats(init.uniform(2, 3)([10000]));
    expect(u.mean).toBeCloseTo(2.5, 1);
    const n = await stats(init.normal(1, 0.1)([10000]));
    expect(n.mean).toBeCloseTo(1, 2);
    expect(n.std).toBeCloseTo(0.1, 2);
  });

  it('initialize_ overwrites a tensor in place; string names work as Keras’s', async () => {
    const w = zeros([3, 3]);
    initialize_(w, getInitializer('ones'));
    await assertClose(w, [[1, 1, 1], [1, 1, 1], [1, 1, 1]]);
    expect(() => getInitializer('bogus' as 'ones')).toThrow(/unknown initializer 'bogus'/);
  });

  it('layers take an initializer option, and the same seed gives the same weights', async () => {
    const lin = new Linear({ inFeatures: 3, outFeatures: 2, weightInit: 'zeros', biasInit: init.constant(1) });
    await assertClose(lin.weight, [[0, 0, 0], [0, 0, 0]]);
    await assertClose(lin.bias!, [1, 1]);
    manualSeed(9);
    const a = await new Conv2d({ inChannels: 2, outChannels: 2, kernelSize: 3 }).weight.data();
    manualSeed(9);
    const b = await new Conv2d({ inChannels: 2, outChannels: 2, kernelSize: 3 }).weight.data();
    expect(a).toEqual(b);
  });
});
