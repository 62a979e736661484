import { ELU, GELU, LeakyReLU, LogSoftmax, ReLU, SiLU, Sigmoid, Softmax, Softplus, Tanh } from './activation.js';
import { Sequential, type Layer } from './container.js';
import { Conv1d, Conv2d } from './conv.js';
import { Dropout } from './dropout.js';
import { Embedding } from './embedding.js';
import { Add, Average, Concatenate, Maximum, Model, Multiply, Subtract, input } from './graph.js';
import { Dense, Flatten, Identity, Linear, Reshape } from './linear.js';
import type { AnyModule } from './module.js';
import { BatchNorm1d, BatchNorm2d, LayerNorm } from './normalization.js';
import { GRU, GRUCell, LSTM, LSTMCell, RNN, RNNCell } from './recurrent.js';
import { EchoStateNetwork } from './reservoir.js';
import { MultiheadAttention } from './attention.js';
import { LearnedPositionalEncoding, SinusoidalPositionalEncoding } from './positional.js';
import { AvgPool1d, AvgPool2d, GlobalAvgPool2d, GlobalMaxPool2d, MaxPool1d, MaxPool2d } from './pooling.js';
import type { SymbolicTensor } from './symbolic.js';
import type { DType } from '@ml/tensor';

/** A constructor that takes one options object, as every built-in layer does. */
export type ModuleClass = abstract new (...args: never[]) => AnyModule;

const registry = new Map<string, ModuleClass>();

/**
 * Make a module class loadable from a saved architecture (`moduleFromConfig`). Its
 * constructor must rebuild the module from `getConfig()`'s output.
 */
export function registerModuleClass(cls: ModuleClass, name: string = cls.name): void {
  registry.set(name, cls);
}

for (const cls of [
  Linear, Dense, Identity, Flatten, Reshape, Dropout, Conv1d, Conv2d, MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, GlobalAvgPool2d,
  GlobalMaxPool2d, BatchNorm1d, BatchNorm2d, LayerNorm, Embedding, ReLU, LeakyReLU, ELU, GELU, Sigmoid, Tanh, SiLU, Softplus,
  Softmax, LogSoftmax, Concatenate, Add, Subtract, Multiply, Average, Maximum, RNN, LSTM, GRU, RNNCell, LSTMCell, GRUCell,
  EchoStateNetwork, MultiheadAttention, SinusoidalPositionalEncoding, LearnedPositionalEncoding,
] as ModuleClass[]) {
  registerModuleClass(cls);
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
  const className = m.constructor.name;
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
  if (!registry.has(className)) throw new Error(`moduleToConfig: ${className} is not registered; call registerModuleClass(${className}) to save its architecture`);
  return { className, config: m.getConfig() };
}

/** Rebuild a module (with fresh weights) from `moduleToConfig`'s output. */
export function moduleFromConfig(cfg: ModuleConfig): AnyModule {
  if (typeof cfg !== 'object' || cfg === null || typeof cfg.className !== 'string') throw new Error('moduleFromConfig: not a module config (missing className)');
  if (cfg.className === 'Sequential') {
    if (!Array.isArray(cfg.layers)) throw new Error('moduleFromConfig: Sequential config without layers');
    return new Sequential(cfg.layers.map((l) => moduleFromConfig(l) as unknown as Layer), cfg.config);
  }
  if (cfg.className === 'Model') {
    const g = cfg.graph;
    if (!g) throw new Error('moduleFromConfig: Model config without graph');
    const layers = new Map(g.layers.map((l) => [String(l.config.name), moduleFromConfig(l)]));
    const values = new Map<string, SymbolicTensor>();
    const inputs = g.inputs.map((i) => {
      const t = input({ shape: i.shape.slice(1) as number[], dtype: i.dtype, name: i.name });
      values.set(i.name, t);
      return t;
    });
    for (const c of g.calls) {
      const layer = layers.get(c.layer);
      if (!layer) throw new Error(`moduleFromConfig: graph calls unknown layer '${c.layer}'`);
      const args = c.inputs.map((n) => {
        const v = values.get(n);
        if (!v) throw new Error(`moduleFromConfig: graph input '${n}' of layer '${c.layer}' is not defined`);
        return v;
      });
      const out = layer.call(...args) as unknown;
      const outs = Array.isArray(out) ? (out as SymbolicTensor[]) : [out as SymbolicTensor];
      c.outputs.forEach((n, i) => values.set(n, outs[i]));
    }
    const outputs = g.outputs.map((n) => values.get(n)!);
    return new Model({ inputs, outputs: g.multiOutput ? outputs : outputs[0], name: String(cfg.config.name) }) as unknown as AnyModule;
  }
  const cls = registry.get(cfg.className);
  if (!cls) throw new Error(`moduleFromConfig: unknown layer class '${cfg.className}' (register it with registerModuleClass)`);
  return new (cls as unknown as new (o: Record<string, unknown>) => AnyModule)(cfg.config);
}
