import { outputFolderInGit } from '@ml/cli-kit';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { fitLine, makeLine } from '../src/line.js';

const defaults = { slope: 2.5, intercept: -1, points: 200, noise: 0.1, steps: 500, lr: 0.1, seed: 42 };

describe('line fit', () => {
  it('gradient descent reaches the closed-form least-squares solution', () => {
    const r = fitLine(defaults);
    expect(Math.abs(r.gd.w - r.closedForm.w)).toBeLessThan(1e-4);
    expect(Math.abs(r.gd.b - r.closedForm.b)).toBeLessThan(1e-4);
    // and both recover the generating line within the noise
    expect(Math.abs(r.closedForm.w - 2.5)).toBeLessThan(0.05);
    expect(Math.abs(r.closedForm.b + 1)).toBeLessThan(0.05);
  });

  it('closed form matches the textbook sums computed here in plain JS', () => {
    const { x, y } = makeLine(defaults);
    const xs = Array.from(x.dataSync());
    const ys = Array.from(y.dataSync());
    const mx = xs.reduce((a, b) => a + b) / xs.length;
    const my = ys.reduce((a, b) => a + b) / ys.length;
    let sxy = 0;
    let sxx = 0;
    xs.forEach((xi, i) => {
      sxy += (xi - mx) * (ys[i] - my);
      sxx += (xi - mx) ** 2;
    });
    const r = fitLine({ ...defaults, steps: 1 });
    expect(r.closedForm.w).toBeCloseTo(sxy / sxx, 4);
    expect(r.closedForm.b).toBeCloseTo(my - (sxy / sxx) * mx, 4);
  });
});

describe('CLI', () => {
  const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
  it('prints the fitted parameters next to the true ones', () => {
    const out = execFileSync(process.execPath, [main, 'line', '--steps', '300'], { encoding: 'utf8' });
    const gd = out.match(/gradient desc\s+(-?\d+\.\d+)\s+(-?\d+\.\d+)/);
    expect(gd).not.toBeNull();
    expect(Math.abs(Number(gd![1]) - 2.5)).toBeLessThan(0.05);
    expect(Math.abs(Number(gd![2]) + 1)).toBeLessThan(0.05);
  });
  it('a learning rate that makes descent diverge is an error naming the step and the largest stable rate, not a table of NaN', () => {
    const r = spawnSync(process.execPath, [main, 'line', '--lr', '10'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stdout).not.toMatch(/NaN/);
    expect(r.stderr).toMatch(/^regression-demo: line: gradient descent diverged at step \d+ .* learning rate 10; on this data it converges only for a rate below 2\/λmax = 0\.\d+/);
  });
  it('--help describes the commands; bad flags exit non-zero with a message', () => {
    expect(execFileSync(process.execPath, [main, '--help'], { encoding: 'utf8' })).toMatch(/Commands:\n\s+line\s+fit y = w·x \+ b/);
    const bad = spawnSync(process.execPath, [main, 'line', '--bogus'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^regression-demo: unknown option --bogus\n/);
    const near = spawnSync(process.execPath, [main, 'line', '--step', '5'], { encoding: 'utf8' });
    expect(near.status).toBe(2);
    expect(near.stderr).toMatch(/unknown option --step; did you mean --steps\b/);
    const negative = spawnSync(process.execPath, [main, 'line', '--steps', '-1'], { encoding: 'utf8' });
    expect(negative.stderr).toMatch(/--steps expects a positive integer, got '-1'/);
    const seed0 = spawnSync(process.execPath, [main, 'line', '--steps', '3', '--seed', '0'], { encoding: 'utf8' });
    expect(seed0.status, seed0.stderr).toBe(0);
    const badNum = spawnSync(process.execPath, [main, 'line', '--steps', 'many'], { encoding: 'utf8' });
    expect(badNum.status).toBe(2);
    expect(badNum.stderr).toMatch(/--steps expects a positive integer, got 'many'/);
    const badBackend = spawnSync(process.execPath, [main, 'line', '--backend', 'gpu'], { encoding: 'utf8' });
    expect(badBackend.status).toBe(2);
    expect(badBackend.stderr).toMatch(/--backend must be cpu, wasm, auto; got 'gpu'/);
  });
});

describe('what the app writes by default', () => {
  it('its default output folder (regression-charts/) is ignored by git and none of it is committed', (ctx) => {
    const git = outputFolderInGit(fileURLToPath(new URL('..', import.meta.url)), 'regression-charts');
    if (git === undefined) return ctx.skip(); // not a git checkout (an unpacked package)
    expect(git).toEqual({ ignored: true, tracked: [] });
  });
});
