import '@ml/autograd';
import { randn, tensor, manualSeed, type Tensor } from '@ml/tensor';
import { assertClose } from '@ml/tensor/testing';
import { describe, it } from 'vitest';
import { ELU, GELU, LeakyReLU, LogSoftmax, ReLU, SiLU, Sigmoid, Softmax, Softplus, Tanh, type AnyModule } from '../src/index.js';
import { gradcheckLayer } from './helpers.js';

const xs = [-2, -0.5, 0.5, 3];
const run = (m: AnyModule, t: Tensor): Tensor => (m.forward as (x: Tensor) => Tensor)(t);
const erf = (x: number): number => {
  // Abramowitz–Stegun 7.1.26 is too coarse here; integrate the series instead
  let sum = 0;
  let term = x;
  for (let n = 0; n < 60; n++) {
    sum += term / (2 * n + 1);
    term *= (-x * x) / (n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
};

// closed forms, written independently of @ml/tensor
const cases: [string, AnyModule, (x: number) => number][] = [
  ['ReLU', new ReLU(), (x) => Math.max(0, x)],
  ['LeakyReLU(0.2)', new LeakyReLU({ negativeSlope: 0.2 }), (x) => (x > 0 ? x : 0.2 * x)],
  ['ELU(1.5)', new ELU({ alpha: 1.5 }), (x) => (x > 0 ? x : 1.5 * Math.expm1(x))],
  ['GELU', new GELU(), (x) => 0.5 * x * (1 + erf(x / Math.SQRT2))],
  ['GELU tanh', new GELU({ approximate: 'tanh' }), (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)))],
  ['Sigmoid', new Sigmoid(), (x) => 1 / (1 + Math.exp(-x))],
  ['Tanh', new Tanh(), Math.tanh],
  ['SiLU', new SiLU(), (x) => x / (1 + Math.exp(-x))],
  ['Softplus(β=2)', new Softplus({ beta: 2 }), (x) => Math.log1p(Math.exp(2 * x)) / 2],
];

describe('activation modules', () => {
  for (const [name, m, f] of cases) {
    it(`${name} equals its closed form and passes gradcheck`, async () => {
      await assertClose(run(m, tensor(xs, { dtype: 'float64' })), xs.map(f), { atol: 1e-12 });
      manualSeed(1);
      gradcheckLayer(m, [randn([2, 3], { dtype: 'float64' }).add(0.1)], (t) => run(m, t));
    });
  }
  it('Softmax / LogSoftmax along a dim', async () => {
    const x = tensor([[1, 2, 3], [0, 0, 0]], { dtype: 'float64' });
    const e = [1, 2, 3].map(Math.exp);
    const z = e.reduce((a, b) => a + b);
    await assertClose(new Softmax({ dim: 1 }).forward(x), [e.map((v) => v / z), [1 / 3, 1 / 3, 1 / 3]], { atol: 1e-12 });
    await assertClose(new LogSoftmax({ dim: 0 }).forward(x), [[1, 2, 3].map((v) => v - Math.log(Math.exp(v) + 1)), [1, 2, 3].map((v) => -Math.log(Math.exp(v) + 1))], { atol: 1e-12 });
  });
});
