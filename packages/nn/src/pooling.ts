import { avgPool1d, avgPool2d, checkOptions, optionKeys, formatShape, maxPool1d, maxPool2d, mean, max, type Pair, type Tensor } from '@ml/tensor';
import { channelsFirstToLast, channelsLastToFirst, checkDataFormat, type DataFormat } from './conv.js';
import { Module, type ModuleOptions } from './module.js';

export interface Pool2dOptions extends ModuleOptions {
  kernelSize: Pair;
  /** default: kernelSize (non-overlapping windows) */
  stride?: Pair;
  /** implicit padding on each side, at most half the kernel */
  padding?: Pair;
  /** 'channelsFirst' ([N, C, H, W], default, PyTorch) or 'channelsLast' ([N, H, W, C], Keras) */
  dataFormat?: DataFormat;
}

export interface Pool1dOptions extends ModuleOptions {
  kernelSize: number;
  stride?: number;
  padding?: number;
  /** 'channelsFirst' ([N, C, L], default, PyTorch) or 'channelsLast' ([N, L, C], Keras) */
  dataFormat?: DataFormat;
}

export interface MaxPool2dOptions extends Pool2dOptions {
  dilation?: Pair;
}
export interface AvgPool2dOptions extends Pool2dOptions {
  /** divide by the whole window including zero padding (default true, PyTorch) */
  countIncludePad?: boolean;
}
export interface MaxPool1dOptions extends Pool1dOptions {
  dilation?: number;
}
export interface AvgPool1dOptions extends Pool1dOptions {
  countIncludePad?: boolean;
}
export interface GlobalPoolOptions extends ModuleOptions {
  /** 'channelsFirst' ([N, C, …], default) or 'channelsLast' ([N, …, C], Keras's GlobalAveragePooling2D) */
  dataFormat?: DataFormat;
}

const POOL_KEYS = ['name', 'kernelSize', 'stride', 'padding', 'dataFormat'] as const satisfies readonly (keyof Pool2dOptions & keyof Pool1dOptions)[];
const MAX2_KEYS = optionKeys<MaxPool2dOptions>()([...POOL_KEYS, 'dilation']);
const AVG2_KEYS = optionKeys<AvgPool2dOptions>()([...POOL_KEYS, 'countIncludePad']);
const MAX1_KEYS = optionKeys<MaxPool1dOptions>()([...POOL_KEYS, 'dilation']);
const AVG1_KEYS = optionKeys<AvgPool1dOptions>()([...POOL_KEYS, 'countIncludePad']);
const GLOBAL_KEYS = optionKeys<GlobalPoolOptions>()(['name', 'dataFormat']);
/** Keras's names that do not camel-case into ours */
const POOL_ALIASES = { pool_size: 'kernelSize', poolSize: 'kernelSize', strides: 'stride', kernel_size: 'kernelSize' };

const show = (v: Pair | undefined) => (v === undefined ? 'undefined' : JSON.stringify(v));

/** Run a channels-first pooling op on input in `format` (channels-last: transpose in and out). */
function inFormat(format: DataFormat, spatial: number, x: Tensor, op: (x: Tensor) => Tensor): Tensor {
  if (format === 'channelsFirst') return op(x);
  return channelsFirstToLast(op(channelsLastToFirst(x, spatial)), spatial);
}

const formatRepr = (f: DataFormat): string => (f === 'channelsLast' ? ", dataFormat='channelsLast'" : '');

/** Max over kernelSize windows of [N, C, H, W] (or [N, H, W, C] channels-last; padding counts as −∞). */
export class MaxPool2d extends Module {
  readonly options: MaxPool2dOptions;
  readonly dataFormat: DataFormat;
  constructor(options: MaxPool2dOptions) {
    checkOptions('MaxPool2d', options, MAX2_KEYS, POOL_ALIASES);
    super(options);
    this.options = options;
    this.dataFormat = checkDataFormat('MaxPool2d', options.dataFormat);
  }
  forward(x: Tensor): Tensor {
    const { kernelSize, stride, padding, dilation } = this.options;
    return inFormat(this.dataFormat, 2, x, (xc) => maxPool2d(xc, { kernelSize, stride, padding, dilation }));
  }
  override extraRepr(): string {
    return `kernelSize=${show(this.options.kernelSize)}, stride=${show(this.options.stride ?? this.options.kernelSize)}, padding=${show(this.options.padding ?? 0)}${formatRepr(this.dataFormat)}`;
  }
}

/** Mean over kernelSize windows of [N, C, H, W] (or channels-last); zero padding is counted unless countIncludePad is false. */
export class AvgPool2d extends Module {
  readonly options: AvgPool2dOptions;
  readonly dataFormat: DataFormat;
  constructor(options: AvgPool2dOptions) {
    checkOptions('AvgPool2d', options, AVG2_KEYS, POOL_ALIASES);
    super(options);
    this.options = options;
    this.dataFormat = checkDataFormat('AvgPool2d', options.dataFormat);
  }
  forward(x: Tensor): Tensor {
    const { kernelSize, stride, padding, countIncludePad } = this.options;
    return inFormat(this.dataFormat, 2, x, (xc) => avgPool2d(xc, { kernelSize, stride, padding, countIncludePad }));
  }
  override extraRepr(): string {
    return `kernelSize=${show(this.options.kernelSize)}, stride=${show(this.options.stride ?? this.options.kernelSize)}, padding=${show(this.options.padding ?? 0)}${formatRepr(this.dataFormat)}`;
  }
}

/** Max over windows of [N, C, L] (or [N, L, C] channels-last). */
export class MaxPool1d extends Module {
  readonly options: MaxPool1dOptions;
  readonly dataFormat: DataFormat;
  constructor(options: MaxPool1dOptions) {
    checkOptions('MaxPool1d', options, MAX1_KEYS, POOL_ALIASES);
    super(options);
    this.options = options;
    this.dataFormat = checkDataFormat('MaxPool1d', options.dataFormat);
  }
  forward(x: Tensor): Tensor {
    const { kernelSize, stride, padding, dilation } = this.options;
    return inFormat(this.dataFormat, 1, x, (xc) => maxPool1d(xc, { kernelSize, stride, padding, dilation }));
  }
  override extraRepr(): string {
    return `kernelSize=${this.options.kernelSize}, stride=${this.options.stride ?? this.options.kernelSize}${formatRepr(this.dataFormat)}`;
  }
}

/** Mean over windows of [N, C, L] (or [N, L, C] channels-last). */
export class AvgPool1d extends Module {
  readonly options: AvgPool1dOptions;
  readonly dataFormat: DataFormat;
  constructor(options: AvgPool1dOptions) {
    checkOptions('AvgPool1d', options, AVG1_KEYS, POOL_ALIASES);
    super(options);
    this.options = options;
    this.dataFormat = checkDataFormat('AvgPool1d', options.dataFormat);
  }
  forward(x: Tensor): Tensor {
    const { kernelSize, stride, padding, countIncludePad } = this.options;
    return inFormat(this.dataFormat, 1, x, (xc) => avgPool1d(xc, { kernelSize, stride, padding, countIncludePad }));
  }
  override extraRepr(): string {
    return `kernelSize=${this.options.kernelSize}, stride=${this.options.stride ?? this.options.kernelSize}${formatRepr(this.dataFormat)}`;
  }
}

/** The spatial dims of [N, C, …spatial] (channels-first) or [N, …spatial, C] (channels-last). */
function spatialDims(layer: string, x: Tensor, format: DataFormat): number[] {
  if (x.ndim < 3) throw new Error(`${layer}: expected input ${format === 'channelsLast' ? '[N, …spatial, C]' : '[N, C, …spatial]'}, got ${formatShape(x.shape)}`);
  return Array.from({ length: x.ndim - 2 }, (_, i) => (format === 'channelsLast' ? i + 1 : i + 2));
}

/** Mean over all spatial positions: [N, C, H, W] (or [N, C, L]) → [N, C] (Keras's GlobalAveragePooling2D). */
export class GlobalAvgPool2d extends Module {
  readonly dataFormat: DataFormat;
  constructor(options: GlobalPoolOptions = {}) {
    checkOptions('GlobalAvgPool2d', options, GLOBAL_KEYS);
    super(options);
    this.dataFormat = checkDataFormat('GlobalAvgPool2d', options.dataFormat);
  }
  forward(x: Tensor): Tensor {
    return mean(x, spatialDims('GlobalAvgPool2d', x, this.dataFormat));
  }
}

/** Max over all spatial positions: [N, C, H, W] (or [N, C, L]) → [N, C]. */
export class GlobalMaxPool2d extends Module {
  readonly dataFormat: DataFormat;
  constructor(options: GlobalPoolOptions = {}) {
    checkOptions('GlobalMaxPool2d', options, GLOBAL_KEYS);
    super(options);
    this.dataFormat = checkDataFormat('GlobalMaxPool2d', options.dataFormat);
  }
  forward(x: Tensor): Tensor {
    return max(x, spatialDims('GlobalMaxPool2d', x, this.dataFormat));
  }
}
