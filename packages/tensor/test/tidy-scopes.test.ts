import { describe, expect, it } from 'vitest';
import { memory, tensor, tidy, type Tensor } from '../src/index.js';

// tidy scopes: which tensors a scope disposes, which move to the enclosing one, and what
// `keep` spares, with scopes nested and tensors made, kept, returned and disposed at each level.

const live = () => memory().numTensors;

// (the tensors below are set inside the scopes: declared with `as` so TypeScript does not narrow them to null)
describe('tidy scopes', () => {
  it('a nested tidy hands its returned tensors to the enclosing one, which disposes them', () => {
    const n0 = live();
    let inner = null as Tensor | null;
    let innerTemp = null as Tensor | null;
    const out = tidy(() => {
      inner = tidy(() => {
        innerTemp = tensor([1, 2]).mul(2);
        return innerTemp.add(1);
      });
      expect(innerTemp?.isDisposed).toBe(true);
      expect(inner.isDisposed).toBe(false);
      return inner.sum();
    });
    expect(inner?.isDisposed).toBe(true); // moved up, then disposed by the outer scope
    expect(out.isDisposed).toBe(false);
    expect(out.dataSync()[0]).toBe(8);
    out.dispose();
    expect(live()).toBe(n0);
  });

  it('keep spares a tensor in every enclosing scope, whichever scope made it', () => {
    const n0 = live();
    let outerKept = null as Tensor | null;
    let innerKept = null as Tensor | null;
    let outerTemp = null as Tensor | null;
    tidy(() => {
      outerTemp = tensor([1]);
      outerKept = tensor([2]);
      tidy(() => {
        outerKept?.keep(); // made by the outer scope, kept from the inner one
        innerKept = tensor([3]).keep();
        tensor([4]);
      });
      expect(innerKept?.isDisposed).toBe(false);
    });
    expect(outerTemp?.isDisposed).toBe(true);
    expect(outerKept?.isDisposed).toBe(false);
    expect(innerKept?.isDisposed).toBe(false);
    expect(live()).toBe(n0 + 2);
    outerKept?.dispose();
    innerKept?.dispose();
    expect(live()).toBe(n0);
  });

  it('a returned tensor made outside the scope stays with its owner; a kept and returned one moves nowhere', () => {
    const n0 = live();
    tidy(() => {
      const outside = tensor([1, 2]);
      const kept = tidy(() => tensor([5]).keep());
      const same = tidy(() => outside);
      expect(same).toBe(outside);
      expect(outside.isDisposed).toBe(false);
      tidy(() => [kept]); // kept: not handed to this scope, so the outer one spares it too
      expect(kept.isDisposed).toBe(false);
      kept.dispose();
    });
    expect(live()).toBe(n0);
  });

  it('a tensor disposed by hand inside a scope, and many tensors returned from a large scope', () => {
    const n0 = live();
    const kept: Tensor[] = [];
    const outer = tidy(() => {
      const list = tidy(() => {
        const made = Array.from({ length: 300 }, (_, i) => tensor([i]));
        made[7].dispose();
        return made.filter((_, i) => i % 3 === 0 && i !== 7);
      });
      expect(list.length).toBe(100);
      expect(list.every((t) => !t.isDisposed)).toBe(true);
      kept.push(list[5].keep());
      return list[10];
    });
    expect(outer.dataSync()[0]).toBe(30);
    expect(kept[0].dataSync()[0]).toBe(15);
    expect(live()).toBe(n0 + 2);
    outer.dispose();
    kept[0].dispose();
    expect(live()).toBe(n0);
  });
});
