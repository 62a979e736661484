import { conv1d, conv2d, formatShape, type Pair, type Padding, type Tensor } from '@ml/tensor';
import { fanInUniform, type Initializer, type InitializerName } from './init.js';
import { checkPositiveInt, makeWeight, type LayerOptions } from './linear.js';
import { Module } from './module.js';

interface ConvBaseOptions extends LayerOptions {
  inChannels: number;
  outChannels: number;
  /** split channels into groups convolved separately (default 1; inChannels = groups: depthwise) */
  groups?: number;
  bias?: boolean;
  /** default: PyTorch's U(−1/√fan_in, 1/√fan_in), fan_in = inChannels/groups · kernel area */
  weightInit?: Initializer | InitializerName;
  biasInit?: Initializer | InitializerName;
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

const asPair = (v: Pair): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

function checkChannels(layer: string, o: ConvBaseOptions): number {
  checkPositiveInt(layer, 'inChannels', o.inChannels);
  checkPositiveInt(layer, 'outChannels', o.outChannels);
  const groups = o.groups ?? 1;
  checkPositiveInt(layer, 'groups', groups);
  if (o.inChannels % groups !== 0 || o.outChannels % groups !== 0) {
    throw new Error(`${layer}: groups=${groups} must divide inChannels=${o.inChannels} and outChannels=${o.outChannels}`);
  }
  return groups;
}

/**
 * 2-D convolution (cross-correlation, as PyTorch): input [N, C, H, W] (or [C, H, W]),
 * weight [outChannels, inChannels/groups, kH, kW], output [N, outChannels, H', W'] with
 * H' = ⌊(H + padTop + padBottom − dilation·(kH − 1) − 1) / stride⌋ + 1.
 */
export class Conv2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: Padding;
  readonly dilation: [number, number];
  readonly groups: number;
  weight: Tensor;
  bias: Tensor | null = null;

  constructor(options: Conv2dOptions) {
    super(options);
    this.groups = checkChannels('Conv2d', options);
    this.inChannels = options.inChannels;
    this.outChannels = options.outChannels;
    this.kernelSize = asPair(options.kernelSize);
    this.stride = asPair(options.stride ?? 1);
    this.dilation = asPair(options.dilation ?? 1);
    this.padding = options.padding ?? 0;
    this.kernelSize.forEach((k) => checkPositiveInt('Conv2d', 'kernelSize', k));
    this.stride.forEach((s) => checkPositiveInt('Conv2d', 'stride', s));
    this.dilation.forEach((d) => checkPositiveInt('Conv2d', 'dilation', d));
    if (typeof this.padding !== 'string') {
      for (const p of asPair(this.padding)) if (!Number.isInteger(p) || p < 0) throw new Error(`Conv2d: padding must be integers ≥ 0, 'same' or 'valid', got ${JSON.stringify(this.padding)}`);
    }
    const cg = this.inChannels / this.groups;
    const u = fanInUniform(cg * this.kernelSize[0] * this.kernelSize[1]);
    this.weight = this.registerParameter('weight', makeWeight([this.outChannels, cg, ...this.kernelSize], options.weightInit, u, options.dtype));
    if (options.bias ?? true) this.bias = this.registerParameter('bias', makeWeight([this.outChannels], options.biasInit, u, options.dtype));
  }

  forward(x: Tensor): Tensor {
    if ((x.ndim !== 4 && x.ndim !== 3) || x.shape[x.ndim - 3] !== this.inChannels) {
      throw new Error(`Conv2d: expected input [N, ${this.inChannels}, H, W] or [${this.inChannels}, H, W], got ${formatShape(x.shape)}`);
    }
    return conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
  }

  override extraRepr(): string {
    return `${this.inChannels}, ${this.outChannels}, kernelSize=[${this.kernelSize}], stride=[${this.stride}], padding=${JSON.stringify(this.padding)}` +
      `${this.dilation.some((d) => d !== 1) ? `, dilation=[${this.dilation}]` : ''}${this.groups !== 1 ? `, groups=${this.groups}` : ''}, bias=${this.bias !== null}`;
  }
}

/** 1-D convolution over [N, C, L] (or [C, L]); weight [outChannels, inChannels/groups, k]. */
export class Conv1d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: number;
  readonly stride: number;
  readonly padding: number | 'same' | 'valid';
  readonly dilation: number;
  readonly groups: number;
  weight: Tensor;
  bias: Tensor | null = null;

  constructor(options: Conv1dOptions) {
    super(options);
    this.groups = checkChannels('Conv1d', options);
    this.inChannels = options.inChannels;
    this.outChannels = options.outChannels;
    this.kernelSize = options.kernelSize;
    this.stride = options.stride ?? 1;
    this.dilation = options.dilation ?? 1;
    this.padding = options.padding ?? 0;
    checkPositiveInt('Conv1d', 'kernelSize', this.kernelSize);
    checkPositiveInt('Conv1d', 'stride', this.stride);
    checkPositiveInt('Conv1d', 'dilation', this.dilation);
    if (typeof this.padding === 'number' && (!Number.isInteger(this.padding) || this.padding < 0)) {
      throw new Error(`Conv1d: padding must be an integer ≥ 0, 'same' or 'valid', got ${this.padding}`);
    }
    const cg = this.inChannels / this.groups;
    const u = fanInUniform(cg * this.kernelSize);
    this.weight = this.registerParameter('weight', makeWeight([this.outChannels, cg, this.kernelSize], options.weightInit, u, options.dtype));
    if (options.bias ?? true) this.bias = this.registerParameter('bias', makeWeight([this.outChannels], options.biasInit, u, options.dtype));
  }

  forward(x: Tensor): Tensor {
    if ((x.ndim !== 3 && x.ndim !== 2) || x.shape[x.ndim - 2] !== this.inChannels) {
      throw new Error(`Conv1d: expected input [N, ${this.inChannels}, L] or [${this.inChannels}, L], got ${formatShape(x.shape)}`);
    }
    return conv1d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
  }

  override extraRepr(): string {
    return `${this.inChannels}, ${this.outChannels}, kernelSize=${this.kernelSize}, stride=${this.stride}, padding=${JSON.stringify(this.padding)}, bias=${this.bias !== null}`;
  }
}
