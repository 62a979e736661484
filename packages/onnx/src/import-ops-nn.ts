/** Imported operators of neural-network layers: convolution, pooling, normalization and (inference) dropout. */
import {
  add, conv2d, div, isFloat, maxPool2d, mean, mul, ones, pad, reciprocal, reshape, sqrt, squeeze, sub, unsqueeze, avgPool2d,
  type Tensor,
} from '@ml/tensor';
import { type Attrs, fail, guard, normAxis, type OpContext, type OpDef, type Value } from './import-ops-core.js';

interface Window {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** begin and end padding per spatial dim */
  begin: number[];
  end: number[];
}

/** kernel_shape/strides/dilations/pads/auto_pad of Conv and the pools, per spatial dim. */
function windowOf(ctx: OpContext, a: Attrs, spatial: readonly number[], kernel: readonly number[]): Window {
  const k = spatial.length;
  const check = (name: string, v: number[] | null, def: number, min: number): number[] => {
    const out = v ?? new Array<number>(k).fill(def);
    if (out.length !== k || out.some((x) => !Number.isInteger(x) || x < min)) fail(ctx, `${name} [${out.join(', ')}] must be ${k} integers >= ${min}`);
    return out;
  };
  const ks = check('kernel_shape', a.ints('kernel_shape') ?? [...kernel], 1, 1);
  const st = check('strides', a.ints('strides'), 1, 1);
  const dl = check('dilations', a.ints('dilations'), 1, 1);
  const pads = a.ints('pads') ?? new Array<number>(2 * k).fill(0);
  if (pads.length !== 2 * k || pads.some((x) => !Number.isInteger(x) || x < 0)) fail(ctx, `pads [${pads.join(', ')}] must be ${2 * k} non-negative integers`);
  let begin = pads.slice(0, k);
  let end = pads.slice(k);
  const auto = a.string('auto_pad', 'NOTSET');
  if (auto === 'VALID') {
    begin = begin.map(() => 0);
    end = end.map(() => 0);
  } else if (auto === 'SAME_UPPER' || auto === 'SAME_LOWER') {
    begin = [];
    end = [];
    spatial.forEach((n, i) => {
      const out = Math.ceil(n / st[i]);
      const total = Math.max(0, (out - 1) * st[i] + (ks[i] - 1) * dl[i] + 1 - n);
      const small = Math.floor(total / 2);
      begin.push(auto === 'SAME_UPPER' ? small : total - small);
      end.push(auto === 'SAME_UPPER' ? total - small : small);
    });
  } else if (auto !== 'NOTSET') fail(ctx, `auto_pad '${auto}' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID`);
  return { kernel: ks, strides: st, dilations: dl, begin, end };
}

/** 1-D work becomes 2-D with a leading spatial dim of 1; 3-D and beyond are refused. */
function as2d(ctx: OpContext, x: Tensor): Tensor {
  if (x.ndim === 3) return unsqueeze(x, 2);
  if (x.ndim === 4) return x;
  return fail(ctx, `input of shape [${x.shape.join(', ')}] is not [N, C, L] or [N, C, H, W] (only 1-D and 2-D are supported)`);
}

function window2d(w: Window, oneD: boolean): Window {
  if (!oneD) return w;
  return { kernel: [1, ...w.kernel], strides: [1, ...w.strides], dilations: [1, ...w.dilations], begin: [0, ...w.begin], end: [0, ...w.end] };
}

/** Pad [N, C, H, W] by begin/end per spatial dim (F.pad order: last dim first). */
function padSpatial(x: Tensor, begin: readonly number[], end: readonly number[], value: number): Tensor {
  if (begin.every((b) => b === 0) && end.every((e) => e === 0)) return x;
  return pad(x, [begin[1], end[1], begin[0], end[0]], value);
}

export const conv: OpDef = {
  attrs: { kernel_shape: 'ints', strides: 'ints', dilations: 'ints', pads: 'ints', auto_pad: 'string', group: 'int' },
  minInputs: 2,
  run: (ctx, [xv, wv, bv], a) => {
    const x0 = ctx.tensor(xv as Value);
    const w0 = ctx.tensor(wv as Value);
    const oneD = x0.ndim === 3;
    const x = as2d(ctx, x0);
    const w = oneD ? unsqueeze(w0, 2) : w0;
    if (w.ndim !== 4) fail(ctx, `weight of shape [${w0.shape.join(', ')}] does not match input [${x0.shape.join(', ')}]`);
    const win = window2d(windowOf(ctx, a, x0.shape.slice(2), w0.shape.slice(2)), oneD);
    if (win.kernel[0] !== w.shape[2] || win.kernel[1] !== w.shape[3]) fail(ctx, `kernel_shape does not match weight [${w0.shape.join(', ')}]`);
    guardWindow(ctx, x.shape, win, [0, 0], w.shape[0]);
    const symmetric = win.begin.every((b, i) => b === win.end[i]);
    const input = symmetric ? x : padSpatial(x, win.begin, win.end, 0);
    const padding: [number, number] = symmetric ? [win.begin[0], win.begin[1]] : [0, 0];
    const bias = bv === undefined ? null : ctx.tensor(bv);
    const y = conv2d(input, w, bias, { stride: [win.strides[0], win.strides[1]], dilation: [win.dilations[0], win.dilations[1]], padding, groups: a.int('group', 1) });
    return [oneD ? squeeze(y, 2) : y];
  },
};

/** The padded input, the patches (im2col) and the output of a window op must stay under the element limit. */
function guardWindow(ctx: OpContext, shape: readonly number[], win: Window, extra: readonly number[], outChannels: number): void {
  const [N, C, H, W] = shape;
  const padded = [H + win.begin[0] + win.end[0] + extra[0], W + win.begin[1] + win.end[1] + extra[1]];
  guard(ctx, [N, C, ...padded], 'the padded input');
  const out = [0, 1].map((i) => Math.max(0, Math.floor((padded[i] - (win.kernel[i] - 1) * win.dilations[i] - 1) / win.strides[i]) + 1));
  guard(ctx, [N, C, win.kernel[0], win.kernel[1], ...out], 'the patches');
  guard(ctx, [N, outChannels, ...out]);
}

/** Output size of a pooling window along one dim, with ONNX's ceil_mode rule. */
function poolGeometry(win: Window, spatial: readonly number[], ceilMode: boolean): { extra: number[] } {
  const extra = spatial.map((n, i) => {
    const eff = (win.kernel[i] - 1) * win.dilations[i] + 1;
    const span = n + win.begin[i] + win.end[i] - eff;
    if (span < 0) return 0;
    let out = (ceilMode ? Math.ceil(span / win.strides[i]) : Math.floor(span / win.strides[i])) + 1;
    // the last window must start inside the input or its left padding
    if (ceilMode && (out - 1) * win.strides[i] >= n + win.begin[i]) out--;
    return Math.max(0, (out - 1) * win.strides[i] + eff - (n + win.begin[i] + win.end[i]));
  });
  return { extra };
}

function poolSetup(ctx: OpContext, xv: Value | undefined, a: Attrs): { x: Tensor; win: Window; extra: number[]; oneD: boolean } {
  const x0 = ctx.tensor(xv as Value);
  if (!a.ints('kernel_shape')) fail(ctx, 'attribute kernel_shape is required');
  const oneD = x0.ndim === 3;
  const x = as2d(ctx, x0);
  const win = window2d(windowOf(ctx, a, x0.shape.slice(2), []), oneD);
  const { extra } = poolGeometry(win, x.shape.slice(2), a.int('ceil_mode', 0) === 1);
  guardWindow(ctx, x.shape, win, extra, x.shape[1]);
  for (let i = 0; i < 2; i++) {
    const eff = (win.kernel[i] - 1) * win.dilations[i] + 1;
    if (x.shape[2 + i] + win.begin[i] + win.end[i] < eff) fail(ctx, `kernel ${win.kernel.join('x')} is larger than the padded input [${x0.shape.join(', ')}]`);
  }
  return { x, win, extra, oneD };
}

const POOL_ATTRS = { kernel_shape: 'ints', strides: 'ints', dilations: 'ints', pads: 'ints', auto_pad: 'string', ceil_mode: 'int' } as const;

export const maxPool: OpDef = {
  attrs: { ...POOL_ATTRS, storage_order: 'int' },
  minInputs: 1,
  run: (ctx, [xv], a) => {
    if ((ctx.node.outputs[1] ?? '') !== '') fail(ctx, 'the Indices output is not supported');
    const { x, win, extra, oneD } = poolSetup(ctx, xv, a);
    const low = isFloat(x.dtype) ? -Infinity : -2147483648;
    const padded = padSpatial(x, win.begin, win.end.map((e, i) => e + extra[i]), low);
    const y = maxPool2d(padded, { kernelSize: [win.kernel[0], win.kernel[1]], stride: [win.strides[0], win.strides[1]], dilation: [win.dilations[0], win.dilations[1]] });
    return [oneD ? squeeze(y, 2) : y];
  },
};

export const averagePool: OpDef = {
  attrs: { ...POOL_ATTRS, count_include_pad: 'int' },
  minInputs: 1,
  run: (ctx, [xv], a) => {
    const { x, win, extra, oneD } = poolSetup(ctx, xv, a);
    if (win.dilations.some((d) => d !== 1)) fail(ctx, `dilations [${win.dilations.join(', ')}] are not supported for AveragePool`);
    const kernelSize: [number, number] = [win.kernel[0], win.kernel[1]];
    const stride: [number, number] = [win.strides[0], win.strides[1]];
    const padded = padSpatial(x, win.begin, win.end.map((e, i) => e + extra[i]), 0);
    let y = avgPool2d(padded, { kernelSize, stride });
    if (win.begin.some((b) => b > 0) || win.end.some((e, i) => e + extra[i] > 0)) {
      // divide by the number of counted elements per window: the input, plus the declared pads when count_include_pad
      const [H, W] = x.shape.slice(2);
      const include = a.int('count_include_pad', 0) === 1;
      const counted = include
        ? padSpatial(padSpatial(ones([1, 1, H, W], { dtype: x.dtype, backend: x.backend.name }), win.begin, win.end, 1), [0, 0], extra, 0)
        : padSpatial(ones([1, 1, H, W], { dtype: x.dtype, backend: x.backend.name }), win.begin, win.end.map((e, i) => e + extra[i]), 0);
      y = div(y, avgPool2d(counted, { kernelSize, stride }));
    }
    return [oneD ? squeeze(y, 2) : y];
  },
};

export function globalPool(f: (x: Tensor, dims: number[]) => Tensor): OpDef {
  return {
    attrs: {},
    minInputs: 1,
    run: (ctx, [xv]) => {
      const x = ctx.tensor(xv as Value);
      if (x.ndim < 3) fail(ctx, `input [${x.shape.join(', ')}] has no spatial dims`);
      return [f(x, x.shape.slice(2).map((_, i) => i + 2))];
    },
  };
}

// ------------------------------------------------------------------ normalization

function channelShape(x: Tensor): number[] {
  return x.shape.map((d, i) => (i === 1 ? d : 1));
}

export const batchNorm: OpDef = {
  attrs: { epsilon: 'float', momentum: 'float', training_mode: 'int', spatial: 'int' },
  minInputs: 5,
  run: (ctx, [xv, sv, bv, mv, vv], a) => {
    if (a.int('training_mode', 0) === 1) fail(ctx, 'training_mode=1 is not supported (import runs BatchNormalization in inference mode)');
    const x = ctx.tensor(xv as Value);
    if (x.ndim < 2) fail(ctx, `input [${x.shape.join(', ')}] has no channel dim`);
    const shape = channelShape(x);
    const r = (v: Value | undefined) => reshape(ctx.tensor(v as Value), shape);
    // y = (x − μ)·γ/√(σ² + ε) + β
    const scale = div(r(sv), sqrt(add(r(vv), a.float('epsilon', 1e-5))));
    return [add(mul(sub(x, r(mv)), scale), r(bv))];
  },
};

export const layerNorm: OpDef = {
  attrs: { axis: 'int', epsilon: 'float', stash_type: 'int' },
  minInputs: 2,
  run: (ctx, [xv, sv, bv], a) => {
    const x = ctx.tensor(xv as Value);
    const axis = normAxis(ctx, a.int('axis', -1), x.ndim);
    const axes = x.shape.map((_, i) => i).filter((i) => i >= axis);
    const mu = mean(x, axes, true);
    const d = sub(x, mu);
    const inv = reciprocal(sqrt(add(mean(mul(d, d), axes, true), a.float('epsilon', 1e-5))));
    let y = mul(mul(d, inv), ctx.tensor(sv as Value));
    if (bv !== undefined) y = add(y, ctx.tensor(bv));
    return [y, mu, inv];
  },
};

export const instanceNorm: OpDef = {
  attrs: { epsilon: 'float' },
  minInputs: 3,
  run: (ctx, [xv, sv, bv], a) => {
    const x = ctx.tensor(xv as Value);
    if (x.ndim < 3) fail(ctx, `input [${x.shape.join(', ')}] has no spatial dims`);
    const axes = x.shape.slice(2).map((_, i) => i + 2);
    const shape = channelShape(x);
    // y = γ·(x − μ)/√(σ² + ε) + β, μ and σ² per sample and channel
    const d = sub(x, mean(x, axes, true));
    const inv = reciprocal(sqrt(add(mean(mul(d, d), axes, true), a.float('epsilon', 1e-5))));
    return [add(mul(mul(d, inv), reshape(ctx.tensor(sv as Value), shape)), reshape(ctx.tensor(bv as Value), shape))];
  },
};

export const dropoutOp: OpDef = {
  attrs: { ratio: 'float', seed: 'int', is_test: 'int' },
  minInputs: 1,
  run: (ctx, [xv]) => {
    const x = ctx.tensor(xv as Value);
    // inference: the identity, and a mask of all true
    return [x, ones(x.shape, { dtype: 'bool', backend: x.backend.name })];
  },
};
