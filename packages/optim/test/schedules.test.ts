import { readFileSync } from 'node:fs';
import '@ml/autograd';
import { memory, tensor, type Tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import {
  Adam,
  CosineAnnealingLR,
  CyclicLR,
  LambdaLR,
  LinearLR,
  LinearWarmup,
  OneCycleLR,
  RAdam,
  ReduceLROnPlateau,
  SGD,
  SequentialLR,
  StepLR,
  lrRangeTest,
  type LRScheduler,
  type Optimizer,
} from '../src/index.js';

interface Seq {
  lr: number[];
  momentum: (number | null)[];
  metrics?: number[];
}
// recorded from PyTorch 1.13 by test/fixtures/schedule_reference.py
const ref = JSON.parse(readFileSync(new URL('./fixtures/schedule_reference.json', import.meta.url), 'utf8')) as Record<string, Seq> & {
  radam_rosenbrock_wd: { lr: number; weight_decay: number; trajectory: number[][] };
};

const param = () => tensor([0], { requiresGrad: true });

/** the rate (and momentum or β₁) before each of n steps */
function sequence(opt: Optimizer, sched: { step(m?: number): unknown }, n: number, metrics?: number[]): { lr: number[]; momentum: (number | null)[] } {
  const lr: number[] = [];
  const momentum: (number | null)[] = [];
  for (let i = 0; i < n; i++) {
    const g = opt.paramGroups[0] as unknown as { lr: number; momentum?: number; betas?: [number, number] };
    lr.push(g.lr);
    momentum.push(g.betas ? g.betas[0] : (g.momentum ?? null));
    if (metrics) sched.step(metrics[i]);
    else sched.step();
  }
  return { lr, momentum };
}

function close(got: (number | null)[], want: (number | null)[], what: string): void {
  expect(got.length).toBe(want.length);
  got.forEach((v, i) => expect(Math.abs((v ?? 0) - (want[i] ?? 0)), `${what} at step ${i}`).toBeLessThan(1e-12));
}

describe('schedules reproduce PyTorch 1.13 (rates and cycled momentum, 1e-12)', () => {
  const cases: [string, () => [Optimizer, LRScheduler]][] = [
    ['onecycle_cos_sgd', () => { const o = new SGD([param()], { lr: 0.1, momentum: 0.9 }); return [o, new OneCycleLR(o, { maxLr: 1, totalSteps: 20 })]; }],
    ['onecycle_linear_adam', () => { const o = new Adam([param()], { lr: 0.1 }); return [o, new OneCycleLR(o, { maxLr: 0.01, totalSteps: 15, pctStart: 0.4, annealStrategy: 'linear' })]; }],
    ['onecycle_three_phase', () => { const o = new SGD([param()], { lr: 0.1, momentum: 0.9 }); return [o, new OneCycleLR(o, { maxLr: 1, epochs: 4, stepsPerEpoch: 5, threePhase: true, divFactor: 10, finalDivFactor: 100 })]; }],
    ['cyclic_triangular', () => { const o = new SGD([param()], { lr: 0.1, momentum: 0.9 }); return [o, new CyclicLR(o, { baseLr: 0.1, maxLr: 1, stepSizeUp: 3 })]; }],
    ['cyclic_triangular2_updown', () => { const o = new SGD([param()], { lr: 0.1, momentum: 0.9 }); return [o, new CyclicLR(o, { baseLr: 0.1, maxLr: 1, stepSizeUp: 2, stepSizeDown: 4, mode: 'triangular2' })]; }],
    ['cyclic_exp_range', () => { const o = new SGD([param()], { lr: 0.1, momentum: 0.9 }); return [o, new CyclicLR(o, { baseLr: 0.01, maxLr: 0.1, stepSizeUp: 4, mode: 'exp_range', gamma: 0.95 })]; }],
    ['linear', () => { const o = new SGD([param()], { lr: 0.1 }); return [o, new LinearLR(o, { startFactor: 0.25, totalIters: 4 })]; }],
    ['sequential_linear_cosine', () => {
      const o = new SGD([param()], { lr: 0.1 });
      return [o, new SequentialLR(o, [new LinearLR(o, { startFactor: 0.1, totalIters: 3 }), new CosineAnnealingLR(o, { tMax: 6 })], [3])];
    }],
  ];
  for (const [name, make] of cases) {
    it(name, () => {
      const [opt, sched] = make();
      const want = ref[name];
      const got = sequence(opt, sched, want.lr.length);
      close(got.lr, want.lr, 'lr');
      // PyTorch reports momentum 0 for SGD without momentum; ours leaves it untouched (0)
      close(got.momentum, want.momentum, 'momentum');
    });
  }

  for (const name of ['plateau', 'plateau_max_abs']) {
    it(`ReduceLROnPlateau (${name})`, () => {
      const opt = new SGD([param()], { lr: 1 });
      const want = ref[name];
      const sched =
        name === 'plateau'
          ? new ReduceLROnPlateau(opt, { factor: 0.5, patience: 2, cooldown: 1, minLr: 0.1 })
          : new ReduceLROnPlateau(opt, { mode: 'max', threshold: 0.02, thresholdMode: 'abs', patience: 1 });
      close(sequence(opt, sched, want.lr.length, want.metrics).lr, want.lr, 'lr');
    });
  }

  it('RAdam with weight decay on Rosenbrock (10 steps)', () => {
    const r = ref.radam_rosenbrock_wd;
    const z = tensor([-1.5, 2], { dtype: 'float64', requiresGrad: true });
    const opt = new RAdam([z], { lr: r.lr, weightDecay: r.weight_decay });
    r.trajectory.forEach((want, i) => {
      opt.zeroGrad();
      const [x, y] = [z.index(0), z.index(1)];
      x.neg().add(1).square().add(y.sub(x.square()).square().mul(100)).backward();
      opt.step();
      const got = z.dataSync();
      want.forEach((v, j) => expect(Math.abs(got[j] - v), `step ${i + 1}`).toBeLessThan(1e-12));
    });
  });
});

describe('schedules follow their formulas', () => {
  it('one-cycle peaks at step pctStart·T − 1 and ends at maxLr/(div·finalDiv)', () => {
    const opt = new SGD([param()], { lr: 0.5 });
    const s = new OneCycleLR(opt, { maxLr: 2, totalSteps: 100, pctStart: 0.25 });
    const { lr } = sequence(opt, s, 99);
    expect(lr.indexOf(Math.max(...lr))).toBe(24);
    expect(lr[24]).toBeCloseTo(2, 12);
    expect(lr[0]).toBeCloseTo(2 / 25, 12);
    expect(s.lrAt(99, 2 / 25)).toBeCloseTo(2 / 25 / 1e4, 12);
    // without momentum in the optimizer nothing is cycled
    expect((opt.paramGroups[0] as unknown as { momentum: number }).momentum).toBe(0);
    s.step(); // the 100th step is allowed (a loop of T batches ends with it); one more is not
    expect(() => s.step()).toThrow(/OneCycleLR: stepped 101 times, past totalSteps = 100/);
  });

  it('cyclic (triangular): base at multiples of the cycle, peak at stepSizeUp', () => {
    const opt = new SGD([param()], { lr: 0.5 });
    const { lr } = sequence(opt, new CyclicLR(opt, { baseLr: 0.001, maxLr: 0.006, stepSizeUp: 5 }), 21);
    for (const t of [0, 10, 20]) expect(lr[t]).toBeCloseTo(0.001, 12);
    for (const t of [5, 15]) expect(lr[t]).toBeCloseTo(0.006, 12);
    expect(lr[2]).toBeCloseTo(0.001 + 0.005 * (2 / 5), 12);
  });

  it('linear warm-up composes with any schedule: W steps up, then the schedule from its epoch 0', () => {
    const opt = new SGD([param()], { lr: 0.1 });
    const cosine = new CosineAnnealingLR(opt, { tMax: 10 });
    const { lr } = sequence(opt, new LinearWarmup(opt, { warmupSteps: 4, then: cosine }), 15);
    close(lr.slice(0, 4), [0, 0.025, 0.05, 0.075], 'warm-up');
    close(lr.slice(4), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((t) => 0.05 * (1 + Math.cos((Math.PI * t) / 10))), 'cosine');
    const opt2 = new SGD([param()], { lr: 0.2 });
    const step = new StepLR(opt2, { stepSize: 2, gamma: 0.5 });
    close(sequence(opt2, new LinearWarmup(opt2, { warmupSteps: 2, startFactor: 0.5, then: step }), 7).lr, [0.1, 0.15, 0.2, 0.2, 0.1, 0.1, 0.05], 'warm-up + step');
  });

  it('LambdaLR multiplies the initial rate by f(epoch)', () => {
    const opt = new SGD([param()], { lr: 0.1 });
    close(sequence(opt, new LambdaLR(opt, (e) => 1 / (1 + e)), 4).lr, [0.1, 0.05, 0.1 / 3, 0.025], 'lambda');
  });

  it('per-group rates: a cyclic schedule uses each group’s own bounds', () => {
    const opt = new SGD([{ params: [param()] }, { params: [param()] }], { lr: 1 });
    const s = new CyclicLR(opt, { baseLr: [0.1, 0.2], maxLr: [1, 0.2], stepSizeUp: 1 });
    s.step();
    expect(s.getLastLr()).toEqual([1, 0.2]);
  });

  it('bad options throw clear errors', () => {
    const opt = new SGD([param()]);
    expect(() => new OneCycleLR(opt, { maxLr: 1 })).toThrow(/OneCycleLR: give totalSteps, or epochs and stepsPerEpoch/);
    expect(() => new OneCycleLR(opt, { maxLr: -1, totalSteps: 10 })).toThrow(/maxLr must be > 0/);
    expect(() => new OneCycleLR(opt, { maxLr: 1, totalSteps: 10, pctStart: 1 })).toThrow(/pctStart must be in \(0, 1\)/);
    expect(() => new CyclicLR(opt, { baseLr: 0.1, maxLr: 1, stepSizeUp: 0 })).toThrow(/stepSizeUp and stepSizeDown must be > 0/);
    expect(() => new CyclicLR(opt, { baseLr: [0.1, 0.2], maxLr: 1 })).toThrow(/2 baseLr values for 1 parameter groups/);
    expect(() => new LinearWarmup(opt, { warmupSteps: 0 })).toThrow(/warmupSteps must be a positive integer/);
    expect(() => new SequentialLR(opt, [new LinearLR(opt)], [3])).toThrow(/1 schedules need 0 milestones/);
    expect(() => new ReduceLROnPlateau(opt, { factor: 1 })).toThrow(/factor must be in \(0, 1\)/);
    expect(() => new ReduceLROnPlateau(opt).step(NaN)).toThrow(/the metric is NaN/);
    expect(() => new LambdaLR(opt, () => NaN)).toThrow(/LambdaLR: the factor at epoch 0 is NaN/);
  });
});

describe('lrRangeTest', () => {
  // y = 3x − 1 on 64 points, one linear unit
  const x = tensor(Array.from({ length: 64 }, (_, i) => [i / 32 - 1]));
  const y = x.mul(3).sub(1).keep();
  x.keep();

  function setup(): { w: Tensor; b: Tensor; opt: Optimizer; loss: () => Tensor } {
    const w = tensor([[0.5]], { requiresGrad: true });
    const b = tensor([0], { requiresGrad: true });
    const opt = new SGD([w, b], { lr: 0.01, momentum: 0.9 });
    return { w, b, opt, loss: () => x.matmul(w).add(b).sub(y).square().mean() };
  }

  it('raises the rate geometrically, records the loss, stops on divergence, and restores everything', () => {
    const { w, b, opt, loss } = setup();
    // one real step first so there is optimizer state to restore
    loss().backward();
    opt.step();
    const w0 = w.item();
    const b0 = b.item();
    const buf0 = Array.from((opt.state.get(w)?.momentumBuffer as Tensor).dataSync());
    opt.zeroGrad();
    const before = memory().numTensors;
    const r = lrRangeTest(opt, loss, { startLr: 1e-4, endLr: 10, steps: 100 });
    expect(r.lrs[0]).toBeCloseTo(1e-4, 15);
    for (let i = 1; i < r.lrs.length; i++) expect(r.lrs[i] / r.lrs[i - 1]).toBeCloseTo((10 / 1e-4) ** (1 / 99), 10);
    expect(r.diverged).toBe(true);
    expect(r.lrs.length).toBeLessThan(100);
    // the loss falls by orders of magnitude before it blows up
    expect(Math.min(...r.losses)).toBeLessThan(r.losses[0] / 10);
    expect(Math.min(...r.smoothed)).toBeLessThan(r.smoothed[0] / 5);
    // for this problem (Hessian eigenvalues ≈ 2.7 and 0.6) SGD diverges above ~0.7
    expect(r.steepestLr).toBeGreaterThan(1e-3);
    expect(r.steepestLr).toBeLessThan(1);
    expect(r.minLossLr).toBeGreaterThanOrEqual(r.steepestLr);
    expect(w.item()).toBe(w0);
    expect(b.item()).toBe(b0);
    expect(opt.paramGroups[0].lr).toBe(0.01);
    expect(Array.from((opt.state.get(w)?.momentumBuffer as Tensor).dataSync())).toEqual(buf0);
    expect(memory().numTensors).toBe(before);
  });

  it('bad options', () => {
    const { opt, loss } = setup();
    expect(() => lrRangeTest(opt, loss, { startLr: 1, endLr: 0.1 })).toThrow(/need 0 < startLr < endLr/);
    expect(() => lrRangeTest(opt, () => tensor([1, 2], { requiresGrad: true }).mul(2))).toThrow(/lossAt must return a scalar, got shape \[2\]/);
  });
});
