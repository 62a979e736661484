import '@ml/autograd';
import { gradcheck } from '@ml/autograd';
import { tensor, type Tensor } from '@ml/tensor';
import { assertClose } from '@ml/tensor/testing';
import { describe, expect, it } from 'vitest';
import { ACTIVATION_NAMES, HardSigmoid, LeakyReLU, ReLU, SELU, Softmax, activationByName, hardSigmoid, moduleFromConfig, moduleToConfig, selu } from '../src/index.js';

const f64 = (v: number[]): Tensor => tensor(v, { dtype: 'float64' });
const xs = [-5, -3, -1.5, 0, 0.6, 2.9, 3, 7];

describe('hardSigmoid', () => {
  it('is 0 below −3, 1 above 3 and x/6 + ½ between (relu6(x + 3) / 6)', async () => {
    const want = [0, 0, 0.25, 0.5, 0.6, 2.9 / 6 + 0.5, 1, 1];
    await assertClose(hardSigmoid(f64(xs)), want, { atol: 1e-15 });
    await assertClose(new HardSigmoid().forward(f64(xs)), want, { atol: 1e-15 });
  });
  it('passes gradcheck away from the kinks at ±3 (slope 1/6 inside, 0 outside)', () => {
    gradcheck((x: Tensor) => hardSigmoid(x), [f64([-4.2, -2.5, -0.3, 0.8, 2.4, 5.1])]);
  });
  it('has gradient 1/6 inside and 0 outside', async () => {
    const x = f64([-4, -1, 1, 4]).requiresGrad_();
    hardSigmoid(x).sum().backward();
    await assertClose(x.grad!, [0, 1 / 6, 1 / 6, 0], { atol: 1e-15 });
  });
});

describe('selu', () => {
  it('is λx above 0 and λα(eˣ − 1) below, with the published constants', async () => {
    const lambda = 1.0507009873554805;
    const alpha = 1.6732632423543772;
    const v = [-2, -0.5, 0.5, 3];
    const want = v.map((x) => (x > 0 ? lambda * x : lambda * alpha * Math.expm1(x)));
    await assertClose(selu(f64(v)), want, { atol: 1e-12 });
    await assertClose(new SELU().forward(f64(v)), want, { atol: 1e-12 });
    gradcheck((x: Tensor) => selu(x), [f64([-1.3, -0.2, 0.4, 2])]);
  });
});

describe('activationByName', () => {
  const v = [-2, -0.5, 0.5, 3];
  const closed: Record<string, (x: number) => number> = {
    linear: (x) => x,
    relu: (x) => Math.max(0, x),
    sigmoid: (x) => 1 / (1 + Math.exp(-x)),
    tanh: Math.tanh,
    elu: (x) => (x > 0 ? x : Math.expm1(x)),
    swish: (x) => x / (1 + Math.exp(-x)),
    silu: (x) => x / (1 + Math.exp(-x)),
    softplus: (x) => Math.log1p(Math.exp(x)),
    hard_sigmoid: (x) => Math.min(1, Math.max(0, x / 6 + 0.5)),
    leaky_relu: (x) => (x > 0 ? x : 0.01 * x),
  };
  for (const [name, f] of Object.entries(closed)) {
    it(`'${name}' is its closed form`, async () => {
      await assertClose(activationByName(name)(f64(v)), v.map(f), { atol: 1e-12 });
    });
  }
  it("'softmax' and 'log_softmax' act on the last axis", async () => {
    const z = Math.exp(1) + Math.exp(2) + Math.exp(3);
    const want = [Math.exp(1) / z, Math.exp(2) / z, Math.exp(3) / z];
    await assertClose(activationByName('softmax')(tensor([[1, 2, 3]], { dtype: 'float64' })), [want], { atol: 1e-12 });
    await assertClose(activationByName('log_softmax')(tensor([[1, 2, 3]], { dtype: 'float64' })), [want.map(Math.log)], { atol: 1e-12 });
  });
  it('takes our camelCase spellings and any case', () => {
    expect(activationByName('hardSigmoid')).toBe(activationByName('hard_sigmoid'));
    expect(activationByName('leakyRelu')).toBe(activationByName('leaky_relu'));
    expect(activationByName('ReLU')).toBe(activationByName('relu'));
  });
  it('names the closest valid activation for an unknown name', () => {
    expect(() => activationByName('rleu')).toThrow(/unknown activation 'rleu'; did you mean 'relu'\?/);
    expect(() => activationByName('sigmod')).toThrow(/did you mean 'sigmoid'/);
    expect(() => activationByName('banana')).toThrow(/valid: linear, relu/);
  });
  it('knows the Keras names', () => {
    for (const n of ['relu', 'sigmoid', 'tanh', 'softmax', 'linear', 'gelu', 'elu', 'selu', 'swish', 'silu', 'softplus', 'hard_sigmoid', 'leaky_relu', 'log_softmax']) expect(ACTIVATION_NAMES).toContain(n);
  });
});

describe('activation options', () => {
  it('reject unknown keys, naming the layer and our spelling', () => {
    expect(() => new LeakyReLU({ negative_slope: 0.2 } as never)).toThrow("LeakyReLU: unknown option 'negative_slope'; did you mean 'negativeSlope'?");
    expect(() => new Softmax({ axis: 1 } as never)).toThrow("Softmax: unknown option 'axis'; did you mean 'dim'?");
    expect(() => new ReLU({ inplace: true } as never)).toThrow(/ReLU: unknown option 'inplace'/);
    expect(() => new HardSigmoid({ slope: 0.2 } as never)).toThrow(/HardSigmoid: unknown option 'slope'/);
  });
});

describe('HardSigmoid and SELU in configs', () => {
  it('round-trip through moduleToConfig / moduleFromConfig', async () => {
    const back = moduleFromConfig(moduleToConfig(new HardSigmoid()));
    expect(back).toBeInstanceOf(HardSigmoid);
    await assertClose((back.forward as (x: Tensor) => Tensor)(f64([-1.5])), [0.25], { atol: 1e-15 });
    expect(moduleFromConfig(moduleToConfig(new SELU()))).toBeInstanceOf(SELU);
  });
});
