import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { outputFolderInGit, runScript } from '@ml/cli-kit';
import { describe, expect, it } from 'vitest';

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const out = () => mkdtempSync(join(tmpdir(), 'lessons-'));

describe('CLI', () => {
  it('--help lists the commands; each command has its own --help', () => {
    const r = runScript(main, '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Commands:\n\s+backprop\s+train a small MLP with backpropagation written by hand/);
    for (const [cmd, text] of [
      ['backprop', /δ_l = \(W_\{l\+1\}ᵀ δ_\{l\+1\}\) ⊙ σ'\(z_l\)/],
      ['saddle', /all eigenvalues of H\npositive → local minimum/],
      ['vanishing', /--depth <n>\s+weight layers\s+\(default 10\)/],
      ['sweep', /--max-depth <n>\s+deepest network\s+\(default 4\)/],
    ] as const) {
      const h = runScript(main, cmd, '--help');
      expect(h.code, cmd).toBe(0);
      expect(h.stdout, cmd).toMatch(text);
    }
  });
  it('mistakes are usage errors (exit 2) that say what to do', () => {
    const bad = runScript(main, 'sadle');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^lessons: unknown command 'sadle'; did you mean 'saddle'\?/);
    const wrongFlag = runScript(main, 'saddle', '--epochs', '3');
    expect(wrongFlag.code).toBe(2);
    expect(wrongFlag.stderr).toMatch(/--epochs does not apply to 'saddle' \(it is an option of backprop\)/);
    const typo = runScript(main, 'vanishing', '--dept', '3');
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/unknown option --dept; did you mean --depth\b/);
    const badAct = runScript(main, 'backprop', '--hidden', 'tanh');
    expect(badAct.code).toBe(2);
    expect(badAct.stderr).toMatch(/--hidden must be sigmoid, relu; got 'tanh'/);
  });
  it('saddle prints the classification and the escape, and writes one chart per example', () => {
    const dir = out();
    const r = runScript(main, 'saddle', '--out', dir, '--backend', 'cpu');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/x² − y² at \(0, 0\).*\n\s+eigenvalues -2\.0000, 2\.0000 → saddle\n\s+escape direction u = ±\[0\.0000, 1\.0000\]/);
    expect(r.stdout).toMatch(/x² \+ y² at \(0, 0\).*\n\s+eigenvalues 2\.0000, 2\.0000 → minimum/);
    for (const name of ['bowl', 'cap', 'saddle', 'notes', 'valley']) expect(readFileSync(join(dir, `saddle-${name}.svg`), 'utf8')).toMatch(/^<svg/);
  });
  it('backprop, vanishing and sweep run small and write their charts', () => {
    const dir = out();
    const bp = runScript(main, 'backprop', '--epochs', '50', '--out', dir, '--backend', 'cpu');
    expect(bp.code, bp.stderr).toBe(0);
    const diff = bp.stdout.match(/max \|hand-written − autograd\| over all ∂W, ∂b: (\S+) \(first epoch\), (\S+) \(last\)/);
    expect(diff).not.toBeNull();
    expect(Number(diff![1])).toBeLessThan(1e-10);
    const va = runScript(main, 'vanishing', '--depth', '6', '--width', '16', '--out', dir, '--backend', 'cpu');
    expect(va.code, va.stderr).toBe(0);
    expect(va.stdout.match(/^\s+\d+\s+\S+\s+\S+$/gm)).toHaveLength(6);
    const sw = runScript(main, 'sweep', '--max-depth', '2', '--width', '8', '--steps', '20', '--out', dir, '--backend', 'cpu');
    expect(sw.code, sw.stderr).toBe(0);
    expect(sw.stdout).toMatch(/hidden layers\s+parameters\s+training mse\s+held-out mse\n\s+1\s+25\s/);
    for (const f of ['backprop-cost', 'vanishing', 'sweep']) expect(existsSync(join(dir, `${f}.svg`)), f).toBe(true);
  });
});

describe('what the app writes by default', () => {
  it('its default output folder (lessons-charts/) is ignored by git and none of it is committed', (ctx) => {
    const git = outputFolderInGit(fileURLToPath(new URL('..', import.meta.url)), 'lessons-charts');
    if (git === undefined) return ctx.skip(); // not a git checkout (an unpacked package)
    expect(git).toEqual({ ignored: true, tracked: [] });
  });
});
