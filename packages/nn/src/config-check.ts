/**
 * Validation of saved architectures (`ModuleConfig` trees) before anything is built: the
 * tree's shape, every built-in layer's options (types and required fields), the nesting
 * depth, and the number of parameter and buffer elements the architecture describes, so
 * a loader can compare it with a weights file before allocating anything.
 */
import { checkOptions, quoteValue, optionKeys } from '@ml/tensor';
import { ACTIVATION_NAMES, activationByName } from './activation.js';

/** A malformed architecture; `path` is the JSON path of the offending value (`config.layers[2].config.inFeatures`). */
export class ModuleConfigError extends Error {
  readonly path: string;
  readonly detail: string;
  constructor(path: string, detail: string) {
    super(detail.startsWith(':') ? `${path}${detail}` : `${path} ${detail}`);
    this.name = 'ModuleConfigError';
    this.path = path;
    this.detail = detail;
  }
}

const INITIALIZERS = [
  'zeros', 'ones', 'glorotUniform', 'glorotNormal', 'xavierUniform', 'xavierNormal', 'heUniform', 'heNormal', 'kaimingUniform', 'kaimingNormal', 'orthogonal',
] as const;

/** Elements of one sample of a graph input a symbolic call may probe (a probe runs batches of 2 and 3). */
export const MAX_PROBE_ELEMENTS = 1 << 22;

/** A name `activationByName` resolves (Keras's spelling or our camelCase one). */
function knownActivation(name: string): boolean {
  try {
    activationByName(name);
    return true;
  } catch {
    return false;
  }
}

/** A field's check: returns an error detail, or null when the value is fine. */
type FieldCheck = (v: unknown) => string | null;

const isPosInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;
const isNonNegInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isPair = (ok: (x: unknown) => boolean) => (v: unknown): boolean => ok(v) || (Array.isArray(v) && v.length === 2 && v.every(ok));
const got = (what: string) => (v: unknown) => `must be ${what}, got ${quoteValue(v)}`;
const check = (ok: (v: unknown) => boolean, what: string): FieldCheck => (v) => (ok(v) ? null : got(what)(v));

const F = {
  posInt: check(isPosInt, 'a positive integer'),
  nonNegInt: check(isNonNegInt, 'a non-negative integer'),
  int: check((v) => Number.isSafeInteger(v), 'an integer'),
  number: check((v) => typeof v === 'number' && Number.isFinite(v), 'a finite number'),
  numberOrNull: check((v) => v === null || (typeof v === 'number' && Number.isFinite(v)), 'a finite number or null'),
  bool: check((v) => typeof v === 'boolean', 'a boolean'),
  string: check((v) => typeof v === 'string', 'a string'),
  dtype: check((v) => v === 'float32' || v === 'float64', "'float32' or 'float64'"),
  init: check((v) => typeof v === 'string' && (INITIALIZERS as readonly string[]).includes(v), `one of ${INITIALIZERS.join(', ')}`),
  posPair: check(isPair(isPosInt), 'a positive integer or a pair of them'),
  nonNegPair: check(isPair(isNonNegInt), 'a non-negative integer or a pair of them'),
  padding2d: check((v) => v === 'same' || v === 'valid' || isPair(isNonNegInt)(v), "a non-negative integer, a pair of them, 'same' or 'valid'"),
  padding1d: check((v) => v === 'same' || v === 'valid' || isNonNegInt(v), "a non-negative integer, 'same' or 'valid'"),
  posIntOrList: check((v) => isPosInt(v) || (Array.isArray(v) && v.length > 0 && v.length <= 64 && v.every(isPosInt)), 'a positive integer or a non-empty list of them'),
  shape: check((v) => Array.isArray(v) && v.length <= 64 && v.every((d) => Number.isSafeInteger(d) && (d as number) >= -1), 'a list of integers ≥ -1'),
  activation: check((v) => typeof v === 'string' && knownActivation(v), `one of ${ACTIVATION_NAMES.map((n) => `'${n}'`).join(', ')}`),
  dataFormat: check((v) => v === 'channelsFirst' || v === 'channelsLast', "'channelsFirst' or 'channelsLast'"),
  // a Sequential probes one zero sample of this shape to build lazy layers: bounded like a graph input
  inputShape: check(
    (v) => Array.isArray(v) && v.length > 0 && v.length <= 64 && v.every(isPosInt) && v.reduce((a: number, d: number) => a * d, 1) <= MAX_PROBE_ELEMENTS,
    `a non-empty list of positive integers with at most ${MAX_PROBE_ELEMENTS} elements in all`,
  ),
  oneOf: (...values: string[]): FieldCheck => check((v) => typeof v === 'string' && values.includes(v), `one of ${values.map((s) => `'${s}'`).join(', ')}`),
} satisfies Record<string, FieldCheck | ((...a: string[]) => FieldCheck)>;

type Options = Record<string, unknown>;

/** What the loader knows about a built-in layer class. */
interface ClassSpec {
  fields: Record<string, FieldCheck>;
  required?: string[];
  /** parameter and persistent-buffer elements the constructor creates (fields already checked) */
  state?: (o: Options) => number;
  /** elements of non-persistent buffers the constructor computes */
  scratch?: (o: Options) => number;
}

const num = (o: Options, k: string, dflt: number): number => (o[k] === undefined ? dflt : (o[k] as number));
const flag = (o: Options, k: string, dflt: boolean): boolean => (o[k] === undefined ? dflt : (o[k] as boolean));
const pairProduct = (v: unknown): number => (typeof v === 'number' ? v * v : (v as number[])[0] * (v as number[])[1]);

const NAME = { name: F.string };
const WEIGHTED = { ...NAME, dtype: F.dtype };
const plain: ClassSpec = { fields: NAME };

const TRANSFORMER_FIELDS = {
  ...WEIGHTED, dModel: F.posInt, nhead: F.posInt, dimFeedforward: F.posInt, dropout: F.number, activation: F.activation,
  layerNormEps: F.number, batchFirst: F.bool, normFirst: F.bool,
};
/** One Transformer block's parameters: `attentions` attention blocks (4d² + 4d each), the feed-forward pair, one LayerNorm per sub-block. */
const blockState = (d: number, ff: number, attentions: number): number => attentions * (4 * d * d + 4 * d) + (2 * d * ff + ff + d) + (attentions + 1) * 2 * d;
const transformerLayer = (attentions: number): ClassSpec => ({
  fields: TRANSFORMER_FIELDS,
  required: ['dModel', 'nhead'],
  state: (o) => blockState(num(o, 'dModel', 0), num(o, 'dimFeedforward', 2048), attentions),
});

const linear: ClassSpec = {
  fields: { ...WEIGHTED, inFeatures: F.posInt, outFeatures: F.posInt, bias: F.bool, weightInit: F.init, biasInit: F.init, activation: F.activation, inputShape: F.inputShape },
  // a saved architecture records every size (moduleToConfig refuses an unbuilt lazy layer)
  required: ['inFeatures', 'outFeatures'],
  state: (o) => num(o, 'outFeatures', 0) * num(o, 'inFeatures', 0) + (flag(o, 'bias', true) ? num(o, 'outFeatures', 0) : 0),
};
const convState = (kernelArea: (o: Options) => number) => (o: Options): number => {
  const out = num(o, 'outChannels', 0);
  return out * Math.ceil(num(o, 'inChannels', 0) / num(o, 'groups', 1)) * kernelArea(o) + (flag(o, 'bias', true) ? out : 0);
};
const CONV = {
  ...WEIGHTED, inChannels: F.posInt, outChannels: F.posInt, groups: F.posInt, bias: F.bool, weightInit: F.init, biasInit: F.init, activation: F.activation,
  dataFormat: F.dataFormat, inputShape: F.inputShape,
};
const batchNorm: ClassSpec = {
  fields: { ...WEIGHTED, numFeatures: F.posInt, eps: F.number, momentum: F.numberOrNull, affine: F.bool, trackRunningStats: F.bool },
  required: ['numFeatures'],
  state: (o) => (flag(o, 'affine', true) ? 2 * num(o, 'numFeatures', 0) : 0) + (flag(o, 'trackRunningStats', true) ? 2 * num(o, 'numFeatures', 0) + 1 : 0),
};
const GATES = { RNN: 1, LSTM: 4, GRU: 3 } as const;
const RECURRENT_INIT = { ...WEIGHTED, bias: F.bool, weightInit: F.init, biasInit: F.init };
const cell = (gates: number, extra: Record<string, FieldCheck> = {}): ClassSpec => ({
  fields: { ...RECURRENT_INIT, inputSize: F.posInt, hiddenSize: F.posInt, ...extra },
  required: ['inputSize', 'hiddenSize'],
  state: (o) => {
    const rows = gates * num(o, 'hiddenSize', 0);
    return rows * (num(o, 'inputSize', 0) + num(o, 'hiddenSize', 0)) + (flag(o, 'bias', true) ? 2 * rows : 0);
  },
});
const recurrent = (gates: number, extra: Record<string, FieldCheck> = {}): ClassSpec => ({
  fields: { ...RECURRENT_INIT, inputSize: F.posInt, hiddenSize: F.posInt, numLayers: F.posInt, batchFirst: F.bool, dropout: F.number, bidirectional: F.bool, inputShape: F.inputShape, ...extra },
  required: ['inputSize', 'hiddenSize'],
  state: (o) => {
    const h = num(o, 'hiddenSize', 0);
    const dirs = flag(o, 'bidirectional', false) ? 2 : 1;
    const rows = gates * h;
    let n = 0;
    for (let k = 0; k < num(o, 'numLayers', 1); k++) {
      const inSize = k === 0 ? num(o, 'inputSize', 0) : h * dirs;
      n += dirs * (rows * (inSize + h) + (flag(o, 'bias', true) ? 2 * rows : 0));
      if (!Number.isFinite(n)) break; // already far past any file
    }
    return n;
  },
});
const POSITIONAL = { ...WEIGHTED, dModel: F.posInt, maxLen: F.posInt, dropout: F.number, batchFirst: F.bool };
const pool2d = (extra: Record<string, FieldCheck>): ClassSpec => ({
  fields: { ...NAME, kernelSize: F.posPair, stride: F.posPair, padding: F.nonNegPair, dataFormat: F.dataFormat, ...extra },
  required: ['kernelSize'],
});
const pool1d = (extra: Record<string, FieldCheck>): ClassSpec => ({
  fields: { ...NAME, kernelSize: F.posInt, stride: F.posInt, padding: F.nonNegInt, dataFormat: F.dataFormat, ...extra },
  required: ['kernelSize'],
});
const globalPool: ClassSpec = { fields: { ...NAME, dataFormat: F.dataFormat } };
const withDim: ClassSpec = { fields: { ...NAME, dim: F.int } };

/** Every built-in registered class (containers are handled by the tree walk). */
export const BUILTIN_SPECS: ReadonlyMap<string, ClassSpec> = new Map<string, ClassSpec>([
  ['Linear', linear],
  ['Dense', linear],
  ['Identity', plain],
  ['Flatten', { fields: { ...NAME, startDim: F.int, endDim: F.int } }],
  ['Reshape', { fields: { ...NAME, shape: F.shape }, required: ['shape'] }],
  ['Dropout', { fields: { ...NAME, p: F.number } }],
  ['Conv2d', {
    fields: { ...CONV, kernelSize: F.posPair, stride: F.posPair, padding: F.padding2d, dilation: F.posPair },
    required: ['inChannels', 'outChannels', 'kernelSize'],
    state: convState((o) => pairProduct(o.kernelSize)),
  }],
  ['Conv1d', {
    fields: { ...CONV, kernelSize: F.posInt, stride: F.posInt, padding: F.padding1d, dilation: F.posInt },
    required: ['inChannels', 'outChannels', 'kernelSize'],
    state: convState((o) => o.kernelSize as number),
  }],
  ['MaxPool2d', pool2d({ dilation: F.posPair })],
  ['AvgPool2d', pool2d({ countIncludePad: F.bool })],
  ['MaxPool1d', pool1d({ dilation: F.posInt })],
  ['AvgPool1d', pool1d({ countIncludePad: F.bool })],
  ['GlobalAvgPool2d', globalPool],
  ['GlobalMaxPool2d', globalPool],
  ['BatchNorm1d', batchNorm],
  ['BatchNorm2d', batchNorm],
  ['LayerNorm', {
    fields: { ...WEIGHTED, normalizedShape: F.posIntOrList, eps: F.number, elementwiseAffine: F.bool },
    required: ['normalizedShape'],
    state: (o) => {
      const s = o.normalizedShape;
      const size = typeof s === 'number' ? s : (s as number[]).reduce((a, d) => a * d, 1);
      return flag(o, 'elementwiseAffine', true) ? 2 * size : 0;
    },
  }],
  ['Embedding', {
    fields: { ...WEIGHTED, numEmbeddings: F.posInt, embeddingDim: F.posInt, paddingIdx: F.int, weightInit: F.init },
    required: ['numEmbeddings', 'embeddingDim'],
    state: (o) => num(o, 'numEmbeddings', 0) * num(o, 'embeddingDim', 0),
  }],
  ['ReLU', plain],
  ['LeakyReLU', { fields: { ...NAME, negativeSlope: F.number } }],
  ['ELU', { fields: { ...NAME, alpha: F.number } }],
  ['GELU', { fields: { ...NAME, approximate: F.oneOf('none', 'tanh') } }],
  ['Sigmoid', plain],
  ['Tanh', plain],
  ['SiLU', plain],
  ['Softplus', { fields: { ...NAME, beta: F.number } }],
  ['Activation', { fields: { ...NAME, activation: F.activation }, required: ['activation'] }],
  ['HardSigmoid', plain],
  ['SELU', plain],
  ['Softmax', withDim],
  ['LogSoftmax', withDim],
  ['Concatenate', withDim],
  ['Add', plain],
  ['Subtract', plain],
  ['Multiply', plain],
  ['Average', plain],
  ['Maximum', plain],
  ['RNN', recurrent(GATES.RNN, { nonlinearity: F.oneOf('tanh', 'relu') })],
  ['LSTM', recurrent(GATES.LSTM)],
  ['GRU', recurrent(GATES.GRU)],
  ['RNNCell', cell(GATES.RNN, { nonlinearity: F.oneOf('tanh', 'relu') })],
  ['LSTMCell', cell(GATES.LSTM)],
  ['GRUCell', cell(GATES.GRU)],
  ['EchoStateNetwork', {
    fields: {
      ...WEIGHTED, inputSize: F.posInt, reservoirSize: F.posInt, outputSize: F.posInt, spectralRadius: F.number, connectivity: F.number,
      inputScaling: F.number, biasScaling: F.number, leakingRate: F.number, washout: F.nonNegInt,
    },
    required: ['inputSize', 'reservoirSize', 'outputSize'],
    state: (o) => {
      const r = num(o, 'reservoirSize', 0);
      const out = num(o, 'outputSize', 0);
      return r * r + r * num(o, 'inputSize', 0) + r + out * r + out;
    },
  }],
  ['MultiheadAttention', {
    fields: { ...WEIGHTED, embedDim: F.posInt, numHeads: F.posInt, dropout: F.number, bias: F.bool, batchFirst: F.bool, kdim: F.posInt, vdim: F.posInt, weightInit: F.init },
    required: ['embedDim', 'numHeads'],
    state: (o) => {
      const e = num(o, 'embedDim', 0);
      const k = num(o, 'kdim', e);
      const v = num(o, 'vdim', e);
      const bias = flag(o, 'bias', true);
      return (k === e && v === e ? 3 * e * e : e * (e + k + v)) + (bias ? 3 * e : 0) + e * e + (bias ? e : 0);
    },
  }],
  ['TransformerEncoderLayer', transformerLayer(1)],
  ['TransformerDecoderLayer', transformerLayer(2)],
  ['Transformer', {
    fields: { ...TRANSFORMER_FIELDS, numEncoderLayers: F.posInt, numDecoderLayers: F.posInt },
    state: (o) => {
      const d = num(o, 'dModel', 512);
      const ff = num(o, 'dimFeedforward', 2048);
      // two final LayerNorms (encoder.norm, decoder.norm)
      return num(o, 'numEncoderLayers', 6) * blockState(d, ff, 1) + num(o, 'numDecoderLayers', 6) * blockState(d, ff, 2) + 4 * d;
    },
  }],
  ['SinusoidalPositionalEncoding', { fields: POSITIONAL, required: ['dModel'], scratch: (o) => num(o, 'maxLen', 5000) * num(o, 'dModel', 0) }],
  ['LearnedPositionalEncoding', {
    fields: { ...POSITIONAL, weightInit: F.init },
    required: ['dModel', 'maxLen'],
    state: (o) => num(o, 'maxLen', 0) * num(o, 'dModel', 0),
  }],
]);

export interface ConfigCheckOptions {
  /** JSON path of the root in messages (default `config`) */
  path?: string;
  /** deepest nesting of containers accepted (default 64) */
  maxDepth?: number;
  /**
   * how a class name resolves: a built-in layer (options and state known here), another
   * registered class (state only known once built), or unknown. Default: the built-ins.
   */
  classKind?: (className: string) => 'builtin' | 'registered' | 'unknown';
}

/** What a checked architecture will allocate when built. */
export interface ConfigPlan {
  /** parameter and persistent-buffer elements of the layers whose state is known in advance */
  stateElements: number;
  /** non-persistent buffer elements computed by constructors (e.g. sinusoidal tables) */
  scratchElements: number;
  /** JSON paths of layers of registered classes whose state is only known once built */
  unknownState: string[];
  /** per-sample elements of the largest graph input */
  maxInputElements: number;
}

export const DEFAULT_MAX_DEPTH = 64;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A JSON value nested at most `max` levels (checked without recursion). */
function checkJsonDepth(value: unknown, path: string, max: number): void {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (d >= max) throw new ModuleConfigError(path, `is nested more than ${max} levels deep`);
    for (const e of Object.values(v)) stack.push([e, d + 1]);
  }
}

/**
 * Check a saved architecture without building it. Throws `ModuleConfigError` naming the
 * JSON path of the first bad value; returns what building it will allocate.
 */
const CHECK_KEYS = optionKeys<ConfigCheckOptions>()(['path', 'maxDepth', 'classKind']);

export function checkModuleConfig(cfg: unknown, options: ConfigCheckOptions = {}): ConfigPlan {
  checkOptions('checkModuleConfig', options, CHECK_KEYS);
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  const plan: ConfigPlan = { stateElements: 0, scratchElements: 0, unknownState: [], maxInputElements: 0 };
  const walk = (c: unknown, path: string, depth: number): void => {
    if (depth > maxDepth) throw new ModuleConfigError(path, `is nested more than ${maxDepth} levels deep`);
    if (!isObject(c)) throw new ModuleConfigError(path, `must be an object, got ${quoteValue(c)}`);
    const { className, config } = c;
    if (typeof className !== 'string') throw new ModuleConfigError(`${path}.className`, `must be a string, got ${quoteValue(className)}`);
    if (!isObject(config)) throw new ModuleConfigError(`${path}.config`, `must be an object, got ${quoteValue(config)}`);
    for (const key of Object.keys(c)) {
      if (!['className', 'config', 'layers', 'graph'].includes(key)) throw new ModuleConfigError(`${path}.${key}`, 'is not a field of a module config');
    }
    if (className === 'Sequential') {
      checkFields(config, `${path}.config`, { ...NAME, inputShape: F.inputShape }, [], 'Sequential');
      if (!Array.isArray(c.layers)) throw new ModuleConfigError(`${path}.layers`, `must be an array, got ${quoteValue(c.layers)}`);
      c.layers.forEach((l, i) => walk(l, `${path}.layers[${i}]`, depth + 1));
      return;
    }
    if (c.layers !== undefined) throw new ModuleConfigError(`${path}.layers`, `is only allowed on Sequential, not on ${className}`);
    if (className === 'Model') {
      checkFields(config, `${path}.config`, NAME, [], 'Model');
      checkGraph(c.graph, `${path}.graph`, (l, p) => walk(l, p, depth + 1), plan);
      return;
    }
    if (c.graph !== undefined) throw new ModuleConfigError(`${path}.graph`, `is only allowed on Model, not on ${className}`);
    const kind = options.classKind?.(className) ?? (BUILTIN_SPECS.has(className) ? 'builtin' : 'unknown');
    const spec = kind === 'builtin' ? BUILTIN_SPECS.get(className) : undefined;
    if (spec !== undefined) {
      checkFields(config, `${path}.config`, spec.fields, spec.required ?? [], className);
      plan.stateElements += spec.state?.(config) ?? 0;
      plan.scratchElements += spec.scratch?.(config) ?? 0;
      return;
    }
    if (kind !== 'registered') {
      throw new ModuleConfigError(`${path}.className`, `: unknown layer class ${quoteValue(className)} (register it with registerModuleClass)`);
    }
    checkJsonDepth(config, `${path}.config`, maxDepth);
    plan.unknownState.push(path);
  };
  walk(cfg, options.path ?? 'config', 0);
  return plan;
}

function checkFields(config: Options, path: string, fields: Record<string, FieldCheck>, required: readonly string[], className: string): void {
  for (const [key, value] of Object.entries(config)) {
    const f = Object.hasOwn(fields, key) ? fields[key] : undefined;
    if (f === undefined) throw new ModuleConfigError(`${path}.${key}`, `is not an option of ${className}`);
    const bad = f(value);
    if (bad !== null) throw new ModuleConfigError(`${path}.${key}`, bad);
  }
  for (const key of required) if (config[key] === undefined) throw new ModuleConfigError(`${path}.${key}`, `is required by ${className}`);
}

const DTYPES = ['float32', 'float64', 'int32', 'bool'];

function checkGraph(g: unknown, path: string, walkLayer: (l: unknown, path: string) => void, plan: ConfigPlan): void {
  if (!isObject(g)) throw new ModuleConfigError(path, `must be an object, got ${quoteValue(g)}`);
  const list = (key: string): unknown[] => {
    const v = g[key];
    if (!Array.isArray(v)) throw new ModuleConfigError(`${path}.${key}`, `must be an array, got ${quoteValue(v)}`);
    return v;
  };
  const names = (v: unknown, p: string): string[] => {
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new ModuleConfigError(p, `must be an array of strings, got ${quoteValue(v)}`);
    return v;
  };
  list('inputs').forEach((inp, i) => {
    const p = `${path}.inputs[${i}]`;
    if (!isObject(inp)) throw new ModuleConfigError(p, `must be an object, got ${quoteValue(inp)}`);
    if (typeof inp.name !== 'string') throw new ModuleConfigError(`${p}.name`, `must be a string, got ${quoteValue(inp.name)}`);
    const { shape, dtype } = inp;
    if (!Array.isArray(shape) || shape.length === 0 || shape.length > 64 || shape[0] !== null || !shape.slice(1).every(isNonNegInt)) {
      throw new ModuleConfigError(`${p}.shape`, `must be [null, ...non-negative integers], got ${quoteValue(shape)}`);
    }
    const size = (shape.slice(1) as number[]).reduce((a, d) => a * d, 1);
    if (size > MAX_PROBE_ELEMENTS) throw new ModuleConfigError(`${p}.shape`, `describes ${size} elements per sample, more than the ${MAX_PROBE_ELEMENTS} a graph input may have`);
    plan.maxInputElements = Math.max(plan.maxInputElements, size);
    if (typeof dtype !== 'string' || !DTYPES.includes(dtype)) throw new ModuleConfigError(`${p}.dtype`, `must be one of ${DTYPES.join(', ')}, got ${quoteValue(dtype)}`);
  });
  const layerNames = new Set<string>();
  list('layers').forEach((l, i) => {
    const p = `${path}.layers[${i}]`;
    walkLayer(l, p);
    const name = (l as { config: Options }).config.name;
    if (typeof name !== 'string') throw new ModuleConfigError(`${p}.config.name`, `must be a string, got ${quoteValue(name)}`);
    if (layerNames.has(name)) throw new ModuleConfigError(`${p}.config.name`, `repeats the layer name ${quoteValue(name)}`);
    layerNames.add(name);
  });
  list('calls').forEach((call, i) => {
    const p = `${path}.calls[${i}]`;
    if (!isObject(call)) throw new ModuleConfigError(p, `must be an object, got ${quoteValue(call)}`);
    if (typeof call.layer !== 'string') throw new ModuleConfigError(`${p}.layer`, `must be a string, got ${quoteValue(call.layer)}`);
    names(call.inputs, `${p}.inputs`);
    names(call.outputs, `${p}.outputs`);
  });
  if (names(g.outputs, `${path}.outputs`).length === 0) throw new ModuleConfigError(`${path}.outputs`, 'must name at least one output');
  if (typeof g.multiOutput !== 'boolean') throw new ModuleConfigError(`${path}.multiOutput`, `must be a boolean, got ${quoteValue(g.multiOutput)}`);
}
