import { patchOutputSize, type Im2ColParams, type Shape4 } from '../backend.js';
import { isFloat } from '../dtype.js';
import { defineOp } from '../op.js';
import { checkOptions, optionKeys } from '../options.js';
import { fmt, ShapeError } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { ones } from './creation.js';
import { add, cast, div, eq, mul } from './elementwise.js';
import { reshape, squeeze, transpose, unsqueeze } from './layout.js';
import { matmul } from './linalg.js';
import { assertFloat, assertTensor, prim, runOp } from './prim.js';
import { max, mean, sum } from './reduce.js';

export type Pair = number | readonly [number, number];
export type Padding = Pair | 'same' | 'valid';

export interface Conv2dOptions {
  stride?: Pair;
  /** a number, [padH, padW], 'valid' (0) or 'same' (output size ⌈in/stride⌉, extra pad at bottom/right) */
  padding?: Padding;
  dilation?: Pair;
  groups?: number;
}

const CONV2D_KEYS = optionKeys<Conv2dOptions>()(['stride', 'padding', 'dilation', 'groups']);

function pair(op: string, name: string, v: Pair, min: number): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : [v[0], v[1]];
  for (const x of p) {
    if (!Number.isInteger(x) || x < min) throw new RangeError(`${op}: ${name} must be integers >= ${min}, got ${JSON.stringify(v)}`);
  }
  return p;
}

/** Resolve padding to [top, bottom, left, right]. */
function resolvePadding(op: string, padding: Padding, inHW: readonly number[], k: readonly number[], s: readonly number[], d: readonly number[]): [number, number, number, number] {
  if (padding === 'valid') return [0, 0, 0, 0];
  if (padding === 'same') {
    const pads = [0, 1].map((i) => {
      const out = Math.ceil(inHW[i] / s[i]);
      const total = Math.max(0, (out - 1) * s[i] + d[i] * (k[i] - 1) + 1 - inHW[i]);
      return [Math.floor(total / 2), total - Math.floor(total / 2)];
    });
    return [pads[0][0], pads[0][1], pads[1][0], pads[1][1]];
  }
  const [ph, pw] = pair(op, 'padding', padding, 0);
  return [ph, ph, pw, pw];
}

// ---------------------------------------------------------------- patches: im2col and col2im, each other's adjoint

export const im2colOp = defineOp<{ params: Im2ColParams; inShape: readonly number[] }>({
  name: 'im2col',
  grad: (dy, n) => {
    const [N, C, H, W] = n.attrs.inShape;
    return [col2im(dy, [N, C, H, W], n.attrs.params)];
  },
});
export const col2imOp = defineOp<{ params: Im2ColParams; outShape: Shape4 }>({
  name: 'col2im',
  grad: (dy, n) => [im2col(dy, n.attrs.params)],
});

/** Patch extraction: [N,C,H,W] → [N, C·kh·kw, oh·ow] (a primitive; its gradient is col2im). */
export function im2col(x: Tensor, p: Im2ColParams): Tensor {
  const [N, C] = x.shape;
  const [oh, ow] = patchOutputSize(x.shape, p);
  return prim(im2colOp, [x], { params: p, inShape: x.shape }, [N, C * p.kernel[0] * p.kernel[1], oh * ow], x.dtype, (b, [v]) =>
    b.im2col(v, p),
  );
}

/** The adjoint of im2col: scatter-add patches back into an image of `shape`. */
export function col2im(cols: Tensor, shape: readonly [number, number, number, number], p: Im2ColParams): Tensor {
  return prim(col2imOp, [cols], { params: p, outShape: shape }, shape, cols.dtype, (b, [v]) => b.col2im(v, shape, p));
}

function checkGeometry(op: string, shape: readonly number[], p: Im2ColParams): [number, number] {
  const [oh, ow] = patchOutputSize(shape, p);
  if (oh <= 0 || ow <= 0) {
    const eff = [0, 1].map((i) => p.dilation[i] * (p.kernel[i] - 1) + 1);
    const padded = [shape[2] + p.pad[0] + p.pad[1], shape[3] + p.pad[2] + p.pad[3]];
    throw new ShapeError(`${op}: kernel ${p.kernel[0]}x${p.kernel[1]} (dilated ${eff[0]}x${eff[1]}) is larger than the padded input ${padded[0]}x${padded[1]} of ${fmt(shape)}`);
  }
  return [oh, ow];
}

/**
 * 2-D cross-correlation (PyTorch's conv2d): x [N,C,H,W] (or [C,H,W]), weight
 * [O, C/groups, kh, kw], optional bias [O] → [N, O, oh, ow]. Computed as im2col + matmul.
 */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, options: Conv2dOptions = {}): Tensor {
  checkOptions('conv2d', options, CONV2D_KEYS);
  assertFloat('conv2d', x);
  assertTensor('conv2d', 'weight', weight);
  if (bias !== null) assertTensor('conv2d', 'bias (the third argument: conv2d(x, weight, bias, options))', bias);
  if (x.ndim === 3) return squeeze(conv2d(unsqueeze(x, 0), weight, bias, options), 0);
  if (x.ndim !== 4) throw new ShapeError(`conv2d: input must be [N,C,H,W] or [C,H,W], got ${fmt(x.shape)}`);
  if (weight.ndim !== 4) throw new ShapeError(`conv2d: weight must be [outChannels, inChannels/groups, kH, kW], got ${fmt(weight.shape)}`);
  const groups = options.groups ?? 1;
  const [N, C, H, W] = x.shape;
  const [O, Cg, kh, kw] = weight.shape;
  if (!Number.isInteger(groups) || groups < 1 || C % groups !== 0 || O % groups !== 0) {
    throw new ShapeError(`conv2d: groups=${groups} must divide in channels ${C} and out channels ${O}`);
  }
  if (Cg * groups !== C) {
    throw new ShapeError(`conv2d: input ${fmt(x.shape)} has ${C} channels but weight ${fmt(weight.shape)} expects ${Cg * groups} (${Cg} per group x ${groups} groups)`);
  }
  if (bias !== null && (bias.ndim !== 1 || bias.shape[0] !== O)) {
    throw new ShapeError(`conv2d: bias must be [${O}], got ${fmt(bias.shape)}`);
  }
  const stride = pair('conv2d', 'stride', options.stride ?? 1, 1);
  const dilation = pair('conv2d', 'dilation', options.dilation ?? 1, 1);
  const kernel: [number, number] = [kh, kw];
  const pad = resolvePadding('conv2d', options.padding ?? 0, [H, W], kernel, stride, dilation);
  const p: Im2ColParams = { kernel, stride, dilation, pad, padValue: 0 };
  const [oh, ow] = checkGeometry('conv2d', x.shape, p);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return runOp(conv2dOp, inputs, { params: p, groups }, { shape: [N, O, oh, ow], dtype: x.dtype }, () => {
    const cols = im2col(x, p); // [N, C·kh·kw, L]
    let out: Tensor;
    if (groups === 1) {
      out = matmul(reshape(weight, [O, C * kh * kw]), cols); // [N, O, L]
    } else {
      const g = reshape(cols, [N, groups, Cg * kh * kw, oh * ow]);
      out = matmul(reshape(weight, [groups, O / groups, Cg * kh * kw]), g); // [N, G, O/G, L]
    }
    out = reshape(out, [N, O, oh, ow]);
    return bias ? add(out, reshape(bias, [1, O, 1, 1])) : out;
  });
}

/** The gradient helpers read their operands by these shapes: anything else is a clear error. */
function expectShape(op: string, name: string, t: Tensor, want: readonly number[]): void {
  if (t.ndim !== want.length || t.shape.some((d, i) => d !== want[i])) {
    throw new ShapeError(`${op}: ${name} must be ${fmt(want)}, got ${fmt(t.shape)}`);
  }
}

/**
 * ∂L/∂x of conv2d for the output gradient `dy` [N, O, oh, ow]: the adjoint of the
 * convolution, col2im(wᵀ · dy). Used by the conv2d gradient rule; differentiable itself.
 */
export function conv2dBackwardInput(dy: Tensor, weight: Tensor, xShape: Shape4, p: Im2ColParams, groups = 1): Tensor {
  expectShape('conv2dBackwardInput', 'weight', weight, [weight.shape[0], xShape[1] / groups, ...p.kernel]);
  expectShape('conv2dBackwardInput', 'dy', dy, [xShape[0], weight.shape[0], ...patchOutputSize(xShape, p)]);
  return runOp(conv2dBackwardInputOp, [dy, weight], { params: p, groups, xShape }, { shape: xShape, dtype: dy.dtype }, () => {
    const [N, O, oh, ow] = dy.shape;
    const [, Cg, kh, kw] = weight.shape;
    const L = oh * ow;
    const R = Cg * kh * kw;
    const cols =
      groups === 1
        ? matmul(transpose(reshape(weight, [O, R]), 0, 1), reshape(dy, [N, O, L]))
        : reshape(matmul(transpose(reshape(weight, [groups, O / groups, R]), 1, 2), reshape(dy, [N, groups, O / groups, L])), [N, groups * R, L]);
    return col2im(cols, xShape, p);
  });
}

/** ∂L/∂weight of conv2d: Σₙ dyₙ · im2col(x)ₙᵀ, shaped like the weight. Differentiable. */
export function conv2dBackwardWeight(dy: Tensor, x: Tensor, wShape: Shape4, p: Im2ColParams, groups = 1, saved: readonly Tensor[] = []): Tensor {
  expectShape('conv2dBackwardWeight', 'x', x, [x.shape[0], wShape[1] * groups, x.shape[2], x.shape[3]]);
  expectShape('conv2dBackwardWeight', 'dy', dy, [x.shape[0], wShape[0], ...patchOutputSize(x.shape, p)]);
  return runOp(conv2dBackwardWeightOp, [dy, x], { params: p, groups, wShape, saved }, { shape: wShape, dtype: dy.dtype }, () => {
    const [N, O, oh, ow] = dy.shape;
    const [, Cg, kh, kw] = wShape;
    const L = oh * ow;
    const cols = im2col(x, p); // [N, C·kh·kw, L]
    if (groups === 1) return reshape(sum(matmul(reshape(dy, [N, O, L]), transpose(cols, 1, 2)), 0), wShape);
    const g = reshape(cols, [N, groups, Cg * kh * kw, L]);
    return reshape(sum(matmul(reshape(dy, [N, groups, O / groups, L]), transpose(g, 2, 3)), 0), wShape);
  });
}

export interface Conv1dOptions {
  stride?: number;
  padding?: number | 'same' | 'valid';
  dilation?: number;
  groups?: number;
}

/** 1-D cross-correlation: x [N,C,L] (or [C,L]), weight [O, C/groups, k]. */
const CONV1D_KEYS = optionKeys<Conv1dOptions>()(['stride', 'padding', 'dilation', 'groups']);

export function conv1d(x: Tensor, weight: Tensor, bias: Tensor | null = null, options: Conv1dOptions = {}): Tensor {
  checkOptions('conv1d', options, CONV1D_KEYS);
  if (x.ndim === 2) return squeeze(conv1d(unsqueeze(x, 0), weight, bias, options), 0);
  if (x.ndim !== 3) throw new ShapeError(`conv1d: input must be [N,C,L] or [C,L], got ${fmt(x.shape)}`);
  if (weight.ndim !== 3) throw new ShapeError(`conv1d: weight must be [outChannels, inChannels/groups, k], got ${fmt(weight.shape)}`);
  const pad = options.padding ?? 0;
  const out = conv2d(unsqueeze(x, 2), unsqueeze(weight, 2), bias, {
    stride: [1, options.stride ?? 1],
    dilation: [1, options.dilation ?? 1],
    padding: typeof pad === 'number' ? [0, pad] : pad,
    groups: options.groups ?? 1,
  });
  return squeeze(out, 2);
}

export interface Pool2dOptions {
  kernelSize: Pair;
  /** default: kernelSize */
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
}

function poolParams(op: string, x: Tensor, o: Pool2dOptions, padValue: number): Im2ColParams {
  if (x.ndim !== 4) throw new ShapeError(`${op}: input must be [N,C,H,W] or [C,H,W], got ${fmt(x.shape)}`);
  const kernel = pair(op, 'kernelSize', o.kernelSize, 1);
  const stride = pair(op, 'stride', o.stride ?? kernel, 1);
  const dilation = pair(op, 'dilation', o.dilation ?? 1, 1);
  const [ph, pw] = pair(op, 'padding', o.padding ?? 0, 0);
  if (ph > kernel[0] / 2 || pw > kernel[1] / 2) {
    throw new RangeError(`${op}: padding ${ph}x${pw} must be at most half the kernel ${kernel[0]}x${kernel[1]}`);
  }
  return { kernel, stride, dilation, pad: [ph, ph, pw, pw], padValue };
}

/** Each channel as its own image: [N,C,H,W] → patches [N·C, kh·kw, oh·ow]. */
function channelPatches(op: string, x: Tensor, p: Im2ColParams): { cols: Tensor; oh: number; ow: number } {
  const [N, C, H, W] = x.shape;
  const [oh, ow] = checkGeometry(op, x.shape, p);
  return { cols: im2col(reshape(x, [N * C, 1, H, W]), p), oh, ow };
}

/**
 * ∂L/∂x of maxPool2d given its output `y`: each window's gradient `dy` goes to the
 * elements equal to the window's max, shared among ties. Used by the maxPool2d gradient rule.
 */
export function maxPool2dBackward(x: Tensor, y: Tensor, dy: Tensor, p: Im2ColParams): Tensor {
  const pooled = [x.shape[0], x.shape[1], ...patchOutputSize(x.shape, p)];
  expectShape('maxPool2dBackward', 'y', y, pooled);
  expectShape('maxPool2dBackward', 'dy', dy, pooled);
  return runOp(maxPool2dBackwardOp, [x, y, dy], { params: p }, { shape: x.shape, dtype: x.dtype }, () => {
    const [N, C, H, W] = x.shape;
    const { cols, oh, ow } = channelPatches('maxPool2d', x, p); // [N·C, kh·kw, L]
    const mask = cast(eq(cols, reshape(y, [N * C, 1, oh * ow])), x.dtype);
    const share = div(mul(mask, reshape(dy, [N * C, 1, oh * ow])), sum(mask, 1, true));
    return reshape(col2im(share, [N * C, 1, H, W], p), [N, C, H, W]);
  });
}

/** Max over each window (padding counts as -∞). Ties share the gradient. */
const POOL2D_KEYS = optionKeys<Pool2dOptions>()(['kernelSize', 'stride', 'padding', 'dilation']);

export function maxPool2d(x: Tensor, options: Pool2dOptions): Tensor {
  checkOptions('maxPool2d', options, POOL2D_KEYS);
  if (x.ndim === 3) return squeeze(maxPool2d(unsqueeze(x, 0), options), 0);
  // padding must never win the max: -∞ for floats, the smallest int32 otherwise
  const p = poolParams('maxPool2d', x, options, isFloat(x.dtype) ? -Infinity : -2147483648);
  const [N, C] = x.shape;
  const [oh, ow] = checkGeometry('maxPool2d', x.shape, p);
  return runOp(maxPool2dOp, [x], { params: p }, { shape: [N, C, oh, ow], dtype: x.dtype }, () => {
    const { cols, oh, ow } = channelPatches('maxPool2d', x, p);
    return reshape(max(cols, 1), [N, C, oh, ow]);
  });
}

export interface AvgPool2dOptions extends Omit<Pool2dOptions, 'dilation'> {
  /** count zero padding in the divisor (PyTorch's default true) */
  countIncludePad?: boolean;
}

/** Mean over each window. */
const AVG_POOL2D_KEYS = optionKeys<AvgPool2dOptions>()(['kernelSize', 'stride', 'padding', 'countIncludePad']);

export function avgPool2d(x: Tensor, options: AvgPool2dOptions): Tensor {
  checkOptions('avgPool2d', options, AVG_POOL2D_KEYS);
  if (x.ndim === 3) return squeeze(avgPool2d(unsqueeze(x, 0), options), 0);
  const p = poolParams('avgPool2d', x, options, 0);
  const [N, C] = x.shape;
  const [oh, ow] = checkGeometry('avgPool2d', x.shape, p);
  return runOp(avgPool2dOp, [x], { params: p, countIncludePad: options.countIncludePad ?? true }, { shape: [N, C, oh, ow], dtype: x.dtype }, () => {
    const { cols, oh, ow } = channelPatches('avgPool2d', x, p);
    if (options.countIncludePad ?? true) return reshape(mean(cols, 1), [N, C, oh, ow]);
    const ones1 = ones([1, 1, x.shape[2], x.shape[3]], { dtype: x.dtype, backend: x.backend.name });
    const counts = sum(im2col(ones1, p), 1); // [1, L]: real (unpadded) elements per window
    return reshape(div(sum(cols, 1), counts), [N, C, oh, ow]);
  });
}

export interface Pool1dOptions {
  kernelSize: number;
  stride?: number;
  padding?: number;
  dilation?: number;
}

function pool1d(fn: (x: Tensor, o: Pool2dOptions) => Tensor, x: Tensor, o: Pool1dOptions): Tensor {
  if (x.ndim === 2) return squeeze(pool1d(fn, unsqueeze(x, 0), o), 0);
  if (x.ndim !== 3) throw new ShapeError(`pool1d: input must be [N,C,L] or [C,L], got ${fmt(x.shape)}`);
  return squeeze(
    fn(unsqueeze(x, 2), {
      kernelSize: [1, o.kernelSize],
      stride: [1, o.stride ?? o.kernelSize],
      padding: [0, o.padding ?? 0],
      dilation: [1, o.dilation ?? 1],
    }),
    2,
  );
}

const POOL1D_KEYS = optionKeys<Pool1dOptions>()(['kernelSize', 'stride', 'padding', 'dilation']);

export function maxPool1d(x: Tensor, options: Pool1dOptions): Tensor {
  checkOptions('maxPool1d', options, POOL1D_KEYS);
  return pool1d(maxPool2d, x, options);
}

export interface AvgPool1dOptions extends Omit<Pool1dOptions, 'dilation'> {
  /** count zero padding in the divisor (PyTorch's default true) */
  countIncludePad?: boolean;
}

const AVG_POOL1D_KEYS = optionKeys<AvgPool1dOptions>()(['kernelSize', 'stride', 'padding', 'countIncludePad']);

export function avgPool1d(x: Tensor, options: AvgPool1dOptions): Tensor {
  checkOptions('avgPool1d', options, AVG_POOL1D_KEYS);
  const { countIncludePad } = options;
  return pool1d((t, o) => avgPool2d(t, { kernelSize: o.kernelSize, stride: o.stride, padding: o.padding, countIncludePad }), x, options);
}

/** Mean over all spatial positions: [N,C,H,W] → [N,C]. */
export function globalAvgPool2d(x: Tensor): Tensor {
  if (x.ndim !== 4) throw new ShapeError(`globalAvgPool2d: input must be [N,C,H,W], got ${fmt(x.shape)}`);
  return mean(x, [2, 3]);
}

// ---------------------------------------------------------------- op definitions
//
// Each fused kernel is the backend's method of the same name (an optional part of the
// Backend contract): the cpu backend's runs on one patch-matrix product, the wasm
// backend's on SIMD kernels (Winograd for 3×3), the webgpu backend's in WGSL.

interface ConvAttrs {
  params: Im2ColParams;
  groups: number;
}

/**
 * 2-D convolution. Its gradient: ∂x = conv2dBackwardInput(dy, w), ∂w =
 * conv2dBackwardWeight(dy, x) (given what the forward kernel saved: the wasm backend
 * keeps its patch matrix), ∂bias = Σ dy over N, H, W.
 */
export const conv2dOp = defineOp<ConvAttrs>({
  name: 'conv2d',
  grad: (dy, n, needs) => {
    const [x, w] = n.inputs;
    const { params: p, groups } = n.attrs;
    const grads = [
      needs[0] ? conv2dBackwardInput(dy, w, x.shape as Shape4, p, groups) : null,
      needs[1] ? conv2dBackwardWeight(dy, x, w.shape as Shape4, p, groups, n.saved) : null,
    ];
    if (n.inputs.length > 2) grads.push(needs[2] ? sum(sum(dy, [2, 3]), 0) : null);
    return grads;
  },
  fused: (b, [x, w, bias], a, save) => b.conv2d?.(x, w, bias ?? null, a.params, a.groups, save) ?? null,
});

/** ∂x of conv2d; differentiated through its composite (a product and col2im). */
export const conv2dBackwardInputOp = defineOp<ConvAttrs & { xShape: Shape4 }>({
  name: 'conv2dBackwardInput',
  fused: (b, [dy, w], a) => b.conv2dBackwardInput?.(dy, w, a.xShape, a.params, a.groups) ?? null,
});

/** ∂w of conv2d; `saved` is what the forward kernel kept for it (an attribute: no gradient flows to it). */
export const conv2dBackwardWeightOp = defineOp<ConvAttrs & { wShape: Shape4; saved: readonly Tensor[] }>({
  name: 'conv2dBackwardWeight',
  fused: (b, [dy, x], a) => b.conv2dBackwardWeight?.(dy, x, a.wShape, a.params, a.groups, a.saved.map((t) => t.view_())) ?? null,
});

/** Max pooling; ties share the gradient (maxPool2dBackward). */
export const maxPool2dOp = defineOp<{ params: Im2ColParams }>({
  name: 'maxPool2d',
  grad: (dy, n) => [maxPool2dBackward(n.inputs[0], n.output, dy, n.attrs.params)],
  fused: (b, [x], a) => b.maxPool2d?.(x, a.params) ?? null,
});

export const maxPool2dBackwardOp = defineOp<{ params: Im2ColParams }>({
  name: 'maxPool2dBackward',
  fused: (b, [x, y, dy], a) => b.maxPool2dBackward?.(x, y, dy, a.params) ?? null,
});

/** Average pooling; differentiated through its composite (patches and a mean). */
export const avgPool2dOp = defineOp<{ params: Im2ColParams; countIncludePad: boolean }>({
  name: 'avgPool2d',
  fused: (b, [x], a) => b.avgPool2d?.(x, a.params, a.countIncludePad) ?? null,
});
