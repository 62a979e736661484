import { add as addOp, checkOptions, optionKeys, concat, formatShape, maximum as maxOp, mul, sub, type DType, type Tensor } from '@ml/tensor';
import { Module, uniqueName, type AnyModule, type ModuleOptions } from './module.js';
import { SymbolicTensor, formatSymbolicShape } from './symbolic.js';

export interface InputOptions {
  /** shape of one sample, without the batch dim (Keras's convention) */
  shape: readonly number[];
  dtype?: DType;
  name?: string;
}

/** A graph input (Keras's `Input`): a symbolic tensor of shape [None, ...shape]. */
const INPUT_KEYS = optionKeys<InputOptions>()(['shape', 'dtype', 'name']);
const MODEL_KEYS = optionKeys<ModelConfig>()(['inputs', 'outputs', 'name']);
const NAME_KEYS = optionKeys<ModuleOptions>()(['name']);
const CONCAT_KEYS = optionKeys<ConcatenateOptions>()(['name', 'dim']);

export function input(options: InputOptions): SymbolicTensor {
  checkOptions('input', options, INPUT_KEYS, { input_shape: 'shape', batch_shape: 'shape' });
  options.shape.forEach((d) => {
    if (!Number.isInteger(d) || d < 0) throw new Error(`input: shape must be non-negative integers, got [${options.shape.join(', ')}]`);
  });
  return new SymbolicTensor([null, ...options.shape], options.dtype ?? 'float32', null, options.name ?? uniqueName('input'));
}

/** One recorded layer call of a functional graph. */
export interface GraphCall {
  readonly layer: AnyModule;
  readonly inputs: readonly SymbolicTensor[];
  readonly outputs: SymbolicTensor[];
}

export interface ModelConfig extends ModuleOptions {
  inputs: SymbolicTensor | readonly SymbolicTensor[];
  outputs: SymbolicTensor | readonly SymbolicTensor[];
}

/**
 * A model built from a graph of layer calls (Keras's functional API):
 *
 * ```ts
 * const x = input({ shape: [784] });
 * const h = new Linear({ inFeatures: 784, outFeatures: 64 }).call(x);
 * const model = new Model({ inputs: x, outputs: new Linear({ inFeatures: 64, outFeatures: 10 }).call(h) });
 * ```
 *
 * Several inputs are passed to `forward` in order; several outputs come back as an array
 * (`new Model<Tensor[]>(…)`). A layer used twice shares its weights.
 */
export class Model<O extends Tensor | Tensor[] = Tensor> extends Module<Tensor[], O> {
  readonly inputs: readonly SymbolicTensor[];
  readonly outputs: readonly SymbolicTensor[];
  /** layer calls in execution order */
  readonly calls: readonly GraphCall[];
  readonly #multiOutput: boolean;

  constructor(config: ModelConfig) {
    checkOptions('Model', config, MODEL_KEYS);
    super({ name: config.name ?? uniqueName('model') });
    this.inputs = Array.isArray(config.inputs) ? [...(config.inputs as SymbolicTensor[])] : [config.inputs as SymbolicTensor];
    this.#multiOutput = Array.isArray(config.outputs);
    this.outputs = Array.isArray(config.outputs) ? [...(config.outputs as SymbolicTensor[])] : [config.outputs as SymbolicTensor];
    if (this.inputs.length === 0 || this.outputs.length === 0) throw new Error('Model: needs at least one input and one output');
    for (const t of [...this.inputs, ...this.outputs]) {
      if (!(t instanceof SymbolicTensor)) throw new Error('Model: inputs and outputs must be symbolic tensors from input() and layer calls');
    }
    for (const t of this.inputs) if (t.node !== null) throw new Error(`Model: input '${t.name}' is a layer output; inputs must come from input()`);
    this.calls = this.#trace();
    const byName = new Map<string, AnyModule>();
    for (const { layer } of this.calls) {
      const prev = byName.get(layer.name);
      if (prev === layer) continue;
      if (prev) throw new Error(`Model: two different layers are named '${layer.name}'; layer names must be unique`);
      byName.set(layer.name, layer);
      this.registerModule(layer.name, layer);
    }
  }

  /** True when built with an array of outputs (forward then returns an array). */
  get isMultiOutput(): boolean {
    return this.#multiOutput;
  }

  /** Walk back from the outputs; every leaf must be one of the inputs. Returns calls in topological order. */
  #trace(): GraphCall[] {
    const order: GraphCall[] = [];
    const callOf = new Map<readonly SymbolicTensor[], GraphCall>();
    const visiting = new Set<GraphCall>();
    const done = new Set<GraphCall>();
    const visit = (t: SymbolicTensor): void => {
      if (t.node === null) {
        if (!this.inputs.includes(t)) throw new Error(`Model: output depends on input '${t.name}' ${formatSymbolicShape(t.shape)}, which is not in inputs`);
        return;
      }
      let call = callOf.get(t.node.inputs);
      if (!call) {
        call = { layer: t.node.layer as unknown as AnyModule, inputs: t.node.inputs, outputs: [] };
        callOf.set(t.node.inputs, call);
      }
      call.outputs[t.node.outputIndex] = t;
      if (done.has(call) || visiting.has(call)) return;
      visiting.add(call);
      for (const x of call.inputs) visit(x);
      visiting.delete(call);
      done.add(call);
      order.push(call);
    };
    for (const t of this.outputs) visit(t);
    return order;
  }

  forward(...xs: Tensor[]): O {
    if (xs.length !== this.inputs.length) throw new Error(`${this.name}: expected ${this.inputs.length} input(s), got ${xs.length}`);
    const values = new Map<SymbolicTensor, Tensor>();
    this.inputs.forEach((sym, i) => {
      const x = xs[i];
      const ok = x.ndim === sym.shape.length && sym.shape.every((d, j) => d === null || d === x.shape[j]);
      if (!ok) throw new Error(`${this.name}: input '${sym.name}' expects shape ${formatSymbolicShape(sym.shape)}, got ${formatShape(x.shape)}`);
      values.set(sym, x);
    });
    for (const call of this.calls) {
      const args = call.inputs.map((s) => values.get(s)!);
      const out = (call.layer.forward as (...a: Tensor[]) => unknown)(...args);
      const outs = Array.isArray(out) ? (out as Tensor[]) : [out as Tensor];
      call.outputs.forEach((s, i) => {
        if (s) values.set(s, outs[i]);
      });
    }
    const results = this.outputs.map((s) => values.get(s)!);
    return (this.#multiOutput ? results : results[0]) as O;
  }
}

// ------------------------------------------------------------ merge layers

export interface ConcatenateOptions extends ModuleOptions {
  /** the dim to join along (Keras's `axis`), default −1 */
  dim?: number;
}

/** Concatenate inputs along `dim` (default −1, the feature dim). */
export class Concatenate extends Module<Tensor[], Tensor> {
  readonly dim: number;
  constructor(options: ConcatenateOptions = {}) {
    checkOptions('Concatenate', options, CONCAT_KEYS, { axis: 'dim' });
    super(options);
    this.dim = options.dim ?? -1;
  }
  forward(...xs: Tensor[]): Tensor {
    return concat(xs, this.dim);
  }
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}

function checkSameShapes(layer: string, xs: readonly Tensor[]): void {
  if (xs.length < 1) throw new Error(`${layer}: needs at least one input`);
  const s = xs[0].shape;
  for (const x of xs) {
    if (x.shape.length !== s.length || x.shape.some((d, i) => d !== s[i])) {
      throw new Error(`${layer}: all inputs must have the same shape, got ${xs.map((t) => formatShape(t.shape)).join(' and ')}`);
    }
  }
}

abstract class Merge extends Module<Tensor[], Tensor> {
  protected abstract combine(a: Tensor, b: Tensor): Tensor;
  forward(...xs: Tensor[]): Tensor {
    checkSameShapes(this.constructor.name, xs);
    return xs.slice(1).reduce((acc, x) => this.combine(acc, x), xs[0]);
  }
}

/** Element-wise sum of same-shaped inputs (residual connections). */
export class Add extends Merge {
  constructor(options: ModuleOptions = {}) {
    checkOptions('Add', options, NAME_KEYS);
    super(options);
  }
  protected combine(a: Tensor, b: Tensor): Tensor {
    return addOp(a, b);
  }
}

/** Element-wise product of same-shaped inputs. */
export class Multiply extends Merge {
  constructor(options: ModuleOptions = {}) {
    checkOptions('Multiply', options, NAME_KEYS);
    super(options);
  }
  protected combine(a: Tensor, b: Tensor): Tensor {
    return mul(a, b);
  }
}

/** Element-wise maximum of same-shaped inputs. */
export class Maximum extends Merge {
  constructor(options: ModuleOptions = {}) {
    checkOptions('Maximum', options, NAME_KEYS);
    super(options);
  }
  protected combine(a: Tensor, b: Tensor): Tensor {
    return maxOp(a, b);
  }
}

/** First input minus the second. */
export class Subtract extends Module<Tensor[], Tensor> {
  constructor(options: ModuleOptions = {}) {
    checkOptions('Subtract', options, NAME_KEYS);
    super(options);
  }
  forward(...xs: Tensor[]): Tensor {
    checkSameShapes('Subtract', xs);
    if (xs.length !== 2) throw new Error(`Subtract: needs exactly 2 inputs, got ${xs.length}`);
    return sub(xs[0], xs[1]);
  }
}

/** Element-wise mean of same-shaped inputs. */
export class Average extends Merge {
  constructor(options: ModuleOptions = {}) {
    checkOptions('Average', options, NAME_KEYS);
    super(options);
  }
  protected combine(a: Tensor, b: Tensor): Tensor {
    return addOp(a, b);
  }
  override forward(...xs: Tensor[]): Tensor {
    return super.forward(...xs).div(xs.length);
  }
}

type SymOrReal<T> = T extends SymbolicTensor ? SymbolicTensor : Tensor;

/** Functional form of Concatenate: `concatenate([a, b])` on symbolic or real tensors. */
export function concatenate<T extends SymbolicTensor | Tensor>(xs: readonly T[], options: ConcatenateOptions = {}): SymOrReal<T> {
  checkOptions('concatenate', options, CONCAT_KEYS, { axis: 'dim' });
  return new Concatenate(options).call(...(xs as unknown as SymbolicTensor[])) as SymOrReal<T>;
}

/** Functional form of Add: `add([x, shortcut])` on symbolic or real tensors. */
export function add<T extends SymbolicTensor | Tensor>(xs: readonly T[], options: ModuleOptions = {}): SymOrReal<T> {
  checkOptions('add', options, NAME_KEYS);
  return new Add(options).call(...(xs as unknown as SymbolicTensor[])) as SymOrReal<T>;
}
