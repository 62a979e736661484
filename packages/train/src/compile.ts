/** Keras's `compile`: the loss, optimizer and metrics a model trains with, kept per model for fit, evaluate and saving. */
import {
  LOSS_NAMES, isBuilt, resolveLossName, type AnyModule, type LossFn, type LossInput, type LossName, type LossNameEntry,
} from '@ml/nn';
import { Adagrad, Adam, AdamW, RMSprop, SGD, type Optimizer } from '@ml/optim';
import { checkOptions, closest, type Tensor, optionKeys } from '@ml/tensor';
import { getMetric, type Metric, type MetricName } from './metrics.js';

/**
 * A loss by name with Keras's `from_logits`: `{ name: 'sparse_categorical_crossentropy',
 * fromLogits: true }` (the Keras-named cross-entropies read probabilities by default).
 */
export interface LossSpec {
  name: LossName;
  fromLogits?: boolean;
}
const LOSS_SPEC_KEYS = optionKeys<LossSpec>()(['name', 'fromLogits']);

/** A loss object: a loss module (`new CrossEntropyLoss()`, `new SparseCategoricalCrossentropy({ fromLogits: true })`) or anything with `forward`. */
export interface LossObject {
  forward(pred: Tensor, target: Tensor): Tensor;
  /** what the loss reads (a loss module's `inputKind`): 'logits' sets the accuracy threshold to 0 */
  readonly inputKind?: LossInput;
}

/** An optimizer by name, in any case as in Keras (`'adam'`, `'Adam'`, `'SGD'`, `'RMSprop'` …). */
export type OptimizerName = 'sgd' | 'adam' | 'adamw' | 'rmsprop' | 'adagrad' | 'SGD' | 'Adam' | 'AdamW' | 'RMSprop' | 'Adagrad';

export interface CompileOptions {
  /** a name (Keras defaults: sgd 0.01, others 0.001), an optimizer over `model.parameters()`, or a factory */
  optimizer: OptimizerName | Optimizer | ((params: Tensor[]) => Optimizer);
  /** learning rate when `optimizer` is a name */
  lr?: number;
  /**
   * a name from @ml/nn's LOSS_NAMES (any case: 'mse', 'MSE', 'sparse_categorical_crossentropy'),
   * a name with `fromLogits`, a loss module, or a function (pred, target) → scalar
   */
  loss: LossName | LossSpec | LossFn | LossObject;
  /** Keras's metric names (any case, 'acc' = 'accuracy') or Metric objects */
  metrics?: (Metric | MetricName)[];
}
const COMPILE_KEYS = optionKeys<CompileOptions>()(['optimizer', 'lr', 'loss', 'metrics']);

export interface Compiled {
  /** the options as given */
  spec: CompileOptions;
  /** the loss as a name (canonical spelling), when it was given by name: what a save records */
  lossName: LossSpec | null;
  /** null until a lazy model is built (at the first batch of fit) */
  optimizer: Optimizer | null;
  loss: LossFn;
  metrics: () => Metric[];
  fromLogits: boolean;
  /** targets of the loss are class indices: integer plain-array targets become int32 */
  indexTargets: boolean;
}

/** @internal whether `name` is one of the loss names `compile` knows, in its canonical spelling */
export function isLossName(name: string): name is LossName {
  return Object.hasOwn(LOSS_NAMES, name);
}

/** The loss of a name or `{ name, fromLogits }`, in canonical spelling, checked. */
function namedLoss(spec: string | LossSpec): { spec: LossSpec; entry: LossNameEntry } {
  if (typeof spec === 'string') {
    const name = resolveLossName(spec, 'compile');
    return { spec: { name }, entry: LOSS_NAMES[name] };
  }
  checkOptions('compile: loss', spec, LOSS_SPEC_KEYS);
  if (typeof spec.name !== 'string') throw new TypeError(`compile: loss { name, fromLogits } needs a name (a string), got ${String(spec.name)}`);
  if (spec.fromLogits !== undefined && typeof spec.fromLogits !== 'boolean') throw new TypeError(`compile: loss fromLogits must be true or false, got ${String(spec.fromLogits)}`);
  const name = resolveLossName(spec.name, 'compile');
  const entry: LossNameEntry = LOSS_NAMES[name];
  if (spec.fromLogits === true && !entry.takesFromLogits) throw new Error(`compile: loss '${name}' reads ${entry.input}; it takes no fromLogits`);
  return { spec: spec.fromLogits === true ? { name, fromLogits: true } : { name }, entry };
}

const compiled = new WeakMap<AnyModule, Compiled>();

const OPTIMIZER_NAMES = ['sgd', 'adam', 'adamw', 'rmsprop', 'adagrad'] as const;

/** An optimizer name in lower case, or an error naming the closest. */
function optimizerName(spec: string): (typeof OPTIMIZER_NAMES)[number] {
  const name = String(spec).toLowerCase();
  const found = OPTIMIZER_NAMES.find((n) => n === name);
  if (found !== undefined) return found;
  const near = closest(name, OPTIMIZER_NAMES);
  throw new Error(`compile: unknown optimizer '${String(spec)}'${near.length > 0 ? `; did you mean '${near[0]}'?` : ''} (known: ${OPTIMIZER_NAMES.join(', ')}, in any case)`);
}

function makeOptimizer(spec: CompileOptions['optimizer'], params: Tensor[], lr?: number): Optimizer {
  if (typeof spec === 'function') return spec(params);
  if (typeof spec !== 'string') return spec;
  switch (optimizerName(spec)) {
    case 'sgd':
      return new SGD(params, { lr: lr ?? 0.01 });
    case 'adam':
      return new Adam(params, { lr: lr ?? 1e-3 });
    case 'adamw':
      return new AdamW(params, { lr: lr ?? 1e-3 });
    case 'rmsprop':
      return new RMSprop(params, { lr: lr ?? 1e-3 });
    case 'adagrad':
      return new Adagrad(params, { lr: lr ?? 1e-3 });
  }
}

/**
 * Configure `model` for `fit`/`evaluate` (Keras's `model.compile`). A model with lazy
 * layers (`new Dense(64)` without an input size) gets its optimizer at the first batch of
 * `fit`, once its weights exist.
 */
export function compile<M extends AnyModule>(model: M, options: CompileOptions): M {
  checkOptions('compile', options, COMPILE_KEYS, { learning_rate: 'lr', learningRate: 'lr' });
  if (options === null || typeof options !== 'object') throw new TypeError('compile: pass { optimizer, loss, metrics }');
  let loss: LossFn;
  let fromLogits = false;
  let indexTargets = false;
  let lossName: LossSpec | null = null;
  const l: unknown = options.loss;
  if (typeof l === 'string' || (l !== null && typeof l === 'object' && 'name' in l && !('forward' in l))) {
    const { spec, entry } = namedLoss(l as string | LossSpec);
    lossName = spec;
    fromLogits = spec.fromLogits === true || entry.input === 'logits';
    loss = entry.make(spec.fromLogits === true);
    indexTargets = entry.targets !== 'same shape';
  } else if (typeof l === 'function') {
    loss = l as LossFn;
  } else if (l !== null && typeof l === 'object' && typeof (l as LossObject).forward === 'function') {
    const m = l as LossObject;
    loss = (p, t) => m.forward(p, t);
    fromLogits = m.inputKind === 'logits';
  } else {
    throw new TypeError(`compile: loss must be a name, { name, fromLogits }, a loss module or a function, got ${l === null ? 'null' : typeof l}`);
  }
  const specs = options.metrics ?? [];
  if (!Array.isArray(specs)) throw new TypeError(`compile: metrics must be an array (metrics: ['accuracy']), got ${typeof specs}`);
  const metrics = () => specs.map((s) => (typeof s === 'string' ? getMetric(s, { fromLogits }) : s));
  metrics(); // validate names now
  const c: Compiled = { spec: options, lossName, optimizer: null, loss, metrics, fromLogits, indexTargets };
  if (isBuilt(model)) c.optimizer = makeOptimizer(options.optimizer, model.parameters(), options.lr);
  else if (typeof options.optimizer === 'string') optimizerName(options.optimizer); // check the name now
  compiled.set(model, c);
  return model;
}

/** The optimizer of a compiled model, made now if the model was lazy at compile time and is built. */
export function ensureOptimizer(c: Compiled, model: AnyModule): Optimizer {
  if (c.optimizer === null) {
    if (!isBuilt(model)) throw new Error(`optimizerOf: '${model.name}' has lazy layers without weights yet; its optimizer is made at the first batch of fit (or call build(model, x) first)`);
    c.optimizer = makeOptimizer(c.spec.optimizer, model.parameters(), c.spec.lr);
  }
  return c.optimizer;
}

export function getCompiled(model: AnyModule, op: string): Compiled {
  const c = compiled.get(model);
  if (!c) throw new Error(`${op}: call compile(model, { optimizer, loss, metrics }) first`);
  return c;
}

/** @internal the compile options of a model, if compiled */
export function compileSpecOf(model: AnyModule): CompileOptions | undefined {
  return compiled.get(model)?.spec;
}

/** @internal the loss of a compiled model as a name (canonical spelling), when given by name */
export function compileLossNameOf(model: AnyModule): LossSpec | null {
  return compiled.get(model)?.lossName ?? null;
}

/** @internal the optimizer of a compiled model, or null before a lazy model is built */
export function optimizerIfMade(model: AnyModule): Optimizer | null {
  const c = compiled.get(model);
  return c === undefined ? null : c.optimizer;
}

/** The optimizer `compile` created (to inspect or change its learning rate). */
export function optimizerOf(model: AnyModule): Optimizer {
  return ensureOptimizer(getCompiled(model, 'optimizerOf'), model);
}
