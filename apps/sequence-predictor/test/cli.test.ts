import { fileURLToPath } from 'node:url';
import { outputFolderInGit } from '@ml/cli-kit';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DOMParser } from '@xmldom/xmldom';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'sequence-cli-'));

function rows(stdout: string): Map<string, { mae: number; rmse: number }> {
  const out = new Map<string, { mae: number; rmse: number }>();
  for (const m of stdout.matchAll(/^ {2}(last value|seasonal naive|mlp|rnn|lstm|gru|transformer|esn)\s+(\d+\.\d+)\s+(\d+\.\d+)/gm)) out.set(m[1], { mae: Number(m[2]), rmse: Number(m[3]) });
  return out;
}

describe('sequence-predictor CLI', () => {
  let quick: ReturnType<typeof cli>;
  beforeAll(() => {
    quick = cli('--quick', '--series', 'weekly', '--models', 'mlp,gru,transformer,esn', '--out', work);
  });

  it('--help lists the series, models and options', () => {
    const r = cli('--help');
    expect(r.code).toBe(0);
    for (const w of ['--series', 'co2', 'seattle', '--models', 'transformer', 'esn', '--lookback', '--horizon', '--quick']) expect(r.stdout).toContain(w);
  });

  it('--quick prints a table with both baselines and each model, and names the best', () => {
    expect(quick.stderr).toBe('');
    expect(quick.code).toBe(0);
    const t = rows(quick.stdout);
    expect([...t.keys()]).toEqual(['last value', 'seasonal naive', 'mlp', 'gru', 'transformer', 'esn']);
    for (const { mae, rmse } of t.values()) {
      expect(mae).toBeGreaterThan(0);
      expect(rmse).toBeGreaterThanOrEqual(mae);
    }
    // on a weekly pattern the seasonal baseline is far better than repeating the last value
    expect(t.get('seasonal naive')!.mae).toBeLessThan(t.get('last value')!.mae / 2);
    expect(quick.stdout).toMatch(/best: (mlp|gru|transformer|esn), MAE \d+% (below|above) the seasonal-naive baseline/);
    // at the default verbosity each model says when it starts and ends: a full run takes minutes
    for (const m of ['mlp', 'gru', 'transformer', 'esn']) {
      expect(quick.stdout).toMatch(new RegExp(`^ {2}training ${m} \\(.*\\)…$`, 'm'));
      expect(quick.stdout).toMatch(new RegExp(`^ {2}trained ${m} in \\d+\\.\\d s(, \\d+ epochs)?: MAE \\d+\\.\\d{4}$`, 'm'));
    }
  });

  it('--backend webgpu: the same models on the GPU backend (a software GPU here; the ESN solve on cpu), the same errors to 1e-3', (ctx) => {
    const r = cli('--quick', '--series', 'weekly', '--models', 'mlp,gru,transformer,esn', '--backend', 'webgpu', '--out', join(work, 'gpu'));
    if (r.code === 1 && /no WebGPU device/.test(r.stderr) && process.env.ML_REQUIRE_WEBGPU !== '1') ctx.skip();
    expect(r.code, r.stderr).toBe(0);
    const [gpu, here] = [rows(r.stdout), rows(quick.stdout)];
    expect([...gpu.keys()]).toEqual([...here.keys()]);
    for (const [k, { mae }] of here) expect(Math.abs(gpu.get(k)!.mae - mae), k).toBeLessThan(1e-3);
  });

  it('writes a valid SVG chart of the forecast', () => {
    const errors: string[] = [];
    const doc = new DOMParser({ onError: (level, msg) => void (level !== 'warning' && errors.push(msg)) }).parseFromString(readFileSync(join(work, 'weekly-forecast.svg'), 'utf8'), 'image/svg+xml');
    expect(errors).toEqual([]);
    expect(doc.documentElement?.nodeName).toBe('svg');
    // truth, the baseline and the best model: three lines
    expect(doc.getElementsByTagName('path').length).toBeGreaterThanOrEqual(3);
  });

  it('multi-step: --horizon 7 forecasts a week at a time', () => {
    const r = cli('--quick', '--series', 'weekly', '--models', 'mlp', '--horizon', '7', '--out', work);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/lookback 28, horizon 7/);
    expect(rows(r.stdout).has('mlp')).toBe(true);
  });

  it('--windows 7,28,56: the notes’ table, training and held-out loss side by side per window, and its chart', () => {
    expect(cli('--help').stdout).toMatch(/--windows <list> +compare lookback windows, e\.g\. 7,28,56/);
    const r = cli('--windows', '7,28,56', '--quick', '--epochs', '2', '--out', work);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}model +window +train MAE +held-out MAE +params +epochs +train s$/m);
    const table = [...r.stdout.matchAll(/^ {2}linear +(\d+) +(\S+) +(\S+) +(\d+) +(\d+) +\d+\.\d$/gm)].map((m) => ({ window: Number(m[1]), train: Number(m[2]), test: Number(m[3]), params: Number(m[4]) }));
    expect(table.map((t) => t.window)).toEqual([7, 28, 56]);
    expect(table.map((t) => t.params)).toEqual([8, 29, 57]);
    for (const t of table) {
      expect(Number.isFinite(t.train) && t.train > 0).toBe(true);
      expect(Number.isFinite(t.test) && t.test > 0).toBe(true);
    }
    const svg = readFileSync(join(work, 'weekly-windows.svg'), 'utf8');
    expect(svg).toMatch(/^<svg/);
    expect(svg).toMatch(/lookback window \(steps\)/);
    // usage: with --lookback, a bad list, the echo-state network
    expect(cli('--windows', '7,28', '--lookback', '7').stderr).toMatch(/--windows and --lookback exclude each other/);
    expect(cli('--windows', '7,x').stderr).toMatch(/--windows expects positive integers separated by commas, e\.g\. 7,28,56; got '7,x'/);
    expect(cli('--windows', '7,7').stderr).toMatch(/--windows lists a window twice/);
    expect(cli('--windows', '7', '--models', 'esn').stderr).toMatch(/--windows compares models that read a window; esn reads the whole series/);
  });

  it('forecasts a column of the user’s CSV', () => {
    const file = join(work, 'sales.csv');
    const lines = ['day,sales', ...Array.from({ length: 120 }, (_, i) => `${i},${(10 + 3 * Math.sin((2 * Math.PI * i) / 7) + 0.01 * i).toFixed(3)}`)];
    writeFileSync(file, lines.join('\n'));
    const r = cli('--quick', '--csv', file, '--column', 'sales', '--season', '7', '--models', 'esn', '--out', work);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(rows(r.stdout).get('esn')!.mae).toBeLessThan(rows(r.stdout).get('last value')!.mae);
  });

  it('bad input: unknown flag, unknown model, bad numbers → usage message and exit 2', () => {
    for (const args of [['--epoch', '3'], ['--models', 'mlp,cnn'], ['--horizon', '0'], ['--test-fraction', '1'], ['--csv', 'x.csv'], ['--backend', 'gpu']]) {
      const r = cli(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^sequence-predictor: /);
    }
    expect(cli('--epoch', '3').stderr).toMatch(/^sequence-predictor: unknown option --epoch; did you mean --epochs\b/);
    expect(cli('--epochs', '-1').stderr).toMatch(/--epochs expects a positive integer, got '-1'/);
    expect(cli('co2').stderr).toMatch(/unexpected argument 'co2'/);
    expect(cli('--models', 'mlp,cnn').stderr).toMatch(/--models: unknown 'cnn' \(choose from mlp, rnn, lstm, gru, transformer, esn, linear or all\)/);
  });

  it('bad input: a CSV with a bad row, a gap, a missing column, a missing data directory → clear message and exit 1', () => {
    const bad = join(work, 'bad.csv');
    writeFileSync(bad, 'day,sales\n1,10\n2,11\n3,eleven\n4,12\n');
    const r = cli('--csv', bad, '--column', 'sales', '--season', '7');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad\.csv.*line 4.*sales/);
    const gap = join(work, 'gap.csv');
    writeFileSync(gap, 'day,sales\n1,10\n2,\n3,12\n');
    const g = cli('--csv', gap, '--column', 'sales', '--season', '7');
    expect(g.code).toBe(1);
    expect(g.stderr).toMatch(/column 'sales' has 1 missing value \(first at line 3\)/);
    const col = cli('--csv', gap, '--column', 'revenue', '--season', '7');
    expect(col.code).toBe(1);
    expect(col.stderr).toMatch(/column 'revenue', which is not among day, sales/);
    const dir = cli('--series', 'co2', '--data-dir', join(work, 'nowhere'));
    expect(dir.code).toBe(1);
    expect(dir.stderr).toMatch(/nowhere.*co2-concentration\.csv/);
  });
});

describe('what the app writes by default', () => {
  it('its default output folder (forecasts/) is ignored by git and none of it is committed', (ctx) => {
    const git = outputFolderInGit(fileURLToPath(new URL('..', import.meta.url)), 'forecasts');
    if (git === undefined) return ctx.skip(); // not a git checkout (an unpacked package)
    expect(git).toEqual({ ignored: true, tracked: [] });
  });
});
