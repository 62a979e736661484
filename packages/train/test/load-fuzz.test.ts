/**
 * Fuzzing loadModel: thousands of malformed saved models (mutated config.json, bad
 * optimizer states, truncated, corrupted or mismatched safetensors) must each be either
 * loaded or rejected with a ModelFileError carrying a message: no other error type, no
 * call over 2 s, no tensor left allocated, and nothing built larger than the input.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { BatchNorm1d, Dropout, LayerNorm, Linear, Model, ReLU, Sequential, input, type AnyModule } from '@ml/nn';
import { manualSeed, memory, randn, serializeSafetensors, tensor } from '@ml/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { ModelFileError, loadModel, modelFromSaved, optimizerOf, saveModel, type SavedModelFiles } from '../src/index.node.js';

// FUZZ_SEED=random (or a number) and FUZZ_RUNS=<n> explore further; the default is fixed
const SEED = process.env.FUZZ_SEED === 'random' ? Math.floor(Math.random() * 2 ** 31) : Number(process.env.FUZZ_SEED ?? 20240517);
const RUNS = Math.max(10_000, Number(process.env.FUZZ_RUNS ?? 10_000));

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
interface Base {
  config: Json;
  weights: Uint8Array;
  optimizer?: Uint8Array;
}

const bases: Base[] = [];

async function saved(model: AnyModule): Promise<Base> {
  const dir = join(mkdtempSync(join(tmpdir(), 'ml-fuzz-')), 'm');
  await saveModel(model, dir);
  const read = (f: string) => new Uint8Array(readFileSync(join(dir, f)));
  let optimizer: Uint8Array | undefined;
  try {
    optimizer = read('optimizer.safetensors');
  } catch {
    optimizer = undefined;
  }
  return { config: JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Json, weights: read('model.safetensors'), optimizer };
}

beforeAll(async () => {
  manualSeed(11);
  const seq = new Sequential([
    new Linear({ inFeatures: 6, outFeatures: 5 }),
    new BatchNorm1d({ numFeatures: 5 }),
    new ReLU(),
    new Dropout({ p: 0.1 }),
    new LayerNorm({ normalizedShape: 5 }),
    new Linear({ inFeatures: 5, outFeatures: 2 }),
  ]);
  seq.compile({ optimizer: 'adam', lr: 0.01, loss: 'mse', metrics: ['mae'] });
  await seq.fit(randn([8, 6]), randn([8, 2]), { epochs: 1, batchSize: 4, verbose: 0 });
  bases.push(await saved(seq));
  const sgd = new Sequential([new Linear({ inFeatures: 3, outFeatures: 2 })]);
  sgd.compile({ optimizer: 'sgd', lr: 0.1, loss: 'mse' });
  await sgd.fit(randn([4, 3]), randn([4, 2]), { epochs: 1, batchSize: 4, verbose: 0 });
  bases.push(await saved(sgd));
  const x = input({ shape: [4] });
  const h = new Linear({ inFeatures: 4, outFeatures: 3, name: 'fz_h' }).call(x);
  const y = new Linear({ inFeatures: 3, outFeatures: 2, name: 'fz_y' }).call(new ReLU({ name: 'fz_r' }).call(h));
  bases.push(await saved(new Model({ inputs: x, outputs: y })));
});

// ---------------------------------------------------------------- mutations

/** Every path into a JSON value, as keys. */
function paths(v: Json, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (Array.isArray(v)) v.forEach((e, i) => paths(e, [...prefix, i], out));
  else if (v !== null && typeof v === 'object') for (const [k, e] of Object.entries(v)) paths(e, [...prefix, k], out);
  return out;
}

function deepArchitecture(depth: number): string {
  return `${'{"className":"Sequential","config":{},"layers":['.repeat(depth)}{"className":"ReLU","config":{}}${']}'.repeat(depth)}`;
}

const HOSTILE: Json[] = [
  null, true, false, 0, -1, 1.5, 2 ** 31, 2 ** 53, 1e308, -1e308, 20000, 1e6, '', 'x', '1', 'toString', 'constructor', '__proto__', 'valueOf',
  'hasOwnProperty', 'Linear', 'Sequential', 'Model', 'Evil', 'float16', 'same', [], [1], [2, 3], [-1, 5], [null], {}, { tensor: 'toString' },
  { tensor: 'state.0.expAvg' }, { className: 'Linear', config: { inFeatures: 20000, outFeatures: 20000 } }, { __proto__: 1 } as unknown as Json,
];
const CLASS_NAMES = ['Linear', 'Dense', 'Conv2d', 'Conv1d', 'LSTM', 'GRU', 'RNN', 'EchoStateNetwork', 'MultiheadAttention', 'Embedding', 'SinusoidalPositionalEncoding',
  'LearnedPositionalEncoding', 'BatchNorm2d', 'Reshape', 'Concatenate', 'Model', 'Sequential', 'Nope', 'toString', '__proto__', 'constructor'];
const PROTO_KEYS = ['__proto__', 'constructor', 'toString', 'prototype', 'evil'];

const valueArb: fc.Arbitrary<Json> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE) },
  { weight: 1, arbitrary: fc.integer({ min: -5, max: 1 << 24 }) },
  { weight: 1, arbitrary: fc.double({ noNaN: true }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json> },
);

type Mutation =
  | { kind: 'set'; at: number; value: Json }
  | { kind: 'delete'; at: number }
  | { kind: 'addKey'; at: number; key: string; value: Json }
  | { kind: 'className'; at: number; name: string }
  | { kind: 'scaleDim'; at: number; factor: number }
  | { kind: 'deep'; depth: number }
  | { kind: 'text'; cut: number; insert: string }
  | { kind: 'negInf'; at: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: valueArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('addKey' as const), at: fc.nat(), key: fc.constantFrom(...PROTO_KEYS), value: valueArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('className' as const), at: fc.nat(), name: fc.constantFrom(...CLASS_NAMES) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('scaleDim' as const), at: fc.nat(), factor: fc.constantFrom(0, -1, 2, 1000, 1e4, 1e6, 1e9) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('deep' as const), depth: fc.integer({ min: 60, max: 3000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('text' as const), cut: fc.nat(), insert: fc.string({ maxLength: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('negInf' as const), at: fc.nat() }) },
);

function getAt(root: Json, path: (string | number)[]): Json {
  let v = root;
  for (const k of path) v = (v as Record<string, Json>)[k];
  return v;
}

/** Apply mutations to config.json's text. */
function mutateConfig(base: Json, muts: Mutation[]): string {
  const c = structuredClone(base);
  const extras: [string, string][] = [];
  let text: string | null = null;
  let cut: { cut: number; insert: string } | null = null;
  for (const m of muts) {
    if (m.kind === 'deep') {
      (c as Record<string, Json>).architecture = `__RAW${extras.length}__`;
      extras.push([`"__RAW${extras.length}__"`, deepArchitecture(m.depth)]);
      continue;
    }
    if (m.kind === 'text') {
      cut = m;
      continue;
    }
    const all = paths(c);
    const path = all[m.at % all.length];
    const parentPath = path.slice(0, -1);
    const key = path[path.length - 1];
    const parent = path.length > 0 ? (getAt(c, parentPath) as Record<string, Json> | Json[]) : null;
    const target = getAt(c, path);
    const put = (v: Json) => {
      if (parent === null) return;
      Object.defineProperty(parent, key, { value: v, enumerable: true, writable: true, configurable: true });
    };
    switch (m.kind) {
      case 'set':
        put(m.value);
        break;
      case 'delete':
        if (Array.isArray(parent)) parent.splice(key as number, 1);
        else if (parent) delete (parent as Record<string, Json>)[key];
        break;
      case 'addKey':
        if (target !== null && typeof target === 'object' && !Array.isArray(target)) {
          Object.defineProperty(target, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
        }
        break;
      case 'className': {
        const objs = all.map((p) => getAt(c, p)).filter((v): v is Record<string, Json> => v !== null && typeof v === 'object' && !Array.isArray(v) && 'className' in v);
        if (objs.length > 0) objs[m.at % objs.length].className = m.name;
        break;
      }
      case 'scaleDim': {
        const nums = all.filter((p) => typeof getAt(c, p) === 'number');
        if (nums.length > 0) {
          const p = nums[m.at % nums.length];
          const parentOf = getAt(c, p.slice(0, -1)) as Record<string, Json>;
          parentOf[p[p.length - 1]] = (getAt(c, p) as number) * m.factor;
        }
        break;
      }
      case 'negInf': {
        const nums = all.filter((p) => typeof getAt(c, p) === 'number');
        if (nums.length > 0) {
          const p = nums[m.at % nums.length];
          (getAt(c, p.slice(0, -1)) as Record<string, Json>)[p[p.length - 1]] = '__NEGINF__';
          extras.push(['"__NEGINF__"', '-1e999']);
        }
        break;
      }
    }
  }
  text = JSON.stringify(c);
  for (const [from, to] of extras) text = text.replace(from, to);
  if (cut) text = text.slice(0, cut.cut % (text.length + 1)) + cut.insert + text.slice(cut.cut % (text.length + 1));
  return text;
}

type WeightsMutation = { kind: 'keep' } | { kind: 'truncate'; at: number } | { kind: 'flip'; at: number; byte: number } | { kind: 'swap' } | { kind: 'other' } | { kind: 'empty' } | { kind: 'extraKey' };

const weightsArb: fc.Arbitrary<WeightsMutation> = fc.oneof(
  { weight: 8, arbitrary: fc.constant({ kind: 'keep' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }) },
  { weight: 1, arbitrary: fc.constantFrom({ kind: 'swap' as const }, { kind: 'other' as const }, { kind: 'empty' as const }, { kind: 'extraKey' as const }) },
);

let otherWeights: Uint8Array;
let extraKeyWeights: Uint8Array;

function mutateBytes(bytes: Uint8Array, m: WeightsMutation, swap: Uint8Array | undefined): Uint8Array {
  switch (m.kind) {
    case 'keep':
      return bytes;
    case 'truncate':
      return bytes.subarray(0, m.at % bytes.length);
    case 'flip': {
      const out = bytes.slice();
      // mostly the header: that is where a flipped byte changes meaning
      const at = m.at % Math.min(out.length, 8 + 400);
      out[at] = m.byte;
      return out;
    }
    case 'swap':
      return swap ?? new Uint8Array(0);
    case 'other':
      return otherWeights;
    case 'empty':
      return new Uint8Array(0);
    case 'extraKey':
      return extraKeyWeights;
  }
}

interface Outcome {
  loaded: number;
  rejected: number;
  slowest: number;
}

/** Free a loaded model: its parameters and buffers, and its optimizer's state when compiled. */
function release(model: AnyModule): void {
  let opt;
  try {
    opt = optimizerOf(model);
  } catch {
    opt = undefined;
  }
  for (const s of opt?.state.values() ?? []) for (const v of Object.values(s)) if (typeof v !== 'number') v.dispose();
  model.dispose();
}

function runCase(files: SavedModelFiles, outcome: Outcome, inputBytes: number): void {
  const before = memory();
  const t0 = performance.now();
  let model: AnyModule | undefined;
  try {
    model = modelFromSaved(files);
  } catch (e) {
    if (!(e instanceof ModelFileError) || e.message.length < 'loadModel: '.length + 5) {
      throw new Error(`not a ModelFileError with a message: ${String(e)}\nconfig: ${String(files.config).slice(0, 500)}`);
    }
    outcome.rejected++;
  }
  const ms = performance.now() - t0;
  outcome.slowest = Math.max(outcome.slowest, ms);
  if (ms > 2000) throw new Error(`took ${ms.toFixed(0)} ms\nconfig: ${String(files.config).slice(0, 500)}`);
  if (model) {
    outcome.loaded++;
    // a model built from the files holds no more than the files' bytes, times float64/float32
    const bytes = memory().numBytes - before.numBytes;
    if (bytes > 2 * inputBytes + 4096) throw new Error(`a ${inputBytes}-byte input built ${bytes} bytes of tensors`);
    release(model);
  }
  const after = memory();
  if (after.numTensors !== before.numTensors) {
    throw new Error(`left ${after.numTensors - before.numTensors} tensors allocated\nconfig: ${String(files.config).slice(0, 500)}`);
  }
}

describe('loadModel fuzz', () => {
  beforeAll(async () => {
    otherWeights = await serializeSafetensors({ '0.weight': randn([2, 3]), '0.bias': randn([2]), w: tensor([1, 2, 3]) });
    extraKeyWeights = await serializeSafetensors(Object.fromEntries([['constructor', tensor([1])], ['toString', tensor([2])], ['__proto__', tensor([3])]]));
  });

  it('10,000 mutated in-memory saves: each loads or is rejected with a ModelFileError, in under 2 s, leaking nothing', () => {
    const outcome: Outcome = { loaded: 0, rejected: 0, slowest: 0 };
    const heapBefore = process.memoryUsage().heapUsed;
    const t0 = performance.now();
    fc.assert(
      fc.property(
        fc.nat(), fc.array(mutationArb, { minLength: 1, maxLength: 3 }), weightsArb, weightsArb,
        (bi, muts, wm, om) => {
          const base = bases[bi % bases.length];
          const config = mutateConfig(base.config, muts);
          const weights = mutateBytes(base.weights, wm, base.optimizer);
          const optimizer = base.optimizer === undefined ? undefined : mutateBytes(base.optimizer, om, base.weights);
          runCase({ config, weights, optimizer }, outcome, config.length + weights.length + (optimizer?.length ?? 0));
        },
      ),
      { numRuns: RUNS, seed: SEED },
    );
    const seconds = (performance.now() - t0) / 1000;
    console.log(`loadModel fuzz (FUZZ_SEED=${SEED}): ${RUNS} cases in ${seconds.toFixed(1)} s: ${outcome.rejected} rejected, ${outcome.loaded} loaded, slowest ${outcome.slowest.toFixed(0)} ms`);
    expect(outcome.rejected + outcome.loaded).toBe(RUNS);
    expect(outcome.rejected).toBeGreaterThan(7_000);
    // inputs are a few kB: nothing should have grown the heap by more than a few tens of MB
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(256 << 20);
  }, 300_000);

  it('200 mutated saves through real folders (loadModel)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ml-fuzz-dirs-'));
    const rng = fc.sample(fc.tuple(fc.nat(), fc.array(mutationArb, { minLength: 1, maxLength: 2 }), weightsArb), { numRuns: 200, seed: 7 });
    let rejected = 0;
    for (const [k, [bi, muts, wm]] of rng.entries()) {
      const base = bases[bi % bases.length];
      const dir = join(root, String(k));
      mkdirSync(dir);
      writeFileSync(join(dir, 'config.json'), mutateConfig(base.config, muts));
      writeFileSync(join(dir, 'model.safetensors'), mutateBytes(base.weights, wm, base.optimizer));
      if (base.optimizer) writeFileSync(join(dir, 'optimizer.safetensors'), base.optimizer);
      const t0 = performance.now();
      try {
        release(await loadModel(dir));
      } catch (e) {
        expect(e).toBeInstanceOf(ModelFileError);
        rejected++;
      }
      expect(performance.now() - t0).toBeLessThan(2000);
    }
    expect(rejected).toBeGreaterThan(100);
  }, 120_000);
});
