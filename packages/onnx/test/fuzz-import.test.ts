// Malformed ONNX files: at least 10,000 generated cases, each from a valid small model (built
// with onnx-proto's encoder, not the exporter, or exported by PyTorch) broken one way — truncated, bits flipped, bytes
// inserted, or its structure changed (wrong or absurd dims, unknown dtypes, wrong raw sizes,
// unknown operators, dangling inputs, cycles, attributes of the wrong type or value, no graph,
// bad opsets). Each case must end, within a time bound, in a model that runs or in an
// OnnxError: never another exception, a hang or a huge allocation (the cases import with
// maxElements 2^20, so what the limit allows is quick to compute). Replay a failure with
// ML_ONNX_FUZZ_SEED=<seed> (printed on failure); ML_ONNX_FUZZ_RUNS scales the count.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { manualSeed, memory, randn, tidy, type Tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { importOnnx, OnnxError } from '../src/index.js';
import { FLOAT, INT64, modelProto, node, type ModelSpec } from './fixtures/graph-builder.js';

const { onnx } = onnxProto;

function fuzzSeed(): number {
  const env = process.env.ML_ONNX_FUZZ_SEED;
  if (env !== undefined && env !== '') {
    const s = Number(env);
    if (!Number.isInteger(s)) throw new Error(`ML_ONNX_FUZZ_SEED must be an integer, got '${env}'`);
    return s | 0;
  }
  return (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0;
}

const w = (name: string, dims: number[]) => ({ name, dataType: FLOAT, dims, values: Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i + name.length)) });
const i64 = (name: string, values: number[]) => ({ name, dataType: INT64, dims: [values.length], values });

interface Seed {
  name: string;
  /** a hand-built model (written with onnx-proto's encoder) … */
  spec?: ModelSpec;
  /** … or a file exported by PyTorch, from test/fixtures/torch */
  file?: string;
  inputs: number[][];
}

const torchDir = new URL('./fixtures/torch/', import.meta.url);

/** A fresh, mutable ModelProto of a seed. */
function protoOf(seed: Seed): OnnxTypes.IModelProto {
  if (seed.spec) return modelProto(seed.spec);
  return onnx.ModelProto.decode(readFileSync(new URL(`${seed.file}.onnx`, torchDir)));
}

const SEEDS: Seed[] = [
  {
    name: 'mlp',
    spec: {
      inputs: [{ name: 'x', dims: ['N', 4] }],
      outputs: ['y'],
      nodes: [node('Gemm', ['x', 'w1', 'b1'], ['h'], { transB: 1 }), node('Relu', ['h'], ['r']), node('Gemm', ['r', 'w2', 'b2'], ['z'], { transB: 1, alpha: { f: 0.5 } }), node('Softmax', ['z'], ['y'], { axis: -1 })],
      initializers: [w('w1', [5, 4]), w('b1', [5]), w('w2', [3, 5]), w('b2', [3])],
    },
    inputs: [[2, 4]],
  },
  {
    name: 'cnn',
    spec: {
      inputs: [{ name: 'x', dims: ['N', 1, 6, 6] }],
      outputs: ['y'],
      nodes: [
        node('Conv', ['x', 'k', 'kb'], ['c'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [1, 1] }),
        node('BatchNormalization', ['c', 's', 'b', 'm', 'v'], ['n'], { epsilon: { f: 1e-5 } }),
        node('MaxPool', ['n'], ['p'], { kernel_shape: [2, 2], strides: [2, 2] }),
        node('AveragePool', ['p'], ['q'], { kernel_shape: [2, 2], pads: [0, 0, 1, 1], count_include_pad: 0 }),
        node('Flatten', ['q'], ['f'], { axis: 1 }),
        node('Gemm', ['f', 'fw'], ['y'], { transB: 1 }),
      ],
      initializers: [w('k', [2, 1, 3, 3]), w('kb', [2]), w('s', [2]), w('b', [2]), w('m', [2]), { name: 'v', dataType: FLOAT, dims: [2], values: [1, 2] }, w('fw', [3, 18])],
    },
    inputs: [[2, 1, 6, 6]],
  },
  {
    name: 'shapes',
    spec: {
      inputs: [{ name: 'x', dims: ['N', 2, 3] }],
      outputs: ['y'],
      nodes: [
        node('Shape', ['x'], ['s']),
        node('Gather', ['s', 'zero'], ['n'], { axis: 0 }),
        node('Unsqueeze', ['n', 'ax'], ['n1']),
        node('Concat', ['n1', 'minus1'], ['shape'], { axis: 0 }),
        node('Reshape', ['x', 'shape'], ['r']),
        node('Slice', ['r', 'st', 'en', 'ax', 'sp'], ['sl']),
        node('Transpose', ['sl'], ['t'], { perm: [1, 0] }),
        node('LayerNormalization', ['t', 'g'], ['ln'], { axis: -1 }),
        node('Unsqueeze', ['ln', 'ax'], ['u']),
        node('ReduceMean', ['u'], ['y'], { axes: [0], keepdims: 0 }),
      ],
      initializers: [{ name: 'zero', dataType: INT64, dims: [], values: [0] }, i64('ax', [0]), i64('minus1', [-1]), i64('st', [0]), i64('en', [6]), i64('sp', [1]), w('g', [2])],
    },
    inputs: [[2, 2, 3]],
  },
  {
    // shapes computed while running: absurd values here must be caught at run time, before allocating
    name: 'runtime-shapes',
    spec: {
      inputs: [{ name: 'x', dims: ['N', 3] }],
      outputs: ['y'],
      nodes: [
        node('ConstantOfShape', ['cs'], ['ones'], { value: { t: { dataType: FLOAT, dims: [1], values: [1] } } }),
        node('Range', ['r0', 'r1', 'r2'], ['r']),
        node('Cast', ['r'], ['rf'], { to: FLOAT }),
        node('Expand', ['x', 'es'], ['xe']),
        node('Mul', ['ones', 'rf'], ['p']),
        node('Add', ['xe', 'p'], ['s']),
        node('Pad', ['s', 'pads'], ['pd']),
        node('Split', ['pd', 'sp'], ['a', 'b'], { axis: 1 }),
        node('Concat', ['b', 'a'], ['y'], { axis: 1 }),
      ],
      initializers: [
        i64('cs', [2, 3]), { name: 'r0', dataType: INT64, dims: [], values: [0] }, { name: 'r1', dataType: INT64, dims: [], values: [3] },
        { name: 'r2', dataType: INT64, dims: [], values: [1] }, i64('es', [2, 3]), i64('pads', [0, 1, 0, 1]), i64('sp', [2, 3]),
      ],
    },
    inputs: [[2, 3]],
  },
  {
    name: 'lstm',
    spec: {
      inputs: [{ name: 'x', dims: [3, 'N', 2] }],
      outputs: ['y', 'yh'],
      nodes: [node('LSTM', ['x', 'W', 'R', 'B'], ['y', 'yh'], { hidden_size: 2, direction: 'bidirectional' })],
      initializers: [w('W', [2, 8, 2]), w('R', [2, 8, 2]), w('B', [2, 16])],
    },
    inputs: [[3, 2, 2]],
  },
  // PyTorch's exports: shape arithmetic (Shape, Gather, Cast, Div, Concat), attention, recurrent
  { name: 'torch transformer_encoder_layer', file: 'transformer_encoder_layer', inputs: [[2, 5, 16]] },
  { name: 'torch lstm_batch_first', file: 'lstm_batch_first', inputs: [[2, 6, 3]] },
  { name: 'torch cnn_bn_pool', file: 'cnn_bn_pool', inputs: [[2, 1, 12, 12]] },
];

const encode = (m: OnnxTypes.IModelProto): Uint8Array => onnx.ModelProto.encode(m).finish();

// ------------------------------------------------------------------ mutations

/** The element limit the cases import with: low enough that every allowed tensor is quick to make. */
const LIMIT = 2 ** 20;
const ABSURD = [-1, -(2 ** 31), LIMIT + 1, 2 ** 28 + 1, 2 ** 31, 2 ** 40, 2 ** 53 - 1];
const dimsArb: fc.Arbitrary<number[]> = fc.oneof(
  fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 4 }),
  fc.array(fc.constantFrom(...ABSURD, 0, 1, 3), { minLength: 1, maxLength: 4 }),
  fc.constant<number[]>([2 ** 14, 2 ** 14, 2]),
);
const nameArb = fc.oneof(fc.constantFrom('', 'nope', 'x', 'y', 'w1', 's', 'h', 'shape', 'c'), fc.string({ maxLength: 4 }));
const opArb = fc.oneof(fc.constantFrom('Foo', 'Conv2D', 'relu', 'If', 'Loop', 'NonMaxSuppression', 'Relu', 'Gemm', 'Reshape', 'Concat', 'Constant', 'LSTM', ''), fc.string({ maxLength: 6 }));
const intsArb = fc.array(fc.oneof(fc.integer({ min: -4, max: 8 }), fc.constantFrom(...ABSURD)), { maxLength: 5 });

type Structural =
  | { kind: 'dims'; init: number; dims: number[] }
  | { kind: 'dtype'; init: number; code: number }
  | { kind: 'raw'; init: number; delta: number }
  | { kind: 'values'; init: number; values: number[] }
  | { kind: 'op'; node: number; op: string; domain: string }
  | { kind: 'input'; node: number; slot: number; name: string }
  | { kind: 'output'; node: number; slot: number; name: string }
  | { kind: 'cycle'; node: number; later: number }
  | { kind: 'attrType'; node: number; attr: number; type: number }
  | { kind: 'attrInts'; node: number; attr: number; ints: number[] }
  | { kind: 'graphInput'; dims: number[]; elemType: number }
  | { kind: 'opset'; version: number; domain: string }
  | { kind: 'drop'; what: 'graph' | 'opset' | 'nodes' | 'outputs' | 'initializers' | 'inputs' };

const structuralArb: fc.Arbitrary<Structural> = fc.oneof(
  fc.record({ kind: fc.constant('dims' as const), init: fc.nat(), dims: dimsArb }),
  fc.record({ kind: fc.constant('dtype' as const), init: fc.nat(), code: fc.integer({ min: -2, max: 40 }) }),
  fc.record({ kind: fc.constant('raw' as const), init: fc.nat(), delta: fc.integer({ min: -9, max: 9 }) }),
  fc.record({ kind: fc.constant('values' as const), init: fc.nat(), values: intsArb }),
  fc.record({ kind: fc.constant('op' as const), node: fc.nat(), op: opArb, domain: fc.constantFrom('', '', 'ai.onnx', 'com.microsoft', 'x') }),
  fc.record({ kind: fc.constant('input' as const), node: fc.nat(), slot: fc.nat({ max: 6 }), name: nameArb }),
  fc.record({ kind: fc.constant('output' as const), node: fc.nat(), slot: fc.nat({ max: 2 }), name: nameArb }),
  fc.record({ kind: fc.constant('cycle' as const), node: fc.nat(), later: fc.nat() }),
  fc.record({ kind: fc.constant('attrType' as const), node: fc.nat(), attr: fc.nat(), type: fc.integer({ min: 0, max: 16 }) }),
  fc.record({ kind: fc.constant('attrInts' as const), node: fc.nat(), attr: fc.nat(), ints: intsArb }),
  fc.record({ kind: fc.constant('graphInput' as const), dims: dimsArb, elemType: fc.constantFrom(1, 1, 1, 7, 8, 0, 99) }),
  fc.record({ kind: fc.constant('opset' as const), version: fc.integer({ min: -1, max: 40 }), domain: fc.constantFrom('', 'ai.onnx', 'ai.onnx.ml') }),
  fc.record({ kind: fc.constant('drop' as const), what: fc.constantFrom('graph', 'opset', 'nodes', 'outputs', 'initializers', 'inputs') }),
);

/** A position in the file as a fraction of its length, uniform (fc.double is uniform over the doubles, not over [0, 1)). */
const posArb = fc.noBias(fc.integer({ min: 0, max: 2 ** 30 - 1 })).map((k) => k / 2 ** 30);

type Mutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'flip'; flips: [number, number][] }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'structure'; changes: Structural[] };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: posArb }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('flip' as const), flips: fc.array(fc.tuple(posArb, fc.nat({ max: 7 })), { minLength: 1, maxLength: 8 }) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('insert' as const), at: posArb, bytes: fc.array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 12 }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('structure' as const), changes: fc.array(structuralArb, { minLength: 1, maxLength: 3 }) }), weight: 4 },
);

function pick<T>(xs: T[] | null | undefined, i: number): T | undefined {
  return xs && xs.length ? xs[i % xs.length] : undefined;
}

function applyStructural(m: OnnxTypes.IModelProto, c: Structural): void {
  if (!m.graph) return;
  const g = m.graph;
  const nodes = g.node ?? [];
  switch (c.kind) {
    case 'dims': { const t = pick(g.initializer, c.init); if (t) t.dims = c.dims; break; }
    case 'dtype': { const t = pick(g.initializer, c.init); if (t) t.dataType = c.code; break; }
    case 'raw': {
      const t = pick(g.initializer, c.init);
      if (t?.rawData) {
        const n = Math.max(0, t.rawData.length + c.delta);
        const raw = new Uint8Array(n);
        raw.set(t.rawData.subarray(0, Math.min(n, t.rawData.length)));
        t.rawData = raw;
      }
      break;
    }
    case 'values': {
      const t = pick(g.initializer, c.init);
      if (t && t.dataType === INT64) {
        const raw = new Uint8Array(8 * c.values.length);
        c.values.forEach((v, i) => new DataView(raw.buffer).setBigInt64(8 * i, BigInt(v), true));
        t.rawData = raw;
        t.dims = [c.values.length];
      }
      break;
    }
    case 'op': { const n = pick(nodes, c.node); if (n) { n.opType = c.op; n.domain = c.domain; } break; }
    case 'input': { const n = pick(nodes, c.node); if (n) { const ins = [...(n.input ?? [])]; ins[Math.min(c.slot, ins.length)] = c.name; n.input = ins.map((s) => s ?? ''); } break; }
    case 'output': { const n = pick(nodes, c.node); if (n) { const outs = [...(n.output ?? [])]; outs[Math.min(c.slot, outs.length)] = c.name; n.output = outs.map((s) => s ?? ''); } break; }
    case 'cycle': {
      const n = pick(nodes, c.node);
      const later = pick(nodes, c.later);
      if (n && later && n.input?.length) n.input = [later.output?.[0] ?? 'x', ...n.input.slice(1)];
      break;
    }
    case 'attrType': { const a = pick(pick(nodes, c.node)?.attribute, c.attr); if (a) a.type = c.type; break; }
    case 'attrInts': {
      const a = pick(pick(nodes, c.node)?.attribute, c.attr);
      if (a) {
        if (a.type === onnx.AttributeProto.AttributeType.INT) a.i = c.ints[0] ?? 0;
        else a.ints = c.ints;
      }
      break;
    }
    case 'graphInput': {
      const input = g.input?.[0];
      if (input) input.type = { tensorType: { elemType: c.elemType, shape: { dim: c.dims.map((d) => ({ dimValue: d })) } } };
      break;
    }
    case 'opset': m.opsetImport = [{ domain: c.domain, version: c.version }]; break;
    case 'drop':
      if (c.what === 'graph') m.graph = null;
      else if (c.what === 'opset') m.opsetImport = [];
      else if (c.what === 'nodes') g.node = nodes.slice(0, Math.floor(nodes.length / 2));
      else if (c.what === 'outputs') g.output = [];
      else if (c.what === 'initializers') g.initializer = (g.initializer ?? []).slice(1);
      else g.input = [];
      break;
  }
}

function mutate(seed: Seed, m: Mutation): Uint8Array {
  if (m.kind === 'structure') {
    const proto = protoOf(seed);
    for (const c of m.changes) applyStructural(proto, c);
    return encode(proto);
  }
  const bytes = encode(protoOf(seed));
  const at = (f: number) => Math.min(bytes.length - 1, Math.floor(f * bytes.length));
  if (m.kind === 'truncate') return bytes.subarray(0, at(m.at));
  if (m.kind === 'insert') {
    const k = at(m.at);
    return Uint8Array.from([...bytes.subarray(0, k), ...m.bytes, ...bytes.subarray(k)]);
  }
  const out = Uint8Array.from(bytes);
  for (const [f, bit] of m.flips) out[at(f)] ^= 1 << bit;
  return out;
}

/** ML_ONNX_FUZZ_REPORT=1 prints how often each kind of rejection occurred (names and numbers blanked). */
function tally(report: Map<string, number>, message: string): void {
  const key = message.replace(/'[^']*'/g, "'…'").replace(/\[[^\]]*\]/g, '[…]').replace(/-?\d+(\.\d+)?(e[+-]?\d+)?/g, 'N').slice(0, 90);
  report.set(key, (report.get(key) ?? 0) + 1);
}

const TIME_BOUND_MS = 2000;

/** Import and run one case: a model that runs, or an OnnxError. Returns which. */
function runCase(seed: Seed, bytes: Uint8Array, inputs: readonly Tensor[], onReject?: (e: OnnxError) => void): 'ran' | 'rejected' {
  try {
    const model = importOnnx(bytes, { maxElements: LIMIT });
    try {
      tidy(() => {
        model.forwardAll(...inputs.slice(0, model.inputNames.length));
      });
    } finally {
      model.dispose();
    }
    return 'ran';
  } catch (e) {
    if (e instanceof OnnxError) {
      onReject?.(e);
      return 'rejected';
    }
    const err = e as Error;
    throw new Error(`${seed.name}: ${err?.name}: ${err?.message}`, { cause: e });
  }
}

const RUNS = Math.round(10_000 * Number(process.env.ML_ONNX_FUZZ_RUNS || 1));

describe('malformed ONNX files are rejected with an OnnxError', () => {
  it('every seed model imports and runs unchanged', () => {
    for (const s of SEEDS) {
      manualSeed(1);
      const outcome = runCase(s, encode(protoOf(s)), s.inputs.map((shape) => randn(shape)), (e) => {
        throw new Error(`seed model ${s.name} is rejected: ${e.message}`);
      });
      expect(outcome).toBe('ran');
    }
  });

  it(`${RUNS} generated cases end in a model or an OnnxError, each within ${TIME_BOUND_MS} ms`, () => {
    const seed = fuzzSeed();
    manualSeed(1);
    const inputs = SEEDS.map((s) => s.inputs.map((shape) => randn(shape).keep()));
    const counts = { ran: 0, rejected: 0 };
    const before = memory().numTensors;
    const report = process.env.ML_ONNX_FUZZ_REPORT ? new Map<string, number>() : null;
    const property = fc.property(fc.nat({ max: SEEDS.length - 1 }), mutationArb, (si, m) => {
      const s = SEEDS[si];
      const bytes = mutate(s, m);
      const t0 = performance.now();
      counts[runCase(s, bytes, inputs[si], report ? (e) => tally(report, e.message) : undefined)]++;
      const ms = performance.now() - t0;
      if (ms > TIME_BOUND_MS) throw new Error(`${s.name}: took ${ms.toFixed(0)} ms`);
    });
    try {
      fc.assert(property, { numRuns: RUNS, seed });
    } catch (e) {
      throw new Error(`ONNX import fuzz failed (ML_ONNX_FUZZ_SEED=${seed}; rerun with ML_ONNX_FUZZ_SEED=${seed})\n${(e as Error).message}`, { cause: e });
    }
    if (report) console.log([...report].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${String(n).padStart(6)}  ${k}`).join('\n'));
    // both outcomes occur, and no case leaked tensors
    expect(counts.ran + counts.rejected).toBe(RUNS);
    expect(counts.rejected).toBeGreaterThan(RUNS / 2);
    expect(counts.ran).toBeGreaterThan(0);
    expect(memory().numTensors).toBe(before);
  }, 120_000);
});
