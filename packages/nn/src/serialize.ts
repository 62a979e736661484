import { ELU, GELU, HardSigmoid, LeakyReLU, LogSoftmax, ReLU, SELU, SiLU, Sigmoid, Softmax, Softplus, Tanh } from './activation.js';
import { Sequential, type Layer } from './container.js';
import { Conv1d, Conv2d } from './conv.js';
import { Dropout } from './dropout.js';
import { Embedding } from './embedding.js';
import { Add, Average, Concatenate, Maximum, Model, Multiply, Subtract, input } from './graph.js';
import { Activation } from './layer-activation.js';
import { Dense, Flatten, Identity, Linear, Reshape } from './linear.js';
import type { AnyModule } from './module.js';
import { BatchNorm1d, BatchNorm2d, LayerNorm } from './normalization.js';
import { GRU, GRUCell, LSTM, LSTMCell, RNN, RNNCell } from './recurrent.js';
import { EchoStateNetwork } from './reservoir.js';
import { MultiheadAttention } from './attention.js';
import { Transformer, TransformerDecoderLayer, TransformerEncoderLayer } from './transformer.js';
import { LearnedPositionalEncoding, SinusoidalPositionalEncoding } from './positional.js';
import { AvgPool1d, AvgPool2d, GlobalAvgPool2d, GlobalMaxPool2d, MaxPool1d, MaxPool2d } from './pooling.js';
import type { SymbolicTensor } from './symbolic.js';
import { checkOptions, quoteValue, type DType, optionKeys } from '@ml/tensor';
import { MAX_PROBE_ELEMENTS, ModuleConfigError, checkModuleConfig } from './config-check.js';

/** A constructor that takes one options object, as every built-in layer does. */
export type ModuleClass = abstract new (...args: never[]) => AnyModule;

/** The saved name of each loadable class, and the class of each name. */
const registry = new Map<string, ModuleClass>();
const names = new Map<ModuleClass, string>();

/**
 * Make a module class loadable from a saved architecture (`moduleFromConfig`) under
 * `name`, the `className` its configs record. Its constructor must rebuild the module from
 * `getConfig()`'s output. Pass `name` explicitly in code that is minified: the default,
 * `cls.name`, is what a minifier renames, and a config saved under a renamed class would
 * not load in a build that names it differently.
 */
export function registerModuleClass(cls: ModuleClass, name: string = cls.name): void {
  if (typeof name !== 'string' || name === '') throw new Error('registerModuleClass: the class needs a non-empty name (pass it as the second argument)');
  registry.set(name, cls);
  names.set(cls, name);
}

// explicit names: a config records these, never the (minifiable) `constructor.name`
const BUILTIN_CLASSES: [ModuleClass, string][] = [
  [Linear, 'Linear'], [Dense, 'Dense'], [Identity, 'Identity'], [Flatten, 'Flatten'], [Reshape, 'Reshape'], [Dropout, 'Dropout'],
  [Conv1d, 'Conv1d'], [Conv2d, 'Conv2d'], [MaxPool1d, 'MaxPool1d'], [MaxPool2d, 'MaxPool2d'], [AvgPool1d, 'AvgPool1d'],
  [AvgPool2d, 'AvgPool2d'], [GlobalAvgPool2d, 'GlobalAvgPool2d'], [GlobalMaxPool2d, 'GlobalMaxPool2d'], [BatchNorm1d, 'BatchNorm1d'],
  [BatchNorm2d, 'BatchNorm2d'], [LayerNorm, 'LayerNorm'], [Embedding, 'Embedding'], [ReLU, 'ReLU'], [LeakyReLU, 'LeakyReLU'],
  [ELU, 'ELU'], [GELU, 'GELU'], [Sigmoid, 'Sigmoid'], [Tanh, 'Tanh'], [SiLU, 'SiLU'], [Softplus, 'Softplus'], [Activation, 'Activation'], [HardSigmoid, 'HardSigmoid'], [SELU, 'SELU'], [Softmax, 'Softmax'],
  [LogSoftmax, 'LogSoftmax'], [Concatenate, 'Concatenate'], [Add, 'Add'], [Subtract, 'Subtract'], [Multiply, 'Multiply'],
  [Average, 'Average'], [Maximum, 'Maximum'], [RNN, 'RNN'], [LSTM, 'LSTM'], [GRU, 'GRU'], [RNNCell, 'RNNCell'], [LSTMCell, 'LSTMCell'],
  [GRUCell, 'GRUCell'], [EchoStateNetwork, 'EchoStateNetwork'], [MultiheadAttention, 'MultiheadAttention'],
  [TransformerEncoderLayer, 'TransformerEncoderLayer'], [TransformerDecoderLayer, 'TransformerDecoderLayer'], [Transformer, 'Transformer'],
  [SinusoidalPositionalEncoding, 'SinusoidalPositionalEncoding'], [LearnedPositionalEncoding, 'LearnedPositionalEncoding'],
] as [ModuleClass, string][];
for (const [cls, name] of BUILTIN_CLASSES) registerModuleClass(cls, name);

/** The name a config records for `m`'s class: its registered name, never `constructor.name`. */
function classNameOf(m: AnyModule): string {
  const cls = m.constructor as ModuleClass;
  if (cls === (Sequential as unknown as ModuleClass)) return 'Sequential';
  if (cls === (Model as unknown as ModuleClass)) return 'Model';
  const name = names.get(cls);
  if (name === undefined) {
    const shown = cls.name || 'this class';
    throw new Error(`moduleToConfig: ${shown} is not registered; call registerModuleClass(${shown}) to save its architecture (registerModuleClass(${shown}, '${shown}') in code that is minified)`);
  }
  return name;
}

interface GraphConfig {
  inputs: { name: string; shape: (number | null)[]; dtype: DType }[];
  layers: ModuleConfig[];
  calls: { layer: string; inputs: string[]; outputs: string[] }[];
  outputs: string[];
  multiOutput: boolean;
}

/** The architecture of a module as JSON: class name, constructor options, and children for containers. */
export interface ModuleConfig {
  className: string;
  config: Record<string, unknown>;
  /** Sequential: its layers in order */
  layers?: ModuleConfig[];
  /** functional Model: its graph */
  graph?: GraphConfig;
}

export function moduleToConfig(m: AnyModule): ModuleConfig {
  const className = classNameOf(m);
  if (m.unbuiltReason !== null) {
    throw new Error(`moduleToConfig: layer '${m.name}' (${className}) is a lazy layer not built yet — ${m.unbuiltReason}; call the model once on a batch (or build(model, batch)) so the saved architecture records its sizes`);
  }
  if (m instanceof Sequential) return { className, config: m.getConfig(), layers: m.layers.map((l) => moduleToConfig(l as unknown as AnyModule)) };
  if (m instanceof Model) {
    const names = new Map<SymbolicTensor, string>();
    m.inputs.forEach((t) => names.set(t, t.name));
    const layers: ModuleConfig[] = [];
    const seen = new Set<AnyModule>();
    const calls = m.calls.map((c, ci) => {
      if (!seen.has(c.layer)) {
        seen.add(c.layer);
        layers.push(moduleToConfig(c.layer));
      }
      const outputs = c.outputs.map((o, i) => {
        const n = `${c.layer.name}#${ci}/${i}`;
        if (o) names.set(o, n);
        return n;
      });
      return { layer: c.layer.name, inputs: c.inputs.map((t) => names.get(t)!), outputs };
    });
    return {
      className,
      config: m.getConfig(),
      graph: {
        inputs: m.inputs.map((t) => ({ name: t.name, shape: [...t.shape], dtype: t.dtype })),
        layers,
        calls,
        outputs: m.outputs.map((t) => names.get(t)!),
        multiOutput: m.isMultiOutput,
      },
    };
  }
  return { className, config: m.getConfig() };
}

export interface ModuleFromConfigOptions {
  /** JSON path of the config in error messages (default `config`) */
  path?: string;
  /** deepest nesting of containers accepted (default 64) */
  maxDepth?: number;
  /**
   * Refuse an architecture whose parameters and persistent buffers hold more elements
   * than this (e.g. those of the weights file it will be loaded from). Checked before
   * anything is built for the built-in layers, and after each layer of another registered
   * class is built.
   */
  maxStateElements?: number;
  /**
   * Elements of non-persistent buffers (such as sinusoidal tables) the constructors may
   * compute; default: max(2^20, maxStateElements) when that is given, else unlimited.
   */
  maxScratchElements?: number;
}

const BUILTINS = new Map(registry);

/** Parameter and persistent-buffer elements of a built module. */
function stateElements(m: AnyModule): number {
  let n = 0;
  for (const t of Object.values(m.stateDict())) n += t.size;
  return n;
}

/**
 * Rebuild a module (with fresh weights) from `moduleToConfig`'s output. The whole config
 * is checked first (`checkModuleConfig`): a malformed one throws `ModuleConfigError`,
 * naming the JSON path of the bad value, and builds nothing.
 */
const FROM_CONFIG_KEYS = optionKeys<ModuleFromConfigOptions>()(['path', 'maxDepth', 'maxStateElements', 'maxScratchElements']);

export function moduleFromConfig(cfg: ModuleConfig, options: ModuleFromConfigOptions = {}): AnyModule {
  checkOptions('moduleFromConfig', options, FROM_CONFIG_KEYS);
  const root = options.path ?? 'config';
  const classKind = (name: string): 'builtin' | 'registered' | 'unknown' => {
    const cls = registry.get(name);
    if (cls === undefined) return 'unknown';
    return BUILTINS.get(name) === cls ? 'builtin' : 'registered';
  };
  const plan = checkModuleConfig(cfg, { path: root, maxDepth: options.maxDepth, classKind });
  const maxState = options.maxStateElements ?? Infinity;
  if (plan.stateElements > maxState) {
    throw new ModuleConfigError(root, `describes ${plan.stateElements} parameter and buffer elements, more than the ${maxState} allowed`);
  }
  const maxScratch = options.maxScratchElements ?? (options.maxStateElements === undefined ? Infinity : Math.max(1 << 20, maxState));
  if (plan.scratchElements > maxScratch) {
    throw new ModuleConfigError(root, `describes ${plan.scratchElements} elements of computed buffers, more than the ${maxScratch} allowed`);
  }
  // a symbolic call runs each layer on zeros: a graph may probe at most this many elements per sample
  const probeLimit = Number.isFinite(maxState) ? Math.min(MAX_PROBE_ELEMENTS, Math.max(1 << 20, maxState)) : MAX_PROBE_ELEMENTS;
  let unknownState = 0;
  const built: AnyModule[] = [];
  const build = (c: ModuleConfig, path: string): AnyModule => {
    if (c.className === 'Sequential') {
      const layers = c.layers!.map((l, i) => build(l, `${path}.layers[${i}]`) as unknown as Layer);
      return construct(path, 'Sequential', () => new Sequential(layers, c.config));
    }
    if (c.className === 'Model') return buildGraph(c, path, build, probeLimit);
    const cls = registry.get(c.className)!;
    const m = construct(path, c.className, () => new (cls as unknown as new (o: Record<string, unknown>) => AnyModule)(c.config));
    built.push(m);
    if (classKind(c.className) === 'registered' && Number.isFinite(maxState)) {
      unknownState += stateElements(m);
      if (plan.stateElements + unknownState > maxState) {
        throw new ModuleConfigError(path, `brings the architecture to ${plan.stateElements + unknownState} parameter and buffer elements, more than the ${maxState} allowed`);
      }
    }
    return m;
  };
  try {
    return build(cfg, root);
  } catch (e) {
    for (const m of built) m.dispose();
    throw e;
  }
}

/** Run a constructor; its errors become `ModuleConfigError`s at `path`. */
function construct<T>(path: string, className: string, make: () => T): T {
  try {
    return make();
  } catch (e) {
    if (e instanceof ModuleConfigError) throw e;
    throw new ModuleConfigError(path, `: ${className} rejects its config: ${(e as Error).message}`);
  }
}

const probeSize = (shape: readonly (number | null)[]): number => shape.reduce<number>((a, d) => a * (d ?? 1), 1);

function buildGraph(cfg: ModuleConfig, path: string, build: (c: ModuleConfig, path: string) => AnyModule, limit: number): AnyModule {
  const g = cfg.graph!;
  const layers = new Map(g.layers.map((l, i) => [String(l.config.name), build(l, `${path}.graph.layers[${i}]`)]));
  const values = new Map<string, SymbolicTensor>();
  const inputs = g.inputs.map((i, k) => {
    const t = construct(`${path}.graph.inputs[${k}]`, 'input', () => input({ shape: i.shape.slice(1) as number[], dtype: i.dtype, name: i.name }));
    values.set(i.name, t);
    return t;
  });
  g.calls.forEach((c, ci) => {
    const at = `${path}.graph.calls[${ci}]`;
    const layer = layers.get(c.layer);
    if (!layer) throw new ModuleConfigError(`${at}.layer`, `names no layer of the graph: ${quoteValue(c.layer)}`);
    const args = c.inputs.map((n, k) => {
      const v = values.get(n);
      if (!v) throw new ModuleConfigError(`${at}.inputs[${k}]`, `is not defined by an earlier input or call: ${quoteValue(n)}`);
      return v;
    });
    // a symbolic call runs the layer on zeros: bound what it is given and what it returns
    const inSize = args.reduce((a, t) => a + probeSize(t.shape), 0);
    if (inSize > limit) throw new ModuleConfigError(`${at}.inputs`, `hold ${inSize} elements per sample, more than the ${limit} a call may take`);
    const out = construct(at, names.get(layer.constructor as ModuleClass) ?? 'the layer', () => layer.call(...args) as unknown);
    const outs = Array.isArray(out) ? (out as SymbolicTensor[]) : [out as SymbolicTensor];
    if (c.outputs.length > outs.length) throw new ModuleConfigError(`${at}.outputs`, `names ${c.outputs.length} outputs, the layer returns ${outs.length}`);
    for (const o of outs) {
      if (probeSize(o.shape) > limit) throw new ModuleConfigError(at, `returns ${probeSize(o.shape)} elements per sample, more than the ${limit} a call may return`);
    }
    c.outputs.forEach((n, i) => values.set(n, outs[i]));
  });
  const outputs = g.outputs.map((n, k) => {
    const v = values.get(n);
    if (!v) throw new ModuleConfigError(`${path}.graph.outputs[${k}]`, `is not defined by an input or call: ${quoteValue(n)}`);
    return v;
  });
  const name = cfg.config.name;
  return construct(`${path}.graph`, 'Model', () => new Model({ inputs, outputs: g.multiOutput ? outputs : outputs[0], name: typeof name === 'string' ? name : undefined }) as unknown as AnyModule);
}
