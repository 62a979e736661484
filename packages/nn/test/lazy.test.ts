import '@ml/autograd';
import { manualSeed, randn, zeros } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { Dense, Dropout, Linear, Sequential, build, isBuilt } from '../src/index.js';

describe('lazy layers: isBuilt and build', () => {
  it('a Dense without input size is unbuilt until its first call, then has weight [units, last dim]', () => {
    const d = new Dense(5);
    expect(isBuilt(d)).toBe(false);
    expect(d.inFeatures).toBeNull();
    const y = d.forward(randn([4, 7]));
    expect(isBuilt(d)).toBe(true);
    expect(d.inFeatures).toBe(7);
    expect(d.weight.shape).toEqual([5, 7]);
    expect(d.bias!.shape).toEqual([5]);
    expect(y.shape).toEqual([4, 5]);
  });

  it('build() runs one forward in eval mode without gradients and restores the training flags', () => {
    const model = new Sequential([new Dense(8), new Dropout({ p: 0.5 }), new Dense(2)]);
    expect(isBuilt(model)).toBe(false);
    expect(model.training).toBe(true);
    let seenTraining: boolean | null = null;
    const drop = model.at(1);
    const f = drop.forward.bind(drop);
    drop.forward = (x) => {
      seenTraining = drop.training;
      return f(x);
    };
    build(model, randn([3, 4]));
    expect(seenTraining).toBe(false);
    expect(isBuilt(model)).toBe(true);
    expect(model.modules().every((m) => m.training)).toBe(true);
    expect(model.parameters().map((p) => p.shape)).toEqual([[8, 4], [8], [2, 8], [2]]);
    expect(model.parameters().every((p) => p.requiresGrad && p.grad === null)).toBe(true);
  });

  it('build() is a no-op on a built model (weights unchanged)', () => {
    const model = new Sequential([new Linear({ inFeatures: 3, outFeatures: 2 })]);
    const before = model.parameters()[0];
    build(model, randn([2, 3]));
    expect(model.parameters()[0]).toBe(before);
    build(model); // no sample needed either
  });

  it('build() without a sample uses the declared input shape, or says what to pass', () => {
    const m1 = new Dense(3);
    expect(() => build(m1)).toThrow(/no declared input shape; pass a sample batch: build\(model, x\)/);
    const m2 = new Sequential([new Dense(3)], { inputShape: [6] });
    expect(isBuilt(m2)).toBe(true);
    expect(m2.at(0).parameters()[0].shape).toEqual([3, 6]);
  });

  it('parameters() of an unbuilt model names the layer and what to do', () => {
    const model = new Sequential([new Dense(4, { name: 'hidden' }), new Dense(1)]);
    expect(() => model.parameters()).toThrow(
      /^parameters: layer 'hidden' \(Dense at '0'\) is not built yet — its inFeatures come from the first input\. Call the model once on a batch \(or build\(model, batch\)\), give the first layer inputDim\/inputShape, or use fit, which builds it$/,
    );
    expect(() => model.stateDict()).toThrow(/^stateDict: layer 'hidden'/);
    expect(() => model.numParameters()).toThrow(/^parameters: layer 'hidden'/);
    model.zeroGrad(); // nothing to clear yet: no error
  });

  it('zeroGrad clears the gradients of a partly built model', () => {
    const model = new Sequential([new Linear({ inFeatures: 2, outFeatures: 2 }), new Dense(1)]);
    const w = model.at(0).parameters()[0];
    model.at(0).forward(randn([3, 2])).sum().backward();
    expect(w.grad).not.toBeNull();
    model.zeroGrad();
    expect(w.grad).toBeNull();
  });

  it('lazy weights use the eager initializer: same seed, same weights as Linear with the size given', () => {
    manualSeed(11);
    const eager = new Linear({ inFeatures: 7, outFeatures: 3 });
    manualSeed(11);
    const lazy = new Dense(3);
    lazy.forward(zeros([1, 7]));
    expect([...lazy.weight.dataSync()]).toEqual([...eager.weight.dataSync()]);
    expect([...lazy.bias!.dataSync()]).toEqual([...eager.bias!.dataSync()]);
  });
});
