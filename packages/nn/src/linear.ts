import { checkOptions, optionKeys, flatten, isFloat, linear, reshape, sizeOf, formatShape, type DType, type Tensor } from '@ml/tensor';
import { fanInUniform, getInitializer, type Initializer, type InitializerName } from './init.js';
import { resolveActivation, type ActivationSpec, type ResolvedActivation } from './layer-activation.js';
import { Module, type ModuleOptions } from './module.js';

/** Options shared by layers that own weights. */
export interface LayerOptions extends ModuleOptions {
  /** dtype of the parameters (default float32) */
  dtype?: DType;
}

export function checkPositiveInt(layer: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${layer}: ${name} must be a positive integer, got ${v}`);
}

/** Create a parameter tensor with `initializer` (or `fallback`), honouring the layer's dtype (and the backend of a lazy layer's first input). */
export function makeWeight(shape: readonly number[], spec: Initializer | InitializerName | undefined, fallback: Initializer, dtype: DType | undefined, backend?: string): Tensor {
  return (spec ? getInitializer(spec) : fallback)(shape, { dtype: dtype ?? 'float32', ...(backend === undefined ? {} : { backend }) });
}

/**
 * dtype and backend of a lazy layer's weights built for its first input `like`: the
 * layer's `dtype` option, else the input's floating dtype (float32 for integer input), on
 * the input's backend. Undefined `like` (built from options or weight shapes): the defaults.
 */
export function lazyPlacement(dtype: DType | undefined, like: Tensor | undefined): { dtype: DType | undefined; backend: string | undefined } {
  if (like === undefined) return { dtype, backend: undefined };
  return { dtype: dtype ?? (isFloat(like.dtype) ? like.dtype : undefined), backend: like.backend.name };
}

/** A per-sample `inputShape` option: non-empty positive integers. */
export function checkInputShape(layer: string, shape: readonly number[] | undefined): readonly number[] | undefined {
  if (shape === undefined) return undefined;
  if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`${layer}: inputShape must be a non-empty list of positive integers (one sample, no batch dim), got ${JSON.stringify(shape)}`);
  }
  return [...shape];
}

export interface LinearOptions extends LayerOptions {
  /** input features; leave it out for a lazy layer that takes them from its first input's last dim */
  inFeatures?: number;
  outFeatures: number;
  /** add a learned bias (default true) */
  bias?: boolean;
  /** default: PyTorch's U(−1/√in, 1/√in) */
  weightInit?: Initializer | InitializerName;
  biasInit?: Initializer | InitializerName;
  /** applied to x Wᵀ + b (Keras's Dense `activation`): a name such as 'relu', a function or a module; default none */
  activation?: ActivationSpec;
  /** shape of one input sample without the batch dim (Keras's `input_shape`); its last dim is inFeatures */
  inputShape?: readonly number[];
}

/** Options of PyTorch's positional form `new Linear(inFeatures, outFeatures, options)`. */
export type LinearArgsOptions = Omit<LinearOptions, 'inFeatures' | 'outFeatures'>;

/** Options of Keras's form `new Dense(units, options)`. */
export interface DenseOptions extends LayerOptions {
  /** a name such as 'relu', 'sigmoid', 'softmax' (see `ACTIVATION_NAMES`), a function or a module; default none ('linear') */
  activation?: ActivationSpec;
  /** add a learned bias (Keras's `use_bias`, default true) */
  useBias?: boolean;
  /** input features (Keras's `input_dim`); default: taken from the first input */
  inputDim?: number;
  /** shape of one input sample without the batch dim (Keras's `input_shape`); its last dim is the input features */
  inputShape?: readonly number[];
  /** Keras's `kernel_initializer`; default: PyTorch's U(−1/√in, 1/√in) */
  weightInit?: Initializer | InitializerName;
  /** Keras's `bias_initializer` */
  biasInit?: Initializer | InitializerName;
}

const LINEAR_KEYS = optionKeys<LinearOptions>()(['name', 'dtype', 'inFeatures', 'outFeatures', 'bias', 'weightInit', 'biasInit', 'activation', 'inputShape']);
const DENSE_KEYS = optionKeys<DenseOptions>()(['name', 'dtype', 'activation', 'useBias', 'inputDim', 'inputShape', 'weightInit', 'biasInit']);
/** Keras's and PyTorch's spellings that do not camel-case into ours */
const LINEAR_ALIASES = {
  units: 'outFeatures', input_dim: 'inFeatures', inputDim: 'inFeatures', use_bias: 'bias', useBias: 'bias', kernel_initializer: 'weightInit',
  kernelInitializer: 'weightInit', bias_initializer: 'biasInit', biasInitializer: 'biasInit', input_shape: 'inputShape',
};
const DENSE_ALIASES = { kernel_initializer: 'weightInit', kernelInitializer: 'weightInit', bias_initializer: 'biasInit', biasInitializer: 'biasInit', bias: 'useBias' };

/** The three constructor forms of Linear/Dense as one LinearOptions. */
function linearArgs(op: string, a: number | LinearOptions, b: number | DenseOptions | undefined, c: LinearArgsOptions | undefined): LinearOptions {
  if (typeof a !== 'number') {
    if (b !== undefined) throw new TypeError(`${op}: with an options object, pass no further arguments`);
    checkOptions(op, a, LINEAR_KEYS, LINEAR_ALIASES);
    return a;
  }
  if (op === 'Dense') {
    // Keras: new Dense(units, { activation, useBias, inputDim, inputShape })
    if (typeof b === 'number') throw new TypeError(`${op}: pass Keras's (units, options) or ({ inFeatures, outFeatures }), got two numbers; for PyTorch's (in, out) use new Linear(${a}, ${b})`);
    const o: DenseOptions = b ?? {};
    checkOptions(op, o, DENSE_KEYS, { ...DENSE_ALIASES, units: 'the first argument' });
    const shape = checkInputShape(op, o.inputShape);
    if (o.inputDim !== undefined && shape !== undefined && shape[shape.length - 1] !== o.inputDim) {
      throw new Error(`${op}: inputDim=${o.inputDim} and inputShape=[${shape.join(', ')}] disagree on the input features`);
    }
    const { useBias, inputDim, ...rest } = o;
    return { ...rest, outFeatures: a, ...(inputDim ?? shape ? { inFeatures: inputDim ?? shape![shape!.length - 1] } : {}), ...(useBias === undefined ? {} : { bias: useBias }) };
  }
  // PyTorch: new Linear(inFeatures, outFeatures, options)
  if (typeof b !== 'number') throw new TypeError(`${op}: pass PyTorch's (inFeatures, outFeatures, options?) or ({ inFeatures, outFeatures }); got (${a}, ${typeof b})`);
  checkOptions(op, c, LINEAR_KEYS.filter((k) => k !== 'inFeatures' && k !== 'outFeatures'), LINEAR_ALIASES);
  return { ...(c ?? {}), inFeatures: a, outFeatures: b };
}

/**
 * y = act(x Wᵀ + b), with W of shape [outFeatures, inFeatures] (PyTorch's layout) and no
 * activation unless one is given. Keras: Dense. Three ways to make one:
 *
 * ```ts
 * new Linear({ inFeatures: 784, outFeatures: 128 })
 * new Linear(784, 128)                                 // PyTorch's nn.Linear(784, 128)
 * new Dense(128, { activation: 'relu', inputDim: 784 }) // Keras's Dense(128, activation='relu', input_dim=784)
 * ```
 *
 * Without `inFeatures` (`new Dense(128)`) the layer is lazy: its weights are created, with
 * the same initializer, at the first call, from the input's last dim (PyTorch's LazyLinear).
 */
export class Linear extends Module {
  /** null until a lazy layer is built */
  inFeatures: number | null = null;
  readonly outFeatures: number;
  /** shape of one input sample, when given */
  readonly inputShape: readonly number[] | undefined;
  /** [outFeatures, inFeatures]; undefined until a lazy layer is built */
  weight!: Tensor;
  bias: Tensor | null = null;
  readonly #useBias: boolean;
  readonly #options: LinearOptions;
  readonly #activation: ResolvedActivation | null;
  readonly #op: string;

  constructor(options: LinearOptions);
  constructor(inFeatures: number, outFeatures: number, options?: LinearArgsOptions);
  constructor(a: number | LinearOptions, b?: number, c?: LinearArgsOptions);
  constructor(a: number | LinearOptions, b?: number | DenseOptions, c?: LinearArgsOptions) {
    const op = (new.target as { layerName?: string }).layerName ?? 'Linear';
    const options = linearArgs(op, a, b, c);
    super(options);
    this.#op = op;
    checkPositiveInt(op, 'outFeatures', options.outFeatures);
    this.inputShape = checkInputShape(op, options.inputShape);
    const fromShape = this.inputShape?.[this.inputShape.length - 1];
    if (options.inFeatures !== undefined) checkPositiveInt(op, 'inFeatures', options.inFeatures);
    if (options.inFeatures !== undefined && fromShape !== undefined && fromShape !== options.inFeatures) {
      throw new Error(`${op}: inFeatures=${options.inFeatures} and inputShape=[${this.inputShape!.join(', ')}] disagree on the input features`);
    }
    this.outFeatures = options.outFeatures;
    this.#useBias = options.bias ?? true;
    this.#options = options;
    this.#activation = resolveActivation(op, options.activation);
    if (this.#activation?.module) this.registerModule('activation', this.#activation.module);
    const inFeatures = options.inFeatures ?? fromShape;
    if (inFeatures === undefined) this.deferBuild(`its inFeatures come from the first input`);
    else this.#build(inFeatures, undefined);
  }

  #build(inFeatures: number, like: Tensor | undefined): void {
    const o = this.#options;
    const { dtype, backend } = lazyPlacement(o.dtype, like);
    this.inFeatures = inFeatures;
    const u = fanInUniform(inFeatures);
    this.weight = this.registerParameter('weight', makeWeight([this.outFeatures, inFeatures], o.weightInit, u, dtype, backend));
    if (this.#useBias) this.bias = this.registerParameter('bias', makeWeight([this.outFeatures], o.biasInit, u, dtype, backend));
    this.markBuilt();
  }

  protected override buildFromShapes(shapes: Readonly<Record<string, readonly number[]>>): string | null {
    const w = shapes.weight;
    if (w === undefined || w.length !== 2 || w[0] !== this.outFeatures) {
      return `expected a 'weight' of shape [${this.outFeatures}, inFeatures], got ${w === undefined ? 'none' : formatShape(w)}`;
    }
    this.#build(w[1], undefined);
    return null;
  }

  override expectedInputShape(): readonly number[] | null {
    return this.inputShape ?? (this.inFeatures === null ? null : [this.inFeatures]);
  }

  forward(x: Tensor): Tensor {
    if (x.ndim < 1) throw new Error(`${this.#op}: input must have at least one dim (the features), got a scalar`);
    if (this.inFeatures === null) this.#build(x.shape[x.ndim - 1], x);
    if (x.shape[x.ndim - 1] !== this.inFeatures) {
      throw new Error(`${this.#op}: input ${formatShape(x.shape)} must end in inFeatures=${this.inFeatures} (weight ${formatShape(this.weight.shape)})`);
    }
    const z = linear(x, this.weight, this.bias);
    return this.#activation ? this.#activation.fn(z) : z;
  }

  /** The options with the inferred inFeatures of a built lazy layer, so a saved architecture rebuilds eagerly. */
  override getConfig(): Record<string, unknown> {
    if (this.#activation !== null && this.#activation.name === null) {
      throw new Error(`${this.#op} '${this.name}': its activation is a function or module, which a saved architecture cannot record; pass it by name ('relu', 'sigmoid', …) or add it as its own layer`);
    }
    const config = super.getConfig();
    if (this.inFeatures !== null) config.inFeatures = this.inFeatures;
    return config;
  }

  override extraRepr(): string {
    const act = this.#activation ? `, activation=${this.#activation.name ?? 'custom'}` : '';
    return `inFeatures=${this.inFeatures ?? '? (lazy)'}, outFeatures=${this.outFeatures}, bias=${this.#useBias}${act}`;
  }
}

/**
 * Keras's name for Linear, with Keras's signature: `new Dense(units, { activation, useBias,
 * inputDim, inputShape })`. `new Dense({ inFeatures, outFeatures })` works as for Linear.
 */
export class Dense extends Linear {
  static readonly layerName = 'Dense';
  constructor(options: LinearOptions);
  constructor(units: number, options?: DenseOptions);
  constructor(a: number | LinearOptions, b?: DenseOptions) {
    super(a, b as number | undefined);
  }
}

/** Returns its input. */
export class Identity extends Module {
  constructor(options: ModuleOptions = {}) {
    checkOptions('Identity', options, ['name'] as const satisfies readonly (keyof ModuleOptions)[]);
    super(options);
  }
  forward(x: Tensor): Tensor {
    return x;
  }
}

/** Flatten dims startDim..endDim (default: all but the batch dim). */
export interface FlattenOptions extends ModuleOptions {
  /** first dim flattened (default 1: the batch dim is kept) */
  startDim?: number;
  /** last dim flattened (default −1) */
  endDim?: number;
}

export interface ReshapeOptions extends ModuleOptions {
  /** shape of each sample (Keras's `target_shape`); one entry may be −1 */
  shape: readonly number[];
}

const FLATTEN_KEYS = optionKeys<FlattenOptions>()(['name', 'startDim', 'endDim']);
const RESHAPE_KEYS = optionKeys<ReshapeOptions>()(['name', 'shape']);

export class Flatten extends Module {
  readonly startDim: number;
  readonly endDim: number;
  constructor(options: FlattenOptions = {}) {
    checkOptions('Flatten', options, FLATTEN_KEYS);
    super(options);
    this.startDim = options.startDim ?? 1;
    this.endDim = options.endDim ?? -1;
  }
  forward(x: Tensor): Tensor {
    return flatten(x, this.startDim, this.endDim);
  }
  override extraRepr(): string {
    return `startDim=${this.startDim}, endDim=${this.endDim}`;
  }
}

/** Reshape each sample to `shape` (the batch dim is kept), as Keras's Reshape; one entry may be −1. */
export class Reshape extends Module {
  readonly shape: readonly number[];
  constructor(options: ReshapeOptions) {
    checkOptions('Reshape', options, RESHAPE_KEYS, { target_shape: 'shape', targetShape: 'shape' });
    super(options);
    this.shape = [...options.shape];
  }
  forward(x: Tensor): Tensor {
    const per = sizeOf(x.shape.slice(1));
    const known = this.shape.filter((d) => d !== -1);
    if (this.shape.filter((d) => d === -1).length > 1 || (per % Math.max(1, sizeOf(known)) !== 0) ||
        (!this.shape.includes(-1) && sizeOf(known) !== per)) {
      throw new Error(`Reshape: cannot reshape input ${formatShape(x.shape)} to [batch, ${this.shape.join(', ')}]`);
    }
    return reshape(x, [x.shape[0], ...this.shape]);
  }
  override extraRepr(): string {
    return `shape=[${this.shape.join(', ')}]`;
  }
}
