import { avgPool1d, avgPool2d, formatShape, maxPool1d, maxPool2d, mean, max, type Pair, type Tensor } from '@ml/tensor';
import { Module, type ModuleOptions } from './module.js';

export interface Pool2dOptions extends ModuleOptions {
  kernelSize: Pair;
  /** default: kernelSize (non-overlapping windows) */
  stride?: Pair;
  /** implicit padding on each side, at most half the kernel */
  padding?: Pair;
}

export interface Pool1dOptions extends ModuleOptions {
  kernelSize: number;
  stride?: number;
  padding?: number;
}

const show = (v: Pair | undefined) => (v === undefined ? 'undefined' : JSON.stringify(v));

/** Max over kernelSize windows of [N, C, H, W] (padding counts as −∞). */
export class MaxPool2d extends Module {
  readonly options: Pool2dOptions & { dilation?: Pair };
  constructor(options: Pool2dOptions & { dilation?: Pair }) {
    super(options);
    this.options = options;
  }
  forward(x: Tensor): Tensor {
    const { kernelSize, stride, padding, dilation } = this.options;
    return maxPool2d(x, { kernelSize, stride, padding, dilation });
  }
  override extraRepr(): string {
    return `kernelSize=${show(this.options.kernelSize)}, stride=${show(this.options.stride ?? this.options.kernelSize)}, padding=${show(this.options.padding ?? 0)}`;
  }
}

/** Mean over kernelSize windows of [N, C, H, W]; zero padding is counted unless countIncludePad is false. */
export class AvgPool2d extends Module {
  readonly options: Pool2dOptions & { countIncludePad?: boolean };
  constructor(options: Pool2dOptions & { countIncludePad?: boolean }) {
    super(options);
    this.options = options;
  }
  forward(x: Tensor): Tensor {
    const { kernelSize, stride, padding, countIncludePad } = this.options;
    return avgPool2d(x, { kernelSize, stride, padding, countIncludePad });
  }
  override extraRepr(): string {
    return `kernelSize=${show(this.options.kernelSize)}, stride=${show(this.options.stride ?? this.options.kernelSize)}, padding=${show(this.options.padding ?? 0)}`;
  }
}

/** Max over windows of [N, C, L]. */
export class MaxPool1d extends Module {
  readonly options: Pool1dOptions & { dilation?: number };
  constructor(options: Pool1dOptions & { dilation?: number }) {
    super(options);
    this.options = options;
  }
  forward(x: Tensor): Tensor {
    const { kernelSize, stride, padding, dilation } = this.options;
    return maxPool1d(x, { kernelSize, stride, padding, dilation });
  }
  override extraRepr(): string {
    return `kernelSize=${this.options.kernelSize}, stride=${this.options.stride ?? this.options.kernelSize}`;
  }
}

/** Mean over windows of [N, C, L]. */
export class AvgPool1d extends Module {
  readonly options: Pool1dOptions & { countIncludePad?: boolean };
  constructor(options: Pool1dOptions & { countIncludePad?: boolean }) {
    super(options);
    this.options = options;
  }
  forward(x: Tensor): Tensor {
    const { kernelSize, stride, padding, countIncludePad } = this.options;
    return avgPool1d(x, { kernelSize, stride, padding, countIncludePad });
  }
  override extraRepr(): string {
    return `kernelSize=${this.options.kernelSize}, stride=${this.options.stride ?? this.options.kernelSize}`;
  }
}

function spatialDims(layer: string, x: Tensor): number[] {
  if (x.ndim < 3) throw new Error(`${layer}: expected input [N, C, …spatial], got ${formatShape(x.shape)}`);
  return Array.from({ length: x.ndim - 2 }, (_, i) => i + 2);
}

/** Mean over all spatial positions: [N, C, H, W] (or [N, C, L]) → [N, C] (Keras's GlobalAveragePooling2D). */
export class GlobalAvgPool2d extends Module {
  forward(x: Tensor): Tensor {
    return mean(x, spatialDims('GlobalAvgPool2d', x));
  }
}

/** Max over all spatial positions: [N, C, H, W] (or [N, C, L]) → [N, C]. */
export class GlobalMaxPool2d extends Module {
  forward(x: Tensor): Tensor {
    return max(x, spatialDims('GlobalMaxPool2d', x));
  }
}
