import { describe, expect, it } from 'vitest';
import { Generator, manualSeed, rand } from '../src/index.js';

describe('Generator: a seeded generator of plain numbers of its own', () => {
  it('the same seed gives the same numbers, another seed others; uniform in [0, 1) with mean ≈ ½', () => {
    const draw = (seed: number, n: number) => {
      const g = new Generator(seed);
      return Array.from({ length: n }, () => g.random());
    };
    expect(draw(7, 5)).toEqual(draw(7, 5));
    expect(draw(7, 5)).not.toEqual(draw(8, 5));
    const many = draw(1, 20_000);
    expect(Math.min(...many)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...many)).toBeLessThan(1);
    // the mean of 20,000 uniforms has σ = 1/√(12·20000) ≈ 0.002
    expect(Math.abs(many.reduce((a, b) => a + b) / many.length - 0.5)).toBeLessThan(0.01);
    const u = new Generator(3).nextU32();
    expect(Number.isInteger(u) && u >= 0 && u < 2 ** 32).toBe(true);
  });

  it('is independent of the global generator that manualSeed seeds', async () => {
    manualSeed(11);
    const a = Array.from(await rand([4]).data());
    manualSeed(11);
    const g = new Generator(11);
    for (let i = 0; i < 100; i++) g.random();
    expect(Array.from(await rand([4]).data())).toEqual(a);
  });
});
