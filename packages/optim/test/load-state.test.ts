import '@ml/autograd';
import { tensor, type Tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { Adam, OptimizerStateError, SGD, type OptimizerStateDict } from '../src/index.js';

/** An Adam over one 2-element parameter, after one step, and its state dict as JSON-like data. */
function trained(): { opt: Adam; p: Tensor; sd: OptimizerStateDict } {
  const p = tensor([1, 2]).requiresGrad_(true);
  const opt = new Adam([p], { lr: 0.1 });
  p.grad = tensor([0.5, -0.5]);
  opt.step();
  const sd = opt.stateDict();
  return { opt, p, sd: { state: { ...sd.state }, paramGroups: sd.paramGroups.map((g) => ({ ...g })) } };
}

function rejection(f: () => void): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('accepted');
}

describe('Optimizer.loadStateDict validation', () => {
  const cases: [string, (sd: OptimizerStateDict) => void, RegExp][] = [
    ['lr "x"', (sd) => (sd.paramGroups[0].lr = 'x'), /^Adam\.loadStateDict: paramGroups\[0\]\.lr must be a finite number, got "x"$/],
    ['lr -Infinity', (sd) => (sd.paramGroups[0].lr = -Infinity), /^Adam\.loadStateDict: paramGroups\[0\]\.lr must be a finite number, got -Infinity$/],
    ['lr -1', (sd) => (sd.paramGroups[0].lr = -1), /^Adam\.loadStateDict: paramGroups\[0\]: Adam: invalid learning rate -1 \(must be ≥ 0\)$/],
    ['betas [2, 3]', (sd) => (sd.paramGroups[0].betas = [2, 3]), /^Adam\.loadStateDict: paramGroups\[0\]: Adam: invalid beta1 2 \(must be in \[0, 1\)\)$/],
    ['betas of length 1', (sd) => (sd.paramGroups[0].betas = [0.9]), /paramGroups\[0\]\.betas must be an array of 2 finite numbers, got \[0.9\]$/],
    ['amsgrad "yes"', (sd) => (sd.paramGroups[0].amsgrad = 'yes'), /paramGroups\[0\]\.amsgrad must be a boolean, got "yes"$/],
    ['an unknown option', (sd) => (sd.paramGroups[0].momentum = 0.9), /paramGroups\[0\]\.momentum is not an option of Adam$/],
    ['an inherited option name', (sd) => (sd.paramGroups[0].constructor = 1 as never), /paramGroups\[0\]\.constructor is not an option of Adam$/],
    ['a negative step', (sd) => (sd.state[0] = { ...sd.state[0], step: -1 }), /^Adam\.loadStateDict: state\[0\]\.step must be a non-negative integer, got -1$/],
    ['a fractional step', (sd) => (sd.state[0] = { ...sd.state[0], step: 1.5 }), /state\[0\]\.step must be a non-negative integer, got 1.5$/],
    ['a NaN state number', (sd) => (sd.state[0] = { ...sd.state[0], other: NaN }), /state\[0\]\.other must be a tensor or a finite number, got NaN$/],
    ['a state for no parameter', (sd) => (sd.state[7] = { step: 1 }), /^Adam\.loadStateDict: state\[7\] names no parameter of paramGroups$/],
    ['a state keyed toString', (sd) => Object.defineProperty(sd.state, 'toString', { value: { step: 1 }, enumerable: true }), /state\[toString\] names no parameter/],
    ['a parameter index "0"', (sd) => (sd.paramGroups[0].params = ['0' as never]), /paramGroups\[0\]\.params\[0\] must be a non-negative integer, got "0"$/],
    ['a mis-shaped moment', (sd) => (sd.state[0] = { ...sd.state[0], expAvg: tensor([1, 2, 3]) }), /state 'expAvg' of parameter 0 is \[3\], the parameter \[2\]/],
    ['paramGroups missing', (sd) => delete (sd as Partial<OptimizerStateDict>).paramGroups, /^Adam\.loadStateDict: paramGroups must be an array, got undefined$/],
  ];
  for (const [name, mutate, message] of cases) {
    it(`rejects ${name} and changes nothing`, async () => {
      const { opt, p, sd } = trained();
      const before = JSON.stringify(opt.paramGroups.map(({ params: _, ...o }) => o));
      const moment = Array.from(await (opt.state.get(p)!.expAvg as Tensor).data());
      mutate(sd);
      const e = rejection(() => opt.loadStateDict(sd));
      expect(e.message).toMatch(message);
      expect(JSON.stringify(opt.paramGroups.map(({ params: _, ...o }) => o))).toBe(before);
      expect(Array.from(await (opt.state.get(p)!.expAvg as Tensor).data())).toEqual(moment);
    });
  }

  it('names the field with OptimizerStateError', () => {
    const { opt, sd } = trained();
    sd.paramGroups[0].eps = 'tiny';
    const e = rejection(() => opt.loadStateDict(sd));
    expect(e).toBeInstanceOf(OptimizerStateError);
    expect((e as OptimizerStateError).path).toBe('paramGroups[0].eps');
  });

  it('still loads a valid state (its own, and a JSON round trip of the numbers)', () => {
    const { opt, sd } = trained();
    opt.loadStateDict(sd);
    const sgd = new SGD([tensor([1]).requiresGrad_(true)], { lr: 0.1, momentum: 0.9 });
    sgd.loadStateDict(JSON.parse(JSON.stringify(sgd.stateDict())) as OptimizerStateDict);
    expect(sgd.paramGroups[0].momentum).toBe(0.9);
  });

  it('a loaded betas array is not shared with the state dict', () => {
    const { opt, sd } = trained();
    opt.loadStateDict(sd);
    (sd.paramGroups[0].betas as number[])[0] = 5;
    expect(opt.paramGroups[0].betas[0]).toBe(0.9);
  });
});
