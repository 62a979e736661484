import { readFileSync } from 'node:fs';
import '@ml/autograd';
import { memory, tensor, type Tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import {
  AMSGrad,
  Adagrad,
  Adam,
  AdamW,
  CosineAnnealingLR,
  CosineAnnealingWarmRestarts,
  ExponentialLR,
  MultiStepLR,
  RMSprop,
  SGD,
  StepLR,
  clipGradNorm,
  clipGradNormTensor,
  clipGradValue,
  type Optimizer,
} from '../src/index.js';
import { quadratic, rosenbrock, run } from './helpers.js';

interface Ref {
  options: Record<string, number | boolean>;
  start: number[];
  trajectory: number[][];
}
// recorded from PyTorch 1.13 by test/fixtures/optim_reference.py
const refs = JSON.parse(readFileSync(new URL('./fixtures/optim_reference.json', import.meta.url), 'utf8')) as Record<string, Ref>;


/** PyTorch option names → ours */
function make(name: string, z: Tensor, o: Record<string, number | boolean>): Optimizer {
  const lr = o.lr as number;
  const wd = (o.weight_decay as number | undefined) ?? undefined;
  const base = name.split('_')[0];
  switch (base) {
    case 'sgd':
      return new SGD([z], { lr, momentum: o.momentum as number, dampening: o.dampening as number, nesterov: o.nesterov as boolean, weightDecay: wd });
    case 'adagrad':
      return new Adagrad([z], { lr, lrDecay: o.lr_decay as number, weightDecay: wd, initialAccumulatorValue: o.initial_accumulator_value as number });
    case 'rmsprop':
      return new RMSprop([z], { lr, momentum: o.momentum as number, centered: o.centered as boolean, weightDecay: wd });
    case 'adam':
      return new Adam([z], { lr, weightDecay: wd, amsgrad: o.amsgrad as boolean });
    case 'adamw':
      return new AdamW([z], { lr, weightDecay: wd });
  }
  throw new Error(name);
}

function clean<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}


describe('each optimizer reproduces PyTorch 1.13 step by step (float64, 1e-12)', () => {
  for (const [key, ref] of Object.entries(refs)) {
    it(key, () => {
      const [name, fname] = key.split('/');
      const z = tensor(ref.start, { dtype: 'float64', requiresGrad: true });
      const opt = make(name, z, clean(ref.options));
      const f = fname === 'rosenbrock' ? rosenbrock : quadratic;
      run(opt, z, f, ref.trajectory.length, (i) => {
        const got = Array.from(z.dataSync());
        ref.trajectory[i].forEach((v, j) => expect(Math.abs(got[j] - v), `${key} step ${i + 1}`).toBeLessThan(1e-12 * Math.max(1, Math.abs(v))));
      });
    });
  }
  it('the AMSGrad class is Adam with amsgrad', () => {
    const z = tensor([1, 1], { dtype: 'float64', requiresGrad: true });
    expect(new AMSGrad([z]).paramGroups[0].amsgrad).toBe(true);
  });
});

describe('each optimizer minimizes Rosenbrock from (−1.5, 2) to within 1e-2 of (1, 1)', () => {
  const cases: [string, (z: Tensor) => Optimizer, number][] = [
    ['SGD + Nesterov momentum (lr 1e-3, 20,000 steps)', (z) => new SGD([z], { lr: 1e-3, momentum: 0.9, nesterov: true }), 20000],
    ['Adam (lr 0.02, 6,000 steps)', (z) => new Adam([z], { lr: 0.02 }), 6000],
    ['AdamW (lr 0.02, no decay, 6,000 steps)', (z) => new AdamW([z], { lr: 0.02, weightDecay: 0 }), 6000],
    ['AMSGrad (lr 0.02, 6,000 steps)', (z) => new AMSGrad([z], { lr: 0.02 }), 6000],
    ['RMSprop (lr 1e-3, 8,000 steps)', (z) => new RMSprop([z], { lr: 1e-3 }), 8000],
    ['Adagrad (lr 1, 20,000 steps)', (z) => new Adagrad([z], { lr: 1 }), 20000],
  ];
  for (const [name, make, steps] of cases) {
    it(name, () => {
      const z = tensor([-1.5, 2], { dtype: 'float64', requiresGrad: true });
      run(make(z), z, rosenbrock, steps);
      const [x, y] = z.dataSync();
      expect(Math.hypot(x - 1, y - 1)).toBeLessThan(1e-2);
    });
  }
});

describe('state dicts', () => {
  it('a fresh optimizer loaded from the state after step 3 reproduces steps 4–5 exactly', () => {
    const za = tensor([-1.5, 2], { dtype: 'float64', requiresGrad: true });
    const a = new Adam([za], { lr: 0.05, amsgrad: true });
    run(a, za, rosenbrock, 3);
    const sd = a.stateDict();
    const zb = tensor(Array.from(za.dataSync()), { dtype: 'float64', requiresGrad: true });
    const b2 = new Adam([zb], { lr: 0.05, amsgrad: true });
    b2.loadStateDict(sd);
    run(a, za, rosenbrock, 2);
    run(b2, zb, rosenbrock, 2);
    expect(Array.from(zb.dataSync())).toEqual(Array.from(za.dataSync()));
  });
  it('an optimizer can load its own state dict (the tensors are copied before the old state is freed)', () => {
    const z = tensor([-1.5, 2], { dtype: 'float64', requiresGrad: true });
    const a = new Adam([z], { lr: 0.05 });
    run(a, z, rosenbrock, 2);
    const m = Array.from((a.state.get(z)?.expAvg as Tensor).dataSync());
    a.loadStateDict(a.stateDict());
    expect(Array.from((a.state.get(z)?.expAvg as Tensor).dataSync())).toEqual(m);
  });
  it('a state tensor of the wrong shape is rejected and nothing is loaded', () => {
    const z = tensor([1, 1], { requiresGrad: true });
    const w = tensor([1, 1, 1], { requiresGrad: true });
    const a = new SGD([z, w], { lr: 0.1, momentum: 0.9 });
    z.sum().add(w.sum()).backward();
    a.step();
    const sd = a.stateDict();
    const bad = { ...sd, state: { 0: sd.state[0], 1: { momentumBuffer: tensor([1, 2]) } } };
    const fresh = new SGD([tensor([1, 1], { requiresGrad: true }), tensor([1, 1, 1], { requiresGrad: true })], { lr: 0.1, momentum: 0.9 });
    expect(() => fresh.loadStateDict(bad)).toThrow("SGD.loadStateDict: state 'momentumBuffer' of parameter 1 is [2], the parameter [3]");
    expect(fresh.state.size).toBe(0);
  });
  it('a mismatched state is rejected', () => {
    const z = tensor([1, 1], { requiresGrad: true });
    const w = tensor([1], { requiresGrad: true });
    const sd = new SGD([z]).stateDict();
    expect(() => new SGD([{ params: [z] }, { params: [w] }]).loadStateDict(sd)).toThrow(/the state has 1 parameter groups, the optimizer 2/);
  });
  it('per-group options: each group keeps its own lr', () => {
    const z = tensor([1], { requiresGrad: true });
    const w = tensor([1], { requiresGrad: true });
    const opt = new SGD([{ params: [z] }, { params: [w], lr: 0.5 }], { lr: 0.1 });
    z.sum().add(w.sum()).backward();
    opt.step();
    expect(z.item()).toBeCloseTo(0.9, 6);
    expect(w.item()).toBeCloseTo(0.5, 6);
  });
});

describe('schedules follow their formulas', () => {
  const lrs = (make: (o: Optimizer) => { step(): void }, n: number, lr = 0.1): number[] => {
    const opt = new SGD([tensor([1], { requiresGrad: true })], { lr });
    const s = make(opt);
    const out = [opt.paramGroups[0].lr];
    for (let i = 1; i < n; i++) {
      s.step();
      out.push(opt.paramGroups[0].lr);
    }
    return out;
  };
  const close = (a: number[], b: number[]) => a.forEach((v, i) => expect(v).toBeCloseTo(b[i], 12));
  it('StepLR: 0.1·0.5^⌊t/3⌋', () => close(lrs((o) => new StepLR(o, { stepSize: 3, gamma: 0.5 }), 8), [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025]));
  it('MultiStepLR: drops at 2 and 5', () => close(lrs((o) => new MultiStepLR(o, { milestones: [2, 5], gamma: 0.1 }), 7), [0.1, 0.1, 0.01, 0.01, 0.01, 0.001, 0.001]));
  it('ExponentialLR: 0.1·0.9^t', () => close(lrs((o) => new ExponentialLR(o, { gamma: 0.9 }), 5), [0, 1, 2, 3, 4].map((t) => 0.1 * 0.9 ** t)));
  it('CosineAnnealingLR: η_min + ½(η₀ − η_min)(1 + cos(πt/T))', () =>
    close(lrs((o) => new CosineAnnealingLR(o, { tMax: 4, etaMin: 0.01 }), 5), [0, 1, 2, 3, 4].map((t) => 0.01 + 0.045 * (1 + Math.cos((Math.PI * t) / 4)))));
  it('SGDR restarts at epochs 2 and 2 + 4 (T₀ = 2, T_mult = 2)', () => {
    const v = lrs((o) => new CosineAnnealingWarmRestarts(o, { t0: 2, tMult: 2 }), 8);
    expect(v[0]).toBeCloseTo(0.1, 12);
    expect(v[2]).toBeCloseTo(0.1, 12);
    expect(v[6]).toBeCloseTo(0.1, 12);
    expect(v[4]).toBeCloseTo(0.05, 12); // middle of the 4-epoch cycle
  });
  it('bad options throw', () => {
    const opt = new SGD([tensor([1], { requiresGrad: true })]);
    expect(() => new StepLR(opt, { stepSize: 0 })).toThrow(/stepSize must be a positive integer/);
    expect(() => new CosineAnnealingLR(opt, { tMax: 0 })).toThrow(/tMax must be > 0/);
  });
});

describe('gradient clipping', () => {
  it('clipGradNorm scales to maxNorm and returns the total norm', () => {
    const a = tensor([3, 0], { requiresGrad: true });
    const c = tensor([4], { requiresGrad: true });
    a.grad = tensor([3, 0]).keep();
    c.grad = tensor([4]).keep();
    expect(clipGradNorm([a, c], 1)).toBeCloseTo(5, 12);
    expect(a.grad.dataSync()[0]).toBeCloseTo(3 / (5 + 1e-6), 6);
    expect(clipGradNorm([a, c], 10, Infinity)).toBeCloseTo(4 / (5 + 1e-6), 6);
  });
  it('clipGradNormTensor clips as clipGradNorm does and returns the norm as a tensor, reading nothing back', async () => {
    for (const [maxNorm, type] of [[1, 2], [10, Infinity], [0.5, 1], [100, 2]] as const) {
      const grads = () => [tensor([3, 0, -1.5]).keep(), tensor([[4, 0.25]]).keep()];
      const params = () => {
        const ps = [tensor([0, 0, 0], { requiresGrad: true }), tensor([[0, 0]], { requiresGrad: true })];
        grads().forEach((g, i) => (ps[i].grad = g));
        return ps;
      };
      const [a, b] = [params(), params()];
      const want = clipGradNorm(a, maxNorm, type);
      const got = clipGradNormTensor(b, maxNorm, type)!;
      expect(got.shape).toEqual([]);
      expect((await got.data())[0]).toBeCloseTo(want, 5);
      for (let i = 0; i < 2; i++) {
        const [x, y] = [Array.from(await a[i].grad!.data()), Array.from(await b[i].grad!.data())];
        y.forEach((v, j) => expect(v).toBeCloseTo(x[j], 6));
      }
    }
    expect(clipGradNormTensor([tensor([1], { requiresGrad: true })], 1)).toBeNull();
  });
  it('clipGradValue clamps each element', () => {
    const a = tensor([1, 1], { requiresGrad: true });
    a.grad = tensor([-3, 0.5]).keep();
    clipGradValue([a], 1);
    expect(Array.from(a.grad.dataSync())).toEqual([-1, 0.5]);
  });
});

describe('bad options and memory', () => {
  it('clear errors', () => {
    const z = tensor([1], { requiresGrad: true });
    expect(() => new SGD([z], { lr: -0.1 })).toThrow('SGD: invalid learning rate -0.1 (must be ≥ 0)');
    expect(() => new SGD([z], { nesterov: true })).toThrow(/nesterov needs momentum > 0/);
    expect(() => new Adam([z], { betas: [1, 0.999] })).toThrow(/Adam: invalid beta1 1/);
    expect(() => new RMSprop([z], { alpha: -1 })).toThrow(/RMSprop: invalid alpha -1/);
    expect(() => new Adam([])).toThrow(/empty parameter list/);
  });
  it('200 Adam steps keep the tensor count flat', () => {
    const z = tensor([-1.5, 2], { dtype: 'float64', requiresGrad: true });
    const opt = new Adam([z], { lr: 0.01, amsgrad: true });
    run(opt, z, rosenbrock, 5);
    const before = memory().numTensors;
    run(opt, z, rosenbrock, 200);
    expect(memory().numTensors).toBe(before);
  });
});
