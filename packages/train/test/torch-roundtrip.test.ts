// PyTorch round trips, both ways, in float64 for every layer family (issue 19, item 3):
// - here → PyTorch: a model built and saved here (saveModel) becomes a torch module through
//   tooling/torch-bridge/ml_to_torch.py, which runs it on the inputs recorded here; its
//   outputs must equal this library's within 1e-6;
// - PyTorch → here: tooling/torch-bridge/make_torch_cases.py builds seeded torch modules,
//   saves them with torch_to_ml.py and records their inputs and outputs; loadModel here must
//   give the same outputs.
// Needs a python3 that imports torch (CI installs Debian's python3-torch); elsewhere the
// tests are skipped and say why.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { noGrad } from '@ml/autograd';
import * as nn from '@ml/nn';
import type { AnyModule } from '@ml/nn';
import { fromArray, full, isTensor, manualSeed, parseSafetensors, rand, randint, randn, serializeSafetensors, type Tensor } from '@ml/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, saveModel } from '../src/index.node.js';

const BRIDGE = fileURLToPath(new URL('../../../tooling/torch-bridge/', import.meta.url));
const TOL = 1e-6;


/** A python3 that imports torch: $ML_TORCH_PYTHON, python3 on PATH, or Debian's (where python3-torch installs). */
function findTorchPython(): { python: string | null; reason: string } {
  const candidates = [process.env.ML_TORCH_PYTHON, 'python3', '/usr/bin/python3'].filter((c): c is string => !!c);
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8', timeout: 60_000 });
    if (r.status === 0) return { python, reason: '' };
  }
  return { python: null, reason: `no python3 that imports torch (tried ${candidates.join(', ')}; install Debian's python3-torch or set ML_TORCH_PYTHON)` };
}

const { python, reason } = findTorchPython();
if (!python) console.warn(`torch-roundtrip: skipped: ${reason}`);

function py(args: string[]): void {
  const r = spawnSync(python!, args, { encoding: 'utf8', cwd: BRIDGE, timeout: 300_000, env: { ...process.env, OPENBLAS_NUM_THREADS: '1', PYTHONDONTWRITEBYTECODE: '1' } });
  if (r.status !== 0) throw new Error(`python3 ${args.join(' ')} failed (status ${r.status}):\n${r.stderr}${r.stdout}`);
}

/** Tensors of a nested output (arrays of tensors and arrays), depth first. */
function flat(out: unknown): Tensor[] {
  if (out === null || out === undefined) return [];
  if (Array.isArray(out)) return out.flatMap(flat);
  if (isTensor(out)) return [out];
  throw new Error(`unexpected output ${typeof out}`);
}

function run(m: AnyModule, inputs: Tensor[], options?: object): Tensor[] {
  m.eval();
  const args: unknown[] = options ? [...inputs, options] : inputs;
  return noGrad(() => flat((m.forward as (...a: unknown[]) => unknown)(...args)));
}

/** Forward options here and the same tensors as PyTorch keyword arguments. */
interface Masks {
  ours: Record<string, Tensor>;
  torch: Record<string, Tensor>;
}

/** Max |a − b| / max(1, |b|) after checking the shapes agree. */
function compare(name: string, ours: Tensor[], theirs: Tensor[]): number {
  expect(ours.length, `${name}: number of outputs`).toBe(theirs.length);
  let worst = 0;
  ours.forEach((o, i) => {
    expect(o.shape, `${name}: shape of output ${i}`).toEqual(theirs[i].shape);
    const a = o.dataSync();
    const b = theirs[i].dataSync();
    let scale = 0;
    for (let j = 0; j < a.length; j++) {
      worst = Math.max(worst, Math.abs(Number(a[j]) - Number(b[j])) / Math.max(1, Math.abs(Number(b[j]))));
      scale = Math.max(scale, Math.abs(Number(b[j])));
    }
    // a comparison of zeros would pass whatever the weights
    expect(scale, `${name}: output ${i} is all zeros`).toBeGreaterThan(1e-3);
  });
  return worst;
}

/** Every float parameter and buffer random (running variances positive), as a trained model's. */
function randomize(m: AnyModule): AnyModule {
  noGrad(() => {
    for (const [k, t] of Object.entries(m.stateDict())) {
      if (t.dtype === 'int32') t.assign(full(t.shape, 7, { dtype: 'int32' }));
      else if (k.endsWith('running_var')) t.assign(rand(t.shape, { dtype: t.dtype }).add(0.5));
      else t.assign(randn(t.shape, { dtype: t.dtype }).mul(0.5));
    }
  });
  return m;
}

const F64 = { dtype: 'float64' } as const;
const x = (...shape: number[]) => randn(shape, F64);

/** Built here: a model of each family and its inputs. */
function ourCases(): [string, () => [AnyModule, Tensor[], Masks?]][] {
  return [
    ['mlp (Dense with activation, Dropout, Softmax)', () => [new nn.Sequential([new nn.Dense(8, { activation: 'relu', inputDim: 5, ...F64 }), new nn.Dropout({ p: 0.3 }), new nn.Linear({ inFeatures: 8, outFeatures: 3, ...F64 }), new nn.Softmax()]), [x(4, 5)]]],
    ['cnn (Conv2d stride/padding/dilation/groups, BatchNorm2d, pools, Flatten)', () => {
      const m = new nn.Sequential([
        new nn.Conv2d({ inChannels: 2, outChannels: 4, kernelSize: 3, stride: 2, padding: 'same', ...F64 }),
        new nn.BatchNorm2d({ numFeatures: 4, ...F64 }), new nn.ReLU(), new nn.MaxPool2d({ kernelSize: 2, stride: 1, padding: 1 }),
        new nn.Conv2d({ inChannels: 4, outChannels: 4, kernelSize: [2, 3], padding: [1, 0], dilation: [1, 2], groups: 2, activation: 'tanh', ...F64 }),
        new nn.AvgPool2d({ kernelSize: 2, stride: 1, padding: 1, countIncludePad: false }), new nn.Flatten(), new nn.Dense(3, F64),
      ]);
      const input = x(2, 2, 9, 9);
      m.forward(input); // builds the lazy Dense
      return [m, [input]];
    }],
    ['channels-last cnn (even-kernel same padding, pools, global pool)', () => [new nn.Sequential([
      new nn.Conv2d({ inChannels: 2, outChannels: 3, kernelSize: 2, padding: 'same', dataFormat: 'channelsLast', ...F64 }),
      new nn.MaxPool2d({ kernelSize: 2, dataFormat: 'channelsLast' }), new nn.AvgPool2d({ kernelSize: [1, 2], dataFormat: 'channelsLast' }),
      new nn.GlobalMaxPool2d({ dataFormat: 'channelsLast' }), new nn.Linear({ inFeatures: 3, outFeatures: 2, ...F64 }),
    ]), [x(2, 7, 8, 2)]]],
    ['conv1d (same, channels-last, BatchNorm1d, pools)', () => [new nn.Sequential([
      new nn.Conv1d({ inChannels: 3, outChannels: 4, kernelSize: 4, padding: 'same', stride: 2, dataFormat: 'channelsLast', activation: 'elu', ...F64 }),
      new nn.Conv1d({ inChannels: 4, outChannels: 4, kernelSize: 3, padding: 'same', dataFormat: 'channelsLast', ...F64 }),
      new nn.Reshape({ shape: [4, -1] }), new nn.BatchNorm1d({ numFeatures: 4, momentum: null, ...F64 }),
      new nn.MaxPool1d({ kernelSize: 2 }), new nn.AvgPool1d({ kernelSize: 2, stride: 1 }), new nn.GlobalAvgPool2d(),
    ]), [x(2, 11, 3)]]],
    ['LayerNorm and every activation', () => [new nn.Sequential([
      new nn.Linear({ inFeatures: 6, outFeatures: 6, ...F64 }), new nn.LayerNorm({ normalizedShape: 6, ...F64 }), new nn.GELU(), new nn.ELU({ alpha: 0.7 }),
      new nn.LeakyReLU({ negativeSlope: 0.2 }), new nn.SiLU(), new nn.Softplus({ beta: 2 }), new nn.Tanh(), new nn.Sigmoid(), new nn.HardSigmoid(),
      new nn.SELU(), new nn.GELU({ approximate: 'tanh' }), new nn.Activation('leaky_relu'), new nn.Dense(6, { activation: 'selu', inputDim: 6, ...F64 }),
      new nn.Activation('hard_sigmoid'), new nn.Activation('softplus'), new nn.Activation('silu'), new nn.Reshape({ shape: [2, 3] }),
      new nn.LogSoftmax({ dim: 1 }), new nn.Flatten(), new nn.Identity(),
    ]), [x(3, 6)]]],
    ['Embedding', () => [new nn.Sequential([new nn.Embedding({ numEmbeddings: 10, embeddingDim: 4, ...F64 }), new nn.Flatten(), new nn.Linear({ inFeatures: 20, outFeatures: 3, ...F64 })]), [randint(0, 10, [2, 5], { dtype: 'int32' })]]],
    ['RNN (2 layers, relu, batch-first)', () => [new nn.RNN({ inputSize: 3, hiddenSize: 5, numLayers: 2, nonlinearity: 'relu', batchFirst: true, ...F64 }), [x(2, 4, 3)]]],
    ['LSTM (2 layers, bidirectional, time-major)', () => [new nn.LSTM({ inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, ...F64 }), [x(5, 2, 3)]]],
    ['GRU (bidirectional, batch-first)', () => [new nn.GRU({ inputSize: 3, hiddenSize: 4, bidirectional: true, batchFirst: true, ...F64 }), [x(2, 6, 3)]]],
    ['GRUCell', () => [new nn.GRUCell({ inputSize: 3, hiddenSize: 4, ...F64 }), [x(2, 3)]]],
    ['MultiheadAttention (batch-first, cross-attention)', () => [new nn.MultiheadAttention({ embedDim: 8, numHeads: 2, batchFirst: true, ...F64 }), [x(2, 4, 8), x(2, 5, 8), x(2, 5, 8)]]],
    ['MultiheadAttention with a float attention mask and a key padding mask', () => {
      const attn = randn([4, 5], F64);
      // padding: the last key of sample 0 and the last two of sample 1 (no query loses every key)
      const padding = fromArray([false, false, false, false, true, false, false, false, true, true], [2, 5], { dtype: 'bool' });
      return [new nn.MultiheadAttention({ embedDim: 8, numHeads: 2, batchFirst: true, ...F64 }), [x(2, 4, 8), x(2, 5, 8), x(2, 5, 8)],
        { ours: { attnMask: attn, keyPaddingMask: padding }, torch: { attn_mask: attn, key_padding_mask: padding } }];
    }],
    ['TransformerEncoderLayer with a causal mask (post-norm, time-major)', () => {
      const causal = nn.Transformer.generateSquareSubsequentMask(5, F64);
      return [new nn.TransformerEncoderLayer({ dModel: 8, nhead: 2, dimFeedforward: 16, ...F64 }), [x(5, 2, 8)], { ours: { srcMask: causal }, torch: { src_mask: causal } }];
    }],
    ['MultiheadAttention (kdim, vdim)', () => [new nn.MultiheadAttention({ embedDim: 8, numHeads: 4, kdim: 3, vdim: 5, ...F64 }), [x(4, 2, 8), x(5, 2, 3), x(5, 2, 5)]]],
    ['TransformerEncoderLayer (pre-norm, gelu, batch-first)', () => [new nn.TransformerEncoderLayer({ dModel: 8, nhead: 2, dimFeedforward: 16, activation: 'gelu', normFirst: true, batchFirst: true, ...F64 }), [x(2, 5, 8)]]],
    ['TransformerDecoderLayer (post-norm, time-major)', () => [new nn.TransformerDecoderLayer({ dModel: 8, nhead: 4, dimFeedforward: 12, ...F64 }), [x(4, 2, 8), x(6, 2, 8)]]],
    ['Transformer (2 encoder layers, 1 decoder layer, pre-norm, causal target)', () => {
      const causal = nn.Transformer.generateSquareSubsequentMask(3, F64);
      return [new nn.Transformer({ dModel: 8, nhead: 2, numEncoderLayers: 2, numDecoderLayers: 1, dimFeedforward: 12, normFirst: true, ...F64 }), [x(5, 2, 8), x(3, 2, 8)],
        { ours: { tgtMask: causal }, torch: { tgt_mask: causal } }];
    }],
    ['positional encodings', () => [new nn.Sequential([
      new nn.LearnedPositionalEncoding({ dModel: 5, maxLen: 7, batchFirst: true, ...F64 }), new nn.SinusoidalPositionalEncoding({ dModel: 5, maxLen: 9, batchFirst: true, ...F64 }),
    ]), [x(2, 6, 5)]]],
    ['functional Model (two inputs, merges, two outputs)', () => {
      const a = nn.input({ shape: [4], name: 'a', ...F64 });
      const b = nn.input({ shape: [3], name: 'b', ...F64 });
      const ha = new nn.Dense(5, { name: 'da', activation: 'tanh', ...F64 }).call(a);
      const hb = new nn.Dense(5, { name: 'db', ...F64 }).call(b);
      const sum = new nn.Add({ name: 'sum' }).call(ha, hb);
      const diff = new nn.Subtract({ name: 'diff' }).call(ha, hb);
      const prod = new nn.Multiply({ name: 'prod' }).call(sum, diff);
      const avg = new nn.Average({ name: 'avg' }).call(prod, ha);
      const mx = new nn.Maximum({ name: 'mx' }).call(avg, hb);
      const cat = new nn.Concatenate({ name: 'cat' }).call(mx, sum);
      const out = new nn.Dense(2, { name: 'head', ...F64 }).call(cat);
      return [new nn.Model({ inputs: [a, b], outputs: [out, diff] }), [x(3, 4), x(3, 3)]];
    }],
  ];
}

describe.skipIf(!python)('PyTorch round trip (float64, within 1e-6)', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ml-torch-'));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a model saved here runs in PyTorch with the same outputs, for every layer family', async () => {
    manualSeed(19);
    const cases = ourCases();
    const jobs: { folder: string; inputs: string; outputs: string; kwargs?: Record<string, string> }[] = [];
    const expected: Tensor[][] = [];
    for (const [i, [, make]] of cases.entries()) {
      const [model, inputs, masks] = make();
      randomize(model);
      expected.push(run(model, inputs, masks?.ours));
      const folder = join(dir, `ours-${i}`);
      await saveModel(model, folder);
      const tensors: Record<string, Tensor> = Object.fromEntries(inputs.map((t, j) => [`in${j}`, t]));
      const kwargs: Record<string, string> = {};
      for (const [k, t] of Object.entries(masks?.torch ?? {})) {
        tensors[`kw_${k}`] = t;
        kwargs[k] = `kw_${k}`;
      }
      writeFileSync(join(dir, `ours-${i}-in.safetensors`), await serializeSafetensors(tensors));
      jobs.push({ folder, inputs: join(dir, `ours-${i}-in.safetensors`), outputs: join(dir, `ours-${i}-out.safetensors`), kwargs });
    }
    writeFileSync(join(dir, 'jobs.json'), JSON.stringify(jobs));
    py(['ml_to_torch.py', '--batch', join(dir, 'jobs.json')]);
    const report: string[] = [];
    cases.forEach(([name], i) => {
      const { tensors } = parseSafetensors(readFileSync(jobs[i].outputs));
      const theirs = Object.keys(tensors).sort((p, q) => Number(p.slice(3)) - Number(q.slice(3))).map((k) => tensors[k]);
      const err = compare(name, expected[i], theirs);
      report.push(`${name}: ${err.toExponential(1)}`);
      expect(err, name).toBeLessThan(TOL);
    });
    console.log(`here → PyTorch, worst relative difference per case:\n  ${report.join('\n  ')}`);
  });

  it('a PyTorch state_dict (saved by torch_to_ml) loads here with the same outputs, for every layer family (F16/BF16 files too)', async () => {
    const out = join(dir, 'torch');
    py(['make_torch_cases.py', out]);
    const cases = JSON.parse(readFileSync(join(out, 'cases.json'), 'utf8')) as { name: string; tolerance: number }[];
    expect(cases.length).toBeGreaterThanOrEqual(14);
    const report: string[] = [];
    for (const { name, tolerance } of cases) {
      const { tensors } = parseSafetensors(readFileSync(join(out, name, 'io.safetensors')));
      const pick = (prefix: string) => Object.keys(tensors).filter((k) => k.startsWith(prefix)).sort((p, q) => Number(p.slice(prefix.length)) - Number(q.slice(prefix.length))).map((k) => tensors[k]);
      const model = await loadModel(join(out, name, 'model'));
      const err = compare(name, run(model, pick('in')), pick('out'));
      report.push(`${name}: ${err.toExponential(1)}`);
      expect(err, name).toBeLessThan(tolerance);
      expect(tolerance).toBeLessThanOrEqual(1e-5);
    }
    console.log(`PyTorch → here, worst relative difference per case:\n  ${report.join('\n  ')}`);
  });

  it('--emit-py writes a plain module whose state-dict keys and shapes are ours', async () => {
    manualSeed(7);
    const model = new nn.Sequential([
      new nn.Conv2d({ inChannels: 1, outChannels: 2, kernelSize: 3, padding: 'same' }), new nn.BatchNorm2d({ numFeatures: 2 }), new nn.ReLU(),
      new nn.Flatten(), new nn.Dense(4, { activation: 'relu', inputDim: 2 * 5 * 5 }), new nn.Dropout({ p: 0.1 }), new nn.Linear({ inFeatures: 4, outFeatures: 3 }),
    ]);
    const folder = join(dir, 'emit');
    await saveModel(model, folder);
    const source = join(dir, 'emitted_model.py');
    py(['ml_to_torch.py', folder, '--emit-py', source]);
    // the emitted file alone (nothing of tooling/ imported) builds the module
    const probe = 'import json, runpy, sys\nm = runpy.run_path(sys.argv[1])["build"]()\nprint(json.dumps({k: list(v.shape) for k, v in m.state_dict().items()}))';
    const r = spawnSync(python!, ['-c', probe, source], { encoding: 'utf8', cwd: tmpdir(), timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const ours = Object.fromEntries(Object.entries(model.stateDict()).map(([k, t]) => [k, [...t.shape]]));
    expect(JSON.parse(r.stdout)).toEqual(ours);
    expect(readFileSync(source, 'utf8')).toContain('def build(dtype=torch.float32):');
  });

  it('a layer without a PyTorch counterpart is refused, naming it and where it sits', async () => {
    manualSeed(3);
    const model = new nn.Sequential([new nn.Linear({ inFeatures: 2, outFeatures: 2 }), new nn.EchoStateNetwork({ inputSize: 2, reservoirSize: 4, outputSize: 1 }) as unknown as nn.Layer]);
    const folder = join(dir, 'esn');
    await saveModel(model, folder);
    const r = spawnSync(python!, ['ml_to_torch.py', folder], { encoding: 'utf8', cwd: BRIDGE, timeout: 120_000, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim()).toBe('ml_to_torch: architecture.layers[1]: no PyTorch counterpart for EchoStateNetwork in ml_to_torch.py (see README.md for the layers it maps)');
  });

  it('a model whose weights differ from the saved ones is caught (the comparison can fail)', async () => {
    manualSeed(5);
    const model = new nn.Linear({ inFeatures: 3, outFeatures: 2, ...F64 });
    randomize(model);
    const input = x(2, 3);
    const folder = join(dir, 'changed');
    await saveModel(model, folder);
    noGrad(() => model.bias!.assign(model.bias!.add(1e-3)));
    writeFileSync(join(dir, 'changed-in.safetensors'), await serializeSafetensors({ in0: input }));
    py(['ml_to_torch.py', folder, '--inputs', join(dir, 'changed-in.safetensors'), '--outputs', join(dir, 'changed-out.safetensors')]);
    const { tensors } = parseSafetensors(readFileSync(join(dir, 'changed-out.safetensors')));
    expect(compare('changed', run(model, [input]), [tensors.out0])).toBeGreaterThan(5e-4);
  });
});

if (!python) {
  describe('PyTorch round trip', () => {
    it.skip(`skipped: ${reason}`, () => {});
  });
}
