import { describe, expect, it } from 'vitest';
import { EXAMPLES, classifyCriticalPoint, criticalPoints } from '../src/saddle.js';

const example = (name: string) => EXAMPLES.find((e) => e.name === name)!;

describe('critical points classified by the Hessian eigenvalues', () => {
  it('x² + y² at 0: a minimum (H = 2I, eigenvalues 2, 2)', () => {
    const cp = classifyCriticalPoint(example('bowl').f, [0, 0]);
    expect(cp.kind).toBe('minimum');
    expect(cp.gradientNorm).toBe(0);
    expect(cp.eigenvalues).toEqual([2, 2]);
    expect(cp.escape).toBeUndefined();
  });
  it('−x² − y² at 0: a maximum (eigenvalues −2, −2)', () => {
    const cp = classifyCriticalPoint(example('cap').f, [0, 0]);
    expect(cp.kind).toBe('maximum');
    expect(cp.eigenvalues).toEqual([-2, -2]);
  });
  it('x² − y² at 0: a saddle; the escape direction is ±[0, 1] and a step along it lowers f by ½λη²', () => {
    const cp = classifyCriticalPoint(example('saddle').f, [0, 0], { step: 0.5 });
    expect(cp.kind).toBe('saddle');
    expect(cp.eigenvalues).toEqual([-2, 2]);
    const [u0, u1] = cp.escape!.direction;
    expect(Math.abs(u0)).toBeLessThan(1e-12);
    expect(Math.abs(u1)).toBeCloseTo(1, 12);
    // f(0, ±0.5) = −0.25 = 0 + ½·(−2)·0.5²
    expect(cp.escape!.plus).toBeCloseTo(-0.25, 12);
    expect(cp.escape!.minus).toBeCloseTo(-0.25, 12);
    expect(cp.escape!.predicted).toBeCloseTo(-0.25, 12);
  });
  it("the notes' L = (1 − w₁w₂)² at the origin: H = [[0, −2], [−2, 0]], a saddle, escape along ±[1, 1]/√2", () => {
    const cp = classifyCriticalPoint(example('notes').f, [0, 0]);
    expect(cp.hessian).toEqual([[0, -2], [-2, 0]]);
    expect(cp.kind).toBe('saddle');
    expect(cp.eigenvalues[0]).toBeCloseTo(-2, 12);
    const [u0, u1] = cp.escape!.direction;
    expect(Math.abs(u0)).toBeCloseTo(Math.SQRT1_2, 12);
    expect(u1).toBeCloseTo(u0, 12);
    expect(cp.escape!.plus).toBeLessThan(cp.escape!.before);
  });
  it('at a minimum in a valley of minima one eigenvalue is 0: the test is inconclusive (degenerate)', () => {
    const cp = classifyCriticalPoint(example('valley').f, [1, 1]);
    expect(cp.gradientNorm).toBe(0);
    expect(cp.kind).toBe('degenerate');
    expect(cp.eigenvalues[0]).toBeCloseTo(0, 12);
    expect(cp.eigenvalues[1]).toBeCloseTo(4, 12);
  });
  it('makes one contour chart per example, with the escape path on the saddles', () => {
    const { points, charts } = criticalPoints();
    expect(points.map((p) => p.kind)).toEqual(['minimum', 'maximum', 'saddle', 'saddle', 'degenerate']);
    expect(Object.keys(charts)).toEqual(EXAMPLES.map((e) => `saddle-${e.name}`));
    expect(JSON.stringify(charts['saddle-saddle'])).toMatch(/escape ±u/);
    expect(JSON.stringify(charts['saddle-bowl'])).not.toMatch(/escape/);
  });
});
