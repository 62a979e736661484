import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Linear, ReLU, Sequential } from '@ml/nn';
import { manualSeed, memory, randn, serializeSafetensors, tensor } from '@ml/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { ModelFileError, loadModel, saveModel } from '../src/index.node.js';

type Json = Record<string, unknown>;
const tmp = () => mkdtempSync(join(tmpdir(), 'ml-untrusted-'));

let saved: string;
let config: Json;

beforeAll(async () => {
  manualSeed(3);
  const m = new Sequential([new Linear({ inFeatures: 4, outFeatures: 3 }), new ReLU(), new Linear({ inFeatures: 3, outFeatures: 2 })]);
  m.compile({ optimizer: 'adam', lr: 0.01, loss: 'mse', metrics: ['mae'] });
  await m.fit(randn([8, 4]), randn([8, 2]), { epochs: 1, batchSize: 4, verbose: 0 });
  saved = join(tmp(), 'model');
  await saveModel(m, saved);
  config = JSON.parse(readFileSync(join(saved, 'config.json'), 'utf8')) as Json;
});

/** A copy of the saved model with config.json (and optionally other files) replaced. */
function variant(mutate: (c: Json) => void, files: Record<string, Uint8Array | string> = {}): string {
  const dir = join(tmp(), 'model');
  const c = structuredClone(config);
  mutate(c);
  mkdirSync(dir);
  for (const f of ['model.safetensors', 'optimizer.safetensors']) writeFileSync(join(dir, f), readFileSync(join(saved, f)));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(c));
  for (const [f, v] of Object.entries(files)) writeFileSync(join(dir, f), v);
  return dir;
}

async function rejection(dir: string): Promise<Error> {
  try {
    await loadModel(dir);
  } catch (e) {
    return e as Error;
  }
  throw new Error('loadModel accepted the folder');
}

const arch = (c: Json) => c.architecture as { layers: (Json & { config: Json; className?: string })[] };
const optState = (c: Json) => c.optimizer as { state: Record<string, Json>; paramGroups: Json[] };

describe('loadModel on untrusted folders', () => {
  it('loads the untouched folder', async () => {
    const m = await loadModel(saved);
    expect(Object.keys(m.stateDict())).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
  });

  it('rejects a config declaring Linear(20000→20000) against a small weights file before allocating it', async () => {
    const dir = variant((c) => {
      arch(c).layers[0].config = { inFeatures: 20000, outFeatures: 20000, name: 'linear_big' };
    });
    expect(readFileSync(join(dir, 'config.json')).length).toBeLessThan(2000);
    const before = memory().numBytes;
    const t0 = performance.now();
    const e = await rejection(dir);
    const ms = performance.now() - t0;
    expect(e).toBeInstanceOf(ModelFileError);
    expect(e.message).toMatch(/^loadModel: config\.json: architecture describes 400020008 parameter and buffer elements, more than the 23 allowed \(the elements model\.safetensors holds\)$/);
    expect(ms).toBeLessThan(2000);
    expect(memory().numBytes - before).toBeLessThan(1 << 20);
  }, 120_000);

  it('rejects an architecture nested 5,000 levels deep with a clear error', async () => {
    // written by hand: JSON.stringify itself overflows on such a tree
    const deep = `${'{"className":"Sequential","config":{},"layers":['.repeat(5000)}{"className":"ReLU","config":{}}${']}'.repeat(5000)}`;
    const dir = variant((c) => (c.architecture = '__DEEP__'));
    const f = join(dir, 'config.json');
    writeFileSync(f, readFileSync(f, 'utf8').replace('"__DEEP__"', deep));
    const e = await rejection(dir);
    expect(e).toBeInstanceOf(ModelFileError);
    expect(e.message).toMatch(/config\.json: architecture(\.layers\[0\])+ is nested more than 64 levels deep/);
  });

  const optimizerCases: [string, (c: Json) => void, RegExp][] = [
    ['lr "x"', (c) => (optState(c).paramGroups[0].lr = 'x'), /paramGroups\[0\]\.lr must be a finite number, got "x"/],
    ['lr -1e999', (c) => (optState(c).paramGroups[0].lr = '__NEG_INF__'), /paramGroups\[0\]\.lr must be a finite number, got -Infinity/],
    ['betas [2, 3]', (c) => (optState(c).paramGroups[0].betas = [2, 3]), /paramGroups\[0\].*invalid beta1 2/],
    ['step -1', (c) => (optState(c).state['0'].step = -1), /state\[0\]\.step must be a non-negative integer, got -1/],
    ['an unknown option', (c) => (optState(c).paramGroups[0].momentum = 0.9), /paramGroups\[0\]\.momentum is not an option of Adam/],
    ['amsgrad "yes"', (c) => (optState(c).paramGroups[0].amsgrad = 'yes'), /paramGroups\[0\]\.amsgrad must be a boolean, got "yes"/],
    ['a state tensor named toString', (c) => (optState(c).state['0'].expAvg = { tensor: 'toString' }), /optimizer\.safetensors has no tensor 'toString'/],
    ['a state for a parameter that does not exist', (c) => (optState(c).state['9'] = { step: 1 }), /state\[9\] .*no parameter/],
  ];
  for (const [name, mutate, message] of optimizerCases) {
    it(`rejects an optimizer state with ${name}, naming the field`, async () => {
      const dir = variant(mutate);
      const f = join(dir, 'config.json');
      writeFileSync(f, readFileSync(f, 'utf8').replace('"__NEG_INF__"', '-1e999'));
      const e = await rejection(dir);
      expect(e).toBeInstanceOf(ModelFileError);
      expect(e.message).toMatch(/^loadModel: config\.json: optimizer\./);
      expect(e.message).toMatch(message);
    });
  }

  it('rejects compile.loss "toString" (an inherited property name)', async () => {
    const e = await rejection(variant((c) => ((c.compile as Json).loss = 'toString')));
    expect(e).toBeInstanceOf(ModelFileError);
    expect(e.message).toMatch(/config\.json: compile\.loss: unknown loss 'toString'/);
  });

  it('reports weight names such as constructor and toString as unexpected keys', async () => {
    const w = readFileSync(join(saved, 'model.safetensors'));
    const { parseSafetensors } = await import('@ml/tensor');
    const { tensors } = parseSafetensors(w);
    const bytes = await serializeSafetensors({ ...tensors, constructor: tensor([1]), toString: tensor([2]) });
    const e = await rejection(variant(() => undefined, { 'model.safetensors': bytes }));
    expect(e).toBeInstanceOf(ModelFileError);
    expect(e.message).toMatch(/unexpected keys: 'constructor', 'toString'/);
  });

  it('refuses a config.json that is a symlink, without echoing the target', async () => {
    const secret = join(tmp(), 'secret.txt');
    writeFileSync(secret, 'TOP-SECRET-TOKEN=abc123');
    const dir = variant(() => undefined);
    rmSync(join(dir, 'config.json'));
    symlinkSync(secret, join(dir, 'config.json'));
    const e = await rejection(dir);
    expect(e).toBeInstanceOf(ModelFileError);
    expect(e.message).toMatch(/config\.json is a symbolic link/);
    expect(e.message).not.toMatch(/SECRET|abc123/);
  });

  it('does not echo file contents when config.json is not JSON', async () => {
    const dir = variant(() => undefined, { 'config.json': 'TOP-SECRET-TOKEN=abc123' });
    const e = await rejection(dir);
    expect(e).toBeInstanceOf(ModelFileError);
    expect(e.message).toMatch(/config\.json is not valid JSON/);
    expect(e.message).not.toMatch(/SECRET|abc123/);
  });

  const malformed: [string, (c: Json) => void, RegExp][] = [
    ['no architecture', (c) => delete c.architecture, /config\.json: architecture must be an object, got undefined/],
    ['a wrong format', (c) => (c.format = 'other/1'), /config\.json: format must be 'ml-model\/1', got "other\/1"/],
    ['layers not an array', (c) => (arch(c).layers = 5 as never), /config\.json: architecture\.layers must be an array, got 5/],
    ['a layer without className', (c) => delete arch(c).layers[1].className, /config\.json: architecture\.layers\[1\]\.className must be a string, got undefined/],
    ['an unknown class', (c) => (arch(c).layers[1].className = 'Evil'), /config\.json: architecture\.layers\[1\]\.className: unknown layer class "Evil"/],
    ['a prototype class name', (c) => (arch(c).layers[1].className = 'constructor'), /architecture\.layers\[1\]\.className: unknown layer class "constructor"/],
    ['inFeatures "x"', (c) => (arch(c).layers[2].config.inFeatures = 'x'), /config\.json: architecture\.layers\[2\]\.config\.inFeatures must be a positive integer, got "x"/],
    ['config null', (c) => (arch(c).layers[0].config = null as never), /config\.json: architecture\.layers\[0\]\.config must be an object, got null/],
    ['an unknown option', (c) => (arch(c).layers[0].config.evil = 1), /config\.json: architecture\.layers\[0\]\.config\.evil is not an option of Linear/],
    ['bias "no"', (c) => (arch(c).layers[0].config.bias = 'no'), /architecture\.layers\[0\]\.config\.bias must be a boolean, got "no"/],
    ['compile not an object', (c) => (c.compile = 'adam'), /config\.json: compile must be an object, got "adam"/],
    ['compile.metrics with a number', (c) => ((c.compile as Json).metrics = [1]), /config\.json: compile\.metrics\[0\] must be a string, got 1/],
    ['optimizer.paramGroups missing', (c) => delete (optState(c) as Partial<ReturnType<typeof optState>>).paramGroups, /config\.json: optimizer\.paramGroups must be an array, got undefined/],
  ];
  for (const [name, mutate, message] of malformed) {
    it(`rejects a config with ${name}, naming the JSON path`, async () => {
      const e = await rejection(variant(mutate));
      expect(e).toBeInstanceOf(ModelFileError);
      expect(e.message).toMatch(message);
    });
  }
});
