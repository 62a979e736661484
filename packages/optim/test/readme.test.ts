// The README's examples, line for line; what they promise is asserted here.
import '@ml/autograd';
import { crossEntropy, Linear, mseLoss, ReLU, Sequential } from '@ml/nn';
import { manualSeed, randint, randn, tidy } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { Adam, clipGradNorm, CosineAnnealingLR, lrRangeTest, SGD } from '../src/index.js';

describe('README examples', () => {
  it('Adam with a cosine schedule and clipping fits y = Σx; the rate ends at 0', () => {
    manualSeed(0);
    const model = new Linear({ inFeatures: 3, outFeatures: 1 });
    const opt = new Adam(model.parameters(), { lr: 1e-2 });
    const sched = new CosineAnnealingLR(opt, { tMax: 20 });
    const x = randn([64, 3]);
    const y = x.sum(1, true);
    const before = mseLoss(model.forward(x), y).item();
    for (let epoch = 0; epoch < 20; epoch++) {
      tidy(() => {
        opt.zeroGrad();
        mseLoss(model.forward(x), y).backward();
        clipGradNorm(model.parameters(), 1.0);
        opt.step();
      });
      sched.step();
    }
    expect(mseLoss(model.forward(x), y).item()).toBeLessThan(before);
    expect(opt.paramGroups[0].lr).toBeCloseTo(0, 12);
  });

  it('lrRangeTest: rates and losses, a steepest and a lowest-loss rate; parameters put back', () => {
    manualSeed(1);
    // the README's `model` and `loader`: a small classifier and four batches
    const model = new Sequential([new Linear({ inFeatures: 8, outFeatures: 16 }), new ReLU(), new Linear({ inFeatures: 16, outFeatures: 3 })]);
    const loader = Array.from({ length: 4 }, () => ({ x: randn([16, 8]), y: randint(0, 3, [16], { dtype: 'int32' }) }));
    const weightBefore = Array.from(model.parameters()[0].dataSync());

    const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
    const batches = [...loader];
    const r = lrRangeTest(opt, (i) => crossEntropy(model.forward(batches[i % batches.length].x), batches[i % batches.length].y), {
      startLr: 1e-6,
      endLr: 1,
      steps: 100,
    });
    expect(r.lrs.length).toBe(r.smoothed.length);
    expect(r.lrs[0]).toBeCloseTo(1e-6, 12);
    for (const lr of [r.steepestLr, r.minLossLr]) expect(r.lrs).toContain(lr);
    expect(Array.from(model.parameters()[0].dataSync())).toEqual(weightBefore);
    expect(opt.paramGroups[0].lr).toBe(0.01);
  });
});
