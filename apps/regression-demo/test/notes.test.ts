import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOMParser } from '@xmldom/xmldom';
import { describe, expect, it } from 'vitest';
import { cars } from '../src/cars.js';
import { classify, gaussianGenerative, transforms } from '../src/classify.js';
import { leastSquares, solve } from '../src/linalg.js';
import { descentPaths } from '../src/paths.js';
import { polynomialFit } from '../src/poly.js';

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'regression-demo-'));
const cli = (...args: string[]) => spawnSync(process.execPath, [main, ...args], { encoding: 'utf8' });

describe('closed forms', () => {
  it('solve and least squares reproduce known answers', () => {
    // 2x + y = 5, x − y = 1 → (2, 1); pivoting needed for the zero in the corner
    expect(solve([[2, 1], [1, -1]], [5, 1]).map((v) => Number(v.toFixed(12)))).toEqual([2, 1]);
    expect(solve([[0, 1], [1, 0]], [3, 4])).toEqual([4, 3]);
    expect(() => solve([[1, 2], [2, 4]], [1, 2])).toThrow(/singular/);
    // exact data y = 3a − 2b + 0.5 is recovered exactly
    const X = [[1, 0], [0, 1], [1, 1], [2, -1], [-1, 3]];
    const fit = leastSquares(X, X.map(([a, b]) => 3 * a - 2 * b + 0.5));
    expect(fit.w[0]).toBeCloseTo(3, 10);
    expect(fit.w[1]).toBeCloseTo(-2, 10);
    expect(fit.b).toBeCloseTo(0.5, 10);
  });

  it('paths: the formula and the normal equations agree, and gradient descent reaches them to 1e-4', () => {
    const r = descentPaths({ points: 200, steps: 500, seed: 7 });
    expect(Math.abs(r.formula.w - r.normal.w)).toBeLessThan(1e-10);
    expect(Math.abs(r.formula.b - r.normal.b)).toBeLessThan(1e-10);
    const [gd, sgd, mini] = r.descents;
    expect(Math.abs(gd.w - r.formula.w)).toBeLessThan(1e-4);
    expect(Math.abs(gd.b - r.formula.b)).toBeLessThan(1e-4);
    // the stochastic ones end near the optimum but not on it; every path starts at (−4, 4)
    for (const d of [sgd, mini]) {
      expect(Math.hypot(d.w - r.formula.w, d.b - r.formula.b)).toBeLessThan(0.3);
      expect(d.path[0]).toEqual([-4, 4]);
      expect(d.path).toHaveLength(501);
    }
  });

  it('poly: validation picks the true degree (3), and L2 rescues degree 12', () => {
    const r = polynomialFit({ seed: 42, maxDegree: 12 });
    expect(r.bestDegree).toBe(3);
    // training error only falls with the degree; the test error of degree 12 does not
    for (let i = 1; i < r.degrees.length; i++) expect(r.degrees[i].train).toBeLessThanOrEqual(r.degrees[i - 1].train + 1e-9);
    expect(r.test.maxDegree).toBeGreaterThan(3 * r.test.chosenDegree);
    expect(r.bestLambda).toBeGreaterThan(0);
    expect(r.test.maxDegreeL2).toBeLessThan(r.test.maxDegree / 3);
  });
});

describe('classifiers', () => {
  it('the generative classifier matches its closed form in one dimension', () => {
    // class 0 at {0, 2}, class 1 at {4, 6}: means 1 and 5, shared variance 1, equal priors
    // → w = (5 − 1)/1 = 4, b = −½·25 + ½·1 = −12: the boundary is x = 3
    const g = gaussianGenerative([[0], [2], [4], [6]], [0, 0, 1, 1], [[2.9], [3.1]], [0, 1]);
    expect(g.w[0]).toBeCloseTo(4, 12);
    expect(g.b).toBeCloseTo(-12, 12);
    expect(g.test).toBe(1);
  });

  it('on two Gaussians with a shared covariance, generative and logistic agree within 3 points', () => {
    const r = classify(42);
    expect(r.generative.test).toBeGreaterThan(0.8);
    expect(r.logistic.test).toBeGreaterThan(0.8);
    expect(Math.abs(r.generative.test - r.logistic.test)).toBeLessThan(0.03);
    expect(r.softmax.test).toBeGreaterThan(0.9);
  });

  it('feature transforms: near chance on raw (a, b), ≥ 95% on r and on a·b', () => {
    const r = transforms(42);
    expect(r.circles.raw.test).toBeLessThan(0.65);
    expect(r.xor.raw.test).toBeLessThan(0.7);
    expect(r.circles.radius.test).toBeGreaterThanOrEqual(0.95);
    expect(r.xor.product.test).toBeGreaterThanOrEqual(0.95);
  });

  it('cars: 9 features explain most of MPG; the MLP is at least as good as a line on two features', async () => {
    const r = await cars({ seed: 42, epochs: 150 });
    expect(r.rows).toBe(392);
    expect(r.linear9.r2).toBeGreaterThan(0.8);
    expect(r.linear9.coefficients).toHaveLength(9);
    // heavier cars use more fuel
    expect(r.linear9.coefficients.find((c) => c.feature === 'Weight_in_lbs')!.weight).toBeLessThan(0);
    expect(r.mlp2.rmse).toBeLessThan(r.linear2.rmse * 1.02);
  });
});

describe('CLI', () => {
  it('all: prints the results table and writes valid SVG charts', () => {
    const r = cli('all', '--out', work, '--epochs', '100');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Results\n/);
    expect(r.stdout).toMatch(/classify: test accuracy generative \/ logistic\s+\d+\.\d% \/ \d+\.\d%/);
    expect(r.stdout).toMatch(/transform: circles raw → r\s+\d+\.\d% → (9[5-9]|100)\.\d%/);
    for (const chart of ['loss-surface', 'polynomial', 'logistic', 'softmax', 'circles-raw', 'circles-radius', 'xor-raw', 'xor-product']) {
      const errors: string[] = [];
      const doc = new DOMParser({ onError: (level, msg) => void (level !== 'warning' && errors.push(msg)) }).parseFromString(readFileSync(join(work, `${chart}.svg`), 'utf8'), 'image/svg+xml');
      expect(errors, chart).toEqual([]);
      expect(doc.documentElement?.nodeName).toBe('svg');
    }
  });

  it('bad input: unknown command or flag → exit 2; a broken or incomplete cars file → exit 1 naming the file', () => {
    expect(cli('fit').status).toBe(2);
    expect(cli('fit').stderr).toMatch(/unknown command 'fit'/);
    expect(cli('poly', '--seed', 'x').stderr).toMatch(/--seed expects an integer ≥ 0, got 'x'/);
    const broken = join(work, 'broken.json');
    writeFileSync(broken, '[{"Miles_per_Gallon": 18,');
    const b = cli('cars', '--cars', broken);
    expect(b.status).toBe(1);
    expect(b.stderr).toMatch(/broken\.json/);
    const partial = join(work, 'partial.json');
    writeFileSync(partial, '[{"Miles_per_Gallon": 18, "Horsepower": 130}]');
    const p = cli('cars', '--cars', partial);
    expect(p.status).toBe(1);
    expect(p.stderr).toMatch(/partial\.json: no 'Cylinders' field in the records/);
  });
});
