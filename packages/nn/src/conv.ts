import { checkOptions, optionKeys, conv1d, conv2d, formatShape, permute, type Pair, type Padding, type Tensor } from '@ml/tensor';
import { fanInUniform, type Initializer, type InitializerName } from './init.js';
import { resolveActivation, type ActivationSpec, type ResolvedActivation } from './layer-activation.js';
import { checkInputShape, checkPositiveInt, lazyPlacement, makeWeight, type LayerOptions } from './linear.js';
import { Module } from './module.js';

/**
 * Where the channels sit in a layer's input and output: `'channelsFirst'` is PyTorch's
 * [N, C, H, W] (our default), `'channelsLast'` Keras's [N, H, W, C]. Weights keep
 * PyTorch's layout either way.
 */
export type DataFormat = 'channelsFirst' | 'channelsLast';

export function checkDataFormat(layer: string, v: DataFormat | undefined): DataFormat {
  const f = v ?? 'channelsFirst';
  if (f !== 'channelsFirst' && f !== 'channelsLast') {
    const keras = String(f).toLowerCase().replace(/_/g, '');
    const hint = keras === 'channelslast' ? "; did you mean 'channelsLast'?" : keras === 'channelsfirst' ? "; did you mean 'channelsFirst'?" : '';
    throw new Error(`${layer}: dataFormat must be 'channelsFirst' or 'channelsLast', got ${JSON.stringify(f)}${hint}`);
  }
  return f;
}

/** [..., S₁…S_k, C] → [..., C, S₁…S_k] for `spatial` = k trailing spatial dims before the channels. */
export function channelsLastToFirst(x: Tensor, spatial: number): Tensor {
  const c = x.ndim - 1;
  const lead = Array.from({ length: c - spatial }, (_, i) => i);
  return permute(x, [...lead, c, ...Array.from({ length: spatial }, (_, i) => c - spatial + i)]);
}

/** [..., C, S₁…S_k] → [..., S₁…S_k, C]: the inverse of `channelsLastToFirst`. */
export function channelsFirstToLast(x: Tensor, spatial: number): Tensor {
  const c = x.ndim - 1 - spatial;
  const lead = Array.from({ length: c }, (_, i) => i);
  return permute(x, [...lead, ...Array.from({ length: spatial }, (_, i) => c + 1 + i), c]);
}

interface ConvBaseOptions extends LayerOptions {
  /** input channels; leave it out for a lazy layer that takes them from its first input */
  inChannels?: number;
  outChannels: number;
  /** split channels into groups convolved separately (default 1; inChannels = groups: depthwise) */
  groups?: number;
  bias?: boolean;
  /** default: PyTorch's U(−1/√fan_in, 1/√fan_in), fan_in = inChannels/groups · kernel area */
  weightInit?: Initializer | InitializerName;
  biasInit?: Initializer | InitializerName;
  /** applied to the output (Keras's `activation`): a name such as 'relu', a function or a module */
  activation?: ActivationSpec;
  /** 'channelsFirst' ([N, C, …], default, PyTorch) or 'channelsLast' ([N, …, C], Keras); the weights keep PyTorch's layout */
  dataFormat?: DataFormat;
  /** shape of one input sample without the batch dim, in `dataFormat` (Keras's `input_shape`) */
  inputShape?: readonly number[];
}

export interface Conv2dOptions extends ConvBaseOptions {
  kernelSize: Pair;
  stride?: Pair;
  /**
   * a number, [padH, padW], 'valid' (no padding) or 'same' (output ⌈in/stride⌉, as Keras;
   * odd total padding puts the extra row/column at the bottom/right)
   */
  padding?: Padding;
  dilation?: Pair;
}

export interface Conv1dOptions extends ConvBaseOptions {
  kernelSize: number;
  stride?: number;
  padding?: number | 'same' | 'valid';
  dilation?: number;
}

const CONV2D_KEYS = optionKeys<Conv2dOptions>()([
  'name', 'dtype', 'inChannels', 'outChannels', 'groups', 'bias', 'weightInit', 'biasInit', 'activation', 'dataFormat', 'inputShape', 'kernelSize', 'stride', 'padding', 'dilation',
]);
const CONV1D_KEYS = optionKeys<Conv1dOptions>()(CONV2D_KEYS);
/** Keras's and PyTorch's names that do not camel-case into ours */
const CONV_ALIASES = {
  filters: 'outChannels', in_channels: 'inChannels', strides: 'stride', dilation_rate: 'dilation', dilationRate: 'dilation', use_bias: 'bias', useBias: 'bias',
  kernel_initializer: 'weightInit', kernelInitializer: 'weightInit', bias_initializer: 'biasInit', biasInitializer: 'biasInit',
};

/** Options of Keras's form `new Conv2d(filters, kernelSize, options)`. */
export type Conv2dArgsOptions = Omit<Conv2dOptions, 'outChannels' | 'kernelSize'>;
/** Options of Keras's form `new Conv1d(filters, kernelSize, options)`. */
export type Conv1dArgsOptions = Omit<Conv1dOptions, 'outChannels' | 'kernelSize'>;

/** Keras's `(filters, kernelSize, options?)` or our options object, as one options object. */
function convArgs<O extends Conv2dOptions | Conv1dOptions>(op: string, a: number | O, kernelSize: O['kernelSize'] | undefined, rest: object | undefined, keys: readonly string[]): O {
  if (typeof a !== 'number') {
    if (kernelSize !== undefined || rest !== undefined) throw new TypeError(`${op}: with an options object, pass no further arguments`);
    checkOptions(op, a, keys, CONV_ALIASES);
    return a;
  }
  if (kernelSize === undefined) throw new TypeError(`${op}: Keras's form needs (filters, kernelSize, options?), got (${a})`);
  checkOptions(op, rest, keys.filter((k) => k !== 'outChannels' && k !== 'kernelSize'), { ...CONV_ALIASES, filters: 'the first argument', outChannels: 'the first argument', kernel_size: 'the second argument', kernelSize: 'the second argument' });
  return { ...(rest ?? {}), outChannels: a, kernelSize } as O;
}

const asPair = (v: Pair): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

/**
 * What Conv1d and Conv2d share: channel checks, the lazy build from the first input's
 * channel dim, the activation, and the channels-last layout (a transpose in and out).
 */
abstract class ConvBase extends Module {
  /** null until a lazy layer is built */
  inChannels: number | null = null;
  readonly outChannels: number;
  readonly groups: number;
  readonly dataFormat: DataFormat;
  /** shape of one input sample in `dataFormat`, when given */
  readonly inputShape: readonly number[] | undefined;
  /** [outChannels, inChannels/groups, …kernel]; undefined until a lazy layer is built */
  weight!: Tensor;
  bias: Tensor | null = null;
  readonly #options: ConvBaseOptions;
  readonly #activation: ResolvedActivation | null;
  protected abstract readonly op: string;

  constructor(op: string, options: ConvBaseOptions, private readonly spatial: number) {
    super(options);
    checkPositiveInt(op, 'outChannels', options.outChannels);
    this.groups = options.groups ?? 1;
    checkPositiveInt(op, 'groups', this.groups);
    if (options.outChannels % this.groups !== 0) throw new Error(`${op}: groups=${this.groups} must divide outChannels=${options.outChannels}`);
    this.outChannels = options.outChannels;
    this.dataFormat = checkDataFormat(op, options.dataFormat);
    this.inputShape = checkInputShape(op, options.inputShape);
    if (this.inputShape !== undefined && this.inputShape.length !== spatial + 1) {
      throw new Error(`${op}: inputShape must have ${spatial + 1} dims (one sample: ${this.layoutName()}), got [${this.inputShape.join(', ')}]`);
    }
    this.#options = options;
    this.#activation = resolveActivation(op, options.activation);
    if (this.#activation?.module) this.registerModule('activation', this.#activation.module);
  }

  /** The sample layout in words: `C, H, W` or `H, W, C`. */
  protected layoutName(): string {
    const s = this.spatial === 2 ? ['H', 'W'] : ['L'];
    return (this.dataFormat === 'channelsLast' ? [...s, 'C'] : ['C', ...s]).join(', ');
  }

  /** Called at the end of a subclass constructor, once the kernel size is known. */
  protected finishConstruction(op: string): void {
    const o = this.#options;
    const fromShape = this.inputShape && (this.dataFormat === 'channelsLast' ? this.inputShape[this.spatial] : this.inputShape[0]);
    if (o.inChannels !== undefined) checkPositiveInt(op, 'inChannels', o.inChannels);
    if (o.inChannels !== undefined && fromShape !== undefined && o.inChannels !== fromShape) {
      throw new Error(`${op}: inChannels=${o.inChannels} and inputShape=[${this.inputShape!.join(', ')}] (${this.layoutName()}) disagree on the channels`);
    }
    const inChannels = o.inChannels ?? fromShape;
    if (inChannels === undefined) this.deferBuild(`its inChannels come from the first input's channel dim`);
    else this.#build(op, inChannels, undefined);
  }

  protected abstract kernelShape(): number[];

  #build(op: string, inChannels: number, like: Tensor | undefined): void {
    if (inChannels % this.groups !== 0) throw new Error(`${op}: groups=${this.groups} must divide inChannels=${inChannels}`);
    const o = this.#options;
    const { dtype, backend } = lazyPlacement(o.dtype, like);
    const k = this.kernelShape();
    const cg = inChannels / this.groups;
    const u = fanInUniform(cg * k.reduce((a, b) => a * b, 1));
    this.inChannels = inChannels;
    this.weight = this.registerParameter('weight', makeWeight([this.outChannels, cg, ...k], o.weightInit, u, dtype, backend));
    if (o.bias ?? true) this.bias = this.registerParameter('bias', makeWeight([this.outChannels], o.biasInit, u, dtype, backend));
    this.markBuilt();
  }

  protected override buildFromShapes(shapes: Readonly<Record<string, readonly number[]>>): string | null {
    const w = shapes.weight;
    const k = this.kernelShape();
    if (w === undefined || w.length !== k.length + 2 || w[0] !== this.outChannels || k.some((d, i) => w[i + 2] !== d)) {
      return `expected a 'weight' of shape [${this.outChannels}, inChannels/groups, ${k.join(', ')}], got ${w === undefined ? 'none' : formatShape(w)}`;
    }
    this.#build(this.op, w[1] * this.groups, undefined);
    return null;
  }

  override expectedInputShape(): readonly number[] | null {
    return this.inputShape ?? null;
  }

  /** Check the input, build a lazy layer, run `conv` on channels-first data, apply the activation. */
  protected apply1(x: Tensor, conv: (x: Tensor) => Tensor): Tensor {
    const op = this.op;
    const ok = x.ndim === this.spatial + 1 || x.ndim === this.spatial + 2;
    const cdim = this.dataFormat === 'channelsLast' ? x.ndim - 1 : x.ndim - this.spatial - 1;
    if (ok && this.inChannels === null) this.#build(op, x.shape[cdim], x);
    if (!ok || x.shape[cdim] !== this.inChannels) {
      const c = String(this.inChannels ?? 'C');
      const sample = this.layoutName().replace('C', c);
      throw new Error(`${op}: expected input [N, ${sample}] or [${sample}] (dataFormat '${this.dataFormat}'), got ${formatShape(x.shape)}`);
    }
    const last = this.dataFormat === 'channelsLast';
    let y = conv(last ? channelsLastToFirst(x, this.spatial) : x);
    if (last) y = channelsFirstToLast(y, this.spatial);
    return this.#activation ? this.#activation.fn(y) : y;
  }

  /** The options with a built lazy layer's inferred inChannels, so a saved architecture rebuilds eagerly. */
  override getConfig(): Record<string, unknown> {
    if (this.#activation !== null && this.#activation.name === null) {
      throw new Error(`${this.op} '${this.name}': its activation is a function or module, which a saved architecture cannot record; pass it by name ('relu', …) or add it as its own layer`);
    }
    const config = super.getConfig();
    if (this.inChannels !== null) config.inChannels = this.inChannels;
    return config;
  }

  protected reprTail(): string {
    const act = this.#activation ? `, activation=${this.#activation.name ?? 'custom'}` : '';
    const fmt = this.dataFormat === 'channelsLast' ? ", dataFormat='channelsLast'" : '';
    return `${this.groups !== 1 ? `, groups=${this.groups}` : ''}, bias=${this.#options.bias ?? true}${act}${fmt}`;
  }
}

/**
 * 2-D convolution (cross-correlation, as PyTorch): input [N, C, H, W] (or [C, H, W]),
 * weight [outChannels, inChannels/groups, kH, kW], output [N, outChannels, H', W'] with
 * H' = ⌊(H + padTop + padBottom − dilation·(kH − 1) − 1) / stride⌋ + 1.
 * With `dataFormat: 'channelsLast'` input and output are [N, H, W, C] (Keras's Conv2D);
 * without `inChannels` the layer is lazy and takes them from its first input. Keras's
 * `Conv2D(32, (3, 3), padding='same')` reads `new Conv2d(32, [3, 3], { padding: 'same' })`.
 */
export class Conv2d extends ConvBase {
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: Padding;
  readonly dilation: [number, number];
  protected readonly op = 'Conv2d';

  constructor(options: Conv2dOptions);
  /** Keras's `Conv2D(filters, kernel_size, …)` */
  constructor(filters: number, kernelSize: Pair, options?: Conv2dArgsOptions);
  constructor(a: number | Conv2dOptions, b?: Pair, c?: Conv2dArgsOptions) {
    const options = convArgs<Conv2dOptions>('Conv2d', a, b, c, CONV2D_KEYS);
    super('Conv2d', options, 2);
    this.kernelSize = asPair(options.kernelSize);
    this.stride = asPair(options.stride ?? 1);
    this.dilation = asPair(options.dilation ?? 1);
    this.padding = options.padding ?? 0;
    this.kernelSize.forEach((k) => checkPositiveInt('Conv2d', 'kernelSize', k));
    this.stride.forEach((s) => checkPositiveInt('Conv2d', 'stride', s));
    this.dilation.forEach((d) => checkPositiveInt('Conv2d', 'dilation', d));
    if (typeof this.padding !== 'string') {
      for (const p of asPair(this.padding)) if (!Number.isInteger(p) || p < 0) throw new Error(`Conv2d: padding must be integers ≥ 0, 'same' or 'valid', got ${JSON.stringify(this.padding)}`);
    } else if (this.padding !== 'same' && this.padding !== 'valid') {
      throw new Error(`Conv2d: padding must be integers ≥ 0, 'same' or 'valid', got ${JSON.stringify(this.padding)}`);
    }
    this.finishConstruction('Conv2d');
  }

  protected kernelShape(): number[] {
    return [...this.kernelSize];
  }

  forward(x: Tensor): Tensor {
    return this.apply1(x, (xc) => conv2d(xc, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups }));
  }

  override extraRepr(): string {
    return `${this.inChannels ?? '? (lazy)'}, ${this.outChannels}, kernelSize=[${this.kernelSize}], stride=[${this.stride}], padding=${JSON.stringify(this.padding)}` +
      `${this.dilation.some((d) => d !== 1) ? `, dilation=[${this.dilation}]` : ''}${this.reprTail()}`;
  }
}

/**
 * 1-D convolution over [N, C, L] (or [C, L]); weight [outChannels, inChannels/groups, k].
 * With `dataFormat: 'channelsLast'` input and output are [N, L, C] (Keras's Conv1D).
 */
export class Conv1d extends ConvBase {
  readonly kernelSize: number;
  readonly stride: number;
  readonly padding: number | 'same' | 'valid';
  readonly dilation: number;
  protected readonly op = 'Conv1d';

  constructor(options: Conv1dOptions);
  /** Keras's `Conv1D(filters, kernel_size, …)` */
  constructor(filters: number, kernelSize: number, options?: Conv1dArgsOptions);
  constructor(a: number | Conv1dOptions, b?: number, c?: Conv1dArgsOptions) {
    const options = convArgs<Conv1dOptions>('Conv1d', a, b, c, CONV1D_KEYS);
    super('Conv1d', options, 1);
    this.kernelSize = options.kernelSize;
    this.stride = options.stride ?? 1;
    this.dilation = options.dilation ?? 1;
    this.padding = options.padding ?? 0;
    checkPositiveInt('Conv1d', 'kernelSize', this.kernelSize);
    checkPositiveInt('Conv1d', 'stride', this.stride);
    checkPositiveInt('Conv1d', 'dilation', this.dilation);
    if (typeof this.padding === 'number' ? !Number.isInteger(this.padding) || this.padding < 0 : this.padding !== 'same' && this.padding !== 'valid') {
      throw new Error(`Conv1d: padding must be an integer ≥ 0, 'same' or 'valid', got ${JSON.stringify(this.padding)}`);
    }
    this.finishConstruction('Conv1d');
  }

  protected kernelShape(): number[] {
    return [this.kernelSize];
  }

  forward(x: Tensor): Tensor {
    return this.apply1(x, (xc) => conv1d(xc, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups }));
  }

  override extraRepr(): string {
    return `${this.inChannels ?? '? (lazy)'}, ${this.outChannels}, kernelSize=${this.kernelSize}, stride=${this.stride}, padding=${JSON.stringify(this.padding)}${this.reprTail()}`;
  }
}
