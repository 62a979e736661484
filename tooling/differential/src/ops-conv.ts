/** Differential ops: convolution, pooling, im2col and col2im. */
import fc from 'fast-check';
import { avgPool1d, avgPool2d, col2im, conv1d, conv2d, im2col, maxPool1d, maxPool2d } from '@ml/tensor';
import { patchOutputSize, type Im2ColParams } from '@ml/tensor/backend';
import { operand, size, type LayoutOptions } from './arbitraries.js';
import { defineOp } from './runner.js';
import { cases, SUMS } from './ops-common.js';

type Padding = number | [number, number] | 'same' | 'valid';

interface ConvSpec {
  N: number;
  C: number;
  O: number;
  H: number;
  W: number;
  kh: number;
  kw: number;
  stride: [number, number];
  dilation: [number, number];
  padding: Padding;
  groups: number;
  bias: boolean;
}

const pair = (a: fc.Arbitrary<number>) => fc.tuple(a, a);
const plain3x3 = { kh: fc.constant(3), kw: fc.constant(3), stride: fc.constant<[number, number]>([1, 1]), dilation: fc.constant<[number, number]>([1, 1]), groups: fc.constant(1) };

/**
 * Convolutions: 3×3 stride-1 ones of few input channels (wasm: direct), of 8 or more
 * channels in and out (wasm: Winograd), any other geometry (wasm: patch matrices; groups:
 * the composite), and large ones whose kernels split across threads.
 */
const CONV_SPEC: fc.Arbitrary<ConvSpec> = fc
  .oneof(
    {
      weight: 3,
      arbitrary: fc.record({ ...plain3x3, N: size([1, 2, 3, 0]), C: size([1, 2, 3, 4, 0]), O: size([1, 2, 3, 5, 8, 9, 0]), H: size([1, 2, 3, 4, 5, 8], 1, 10), W: size([4, 5, 6, 7, 8, 9, 16], 2, 16), padding: fc.constantFrom<Padding>(1, 0, 2, 'same', [0, 1], [2, 1]), bias: fc.boolean() }),
    },
    {
      weight: 3,
      arbitrary: fc.record({ ...plain3x3, N: size([1, 2, 3, 0]), C: size([8, 9, 12, 7]), O: size([8, 9, 16, 7]), H: size([2, 3, 4, 5, 8], 1, 10), W: size([6, 7, 8, 9, 13, 16], 3, 16), padding: fc.constantFrom<Padding>(1, 0, 'same', 2, [1, 0]), bias: fc.boolean() }),
    },
    {
      weight: 4,
      arbitrary: fc.record({
        N: size([1, 2, 0, 3]),
        C: size([1, 2, 3, 4, 6, 0]),
        O: size([1, 2, 3, 4, 6, 0]),
        H: size([1, 2, 3, 5, 8], 1, 10),
        W: size([1, 2, 3, 5, 8], 1, 10),
        kh: size([1, 2, 3, 5], 1, 5),
        kw: size([1, 2, 3, 5], 1, 5),
        stride: pair(size([1, 2, 3])),
        dilation: pair(size([1, 1, 2])),
        padding: fc.oneof(fc.integer({ min: 0, max: 2 }), pair(fc.integer({ min: 0, max: 2 })), fc.constantFrom<Padding>('same', 'valid')),
        groups: size([1, 2, 3]),
        bias: fc.boolean(),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ N: size([2, 3, 4]), C: size([3, 8, 16]), O: size([8, 16]), H: size([32, 40]), W: size([32, 40]), kh: fc.constantFrom(3, 1, 5), kw: fc.constantFrom(3, 1), stride: fc.constantFrom<[number, number]>([1, 1], [2, 2]), dilation: fc.constant<[number, number]>([1, 1]), padding: fc.constantFrom<Padding>(1, 'same', 0), groups: fc.constant(1), bias: fc.boolean() }),
    },
  )
  .map((s) => ({ ...s, C: s.C * s.groups, O: s.O * s.groups }))
  .filter((s) => {
    const [oh, ow] = convOut(s);
    return oh > 0 && ow > 0 && s.N * s.C * s.O * s.kh * s.kw * oh * ow <= 6_000_000;
  });

function convPad(s: ConvSpec): [number, number, number, number] {
  if (s.padding === 'valid') return [0, 0, 0, 0];
  if (s.padding === 'same') {
    const one = (n: number, k: number, st: number, d: number) => {
      const total = Math.max(0, (Math.ceil(n / st) - 1) * st + d * (k - 1) + 1 - n);
      return [Math.floor(total / 2), total - Math.floor(total / 2)];
    };
    return [...one(s.H, s.kh, s.stride[0], s.dilation[0]), ...one(s.W, s.kw, s.stride[1], s.dilation[1])] as [number, number, number, number];
  }
  const [ph, pw] = typeof s.padding === 'number' ? [s.padding, s.padding] : s.padding;
  return [ph, ph, pw, pw];
}

function convOut(s: ConvSpec): [number, number] {
  const pad = convPad(s);
  const p: Im2ColParams = { kernel: [s.kh, s.kw], stride: s.stride, dilation: s.dilation, pad, padValue: 0 };
  return patchOutputSize([s.N, s.C, s.H, s.W], p);
}

const CONV_LAYOUT: LayoutOptions = { perm: 2, expand: 1, slice: 2, step: 1, offset: 2 };

export const conv2dOp = defineOp({
  name: 'conv2d (direct, Winograd, patch matrices, groups; input and weight gradients)',
  runs: 80,
  cases: cases(CONV_SPEC, (s) => ({
    operands: [
      operand([s.N, s.C, s.H, s.W], 'float', { layout: CONV_LAYOUT }),
      operand([s.O, s.C / s.groups, s.kh, s.kw], 'float', { layout: CONV_LAYOUT }),
      ...(s.bias ? [operand([s.O], 'float', { layout: { offset: 3 } })] : []),
    ],
    attrs: s,
  })),
  run: ([x, w, b], s) => conv2d(x, w, b ?? null, { stride: s.stride, dilation: s.dilation, padding: s.padding, groups: s.groups }),
  tol: SUMS,
});

export const conv1dOp = defineOp({
  name: 'conv1d (stride, padding, dilation, groups)',
  runs: 30,
  cases: cases(
    fc
      .record({ N: size([1, 2, 3]), C: size([1, 2, 3, 4]), O: size([1, 2, 3, 4]), L: size([1, 2, 5, 8, 16, 33], 1, 40), k: size([1, 2, 3, 5]), stride: size([1, 2, 3]), dilation: size([1, 2]), padding: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constantFrom<'same' | 'valid'>('same', 'valid')), groups: size([1, 2]), bias: fc.boolean() })
      .map((s) => ({ ...s, C: s.C * s.groups, O: s.O * s.groups }))
      .filter((s) => {
        const pad = s.padding === 'valid' ? 0 : s.padding === 'same' ? s.dilation * (s.k - 1) : 2 * s.padding;
        return s.L + pad - s.dilation * (s.k - 1) - 1 >= 0;
      }),
    (s) => ({
      operands: [operand([s.N, s.C, s.L], 'float', { layout: CONV_LAYOUT }), operand([s.O, s.C / s.groups, s.k], 'float', { layout: CONV_LAYOUT }), ...(s.bias ? [operand([s.O])] : [])],
      attrs: s,
    }),
  ),
  run: ([x, w, b], s) => conv1d(x, w, b ?? null, { stride: s.stride, dilation: s.dilation, padding: s.padding, groups: s.groups }),
  tol: SUMS,
});

interface PoolSpec {
  N: number;
  C: number;
  H: number;
  W: number;
  kernel: [number, number];
  stride: [number, number] | null;
  padding: [number, number];
  dilation: [number, number];
  countIncludePad: boolean;
}

/** Pooling: windows that tile the image (wasm's kernels; 2×2 its own), any other geometry, and large ones split across threads. */
const POOL_SPEC: fc.Arbitrary<PoolSpec> = fc
  .record({
    base: fc.oneof(
      { weight: 6, arbitrary: fc.record({ N: size([1, 2, 3, 0]), C: size([1, 2, 3, 4]), H: size([1, 2, 3, 4, 5, 7, 8], 1, 12), W: size([1, 2, 3, 4, 5, 7, 8], 1, 12) }) },
      { weight: 1, arbitrary: fc.record({ N: size([2, 4]), C: size([8, 4]), H: size([64, 65]), W: size([64, 63]) }) },
    ),
    kernel: pair(size([2, 1, 3, 4])),
    stride: fc.oneof(fc.constant(null), pair(size([1, 2, 3]))),
    pad: pair(fc.integer({ min: 0, max: 2 })),
    dilation: fc.oneof({ weight: 3, arbitrary: fc.constant<[number, number]>([1, 1]) }, { weight: 1, arbitrary: pair(size([1, 2])) }),
    countIncludePad: fc.boolean(),
  })
  .map(({ base, kernel, stride, pad, dilation, countIncludePad }) => ({
    ...base,
    kernel,
    stride,
    padding: [Math.min(pad[0], Math.floor(kernel[0] / 2)), Math.min(pad[1], Math.floor(kernel[1] / 2))] as [number, number],
    dilation,
    countIncludePad,
  }))
  .filter((s) => [0, 1].every((i) => [s.H, s.W][i] + 2 * s.padding[i] - s.dilation[i] * (s.kernel[i] - 1) - 1 >= 0));

export const maxPoolOp = defineOp({
  name: 'maxPool2d (tiled and general windows, ties; and its backward)',
  runs: 50,
  cases: cases(POOL_SPEC, (s) => ({ operands: [operand([s.N, s.C, s.H, s.W], 'float', { layout: CONV_LAYOUT })], attrs: s })),
  run: ([x], s) => maxPool2d(x, { kernelSize: s.kernel, stride: s.stride ?? undefined, padding: s.padding, dilation: s.dilation }),
});

export const avgPoolOp = defineOp({
  name: 'avgPool2d (countIncludePad)',
  runs: 30,
  cases: cases(POOL_SPEC, (s) => ({ operands: [operand([s.N, s.C, s.H, s.W], 'float', { layout: CONV_LAYOUT })], attrs: { ...s, dilation: [1, 1] } })),
  run: ([x], s) => avgPool2d(x, { kernelSize: s.kernel, stride: s.stride ?? undefined, padding: s.padding, countIncludePad: s.countIncludePad }),
  tol: SUMS,
});

export const pool1dOp = defineOp({
  name: 'maxPool1d and avgPool1d',
  runs: 25,
  cases: cases(
    fc
      .record({ N: size([1, 2]), C: size([1, 3]), L: size([1, 2, 5, 8, 9, 16], 1, 20), k: size([2, 1, 3, 4]), stride: fc.option(size([1, 2, 3]), { nil: undefined }), padding: fc.integer({ min: 0, max: 2 }), max: fc.boolean() })
      .map((s) => ({ ...s, padding: Math.min(s.padding, Math.floor(s.k / 2)) }))
      .filter((s) => s.L + 2 * s.padding - s.k >= 0),
    (s) => ({ operands: [operand([s.N, s.C, s.L], 'float', { layout: CONV_LAYOUT })], attrs: s }),
  ),
  run: ([x], s) => (s.max ? maxPool1d(x, { kernelSize: s.k, stride: s.stride, padding: s.padding }) : avgPool1d(x, { kernelSize: s.k, stride: s.stride, padding: s.padding })),
  tol: SUMS,
});

/** Patch geometry for the im2col and col2im primitives. */
const PATCH_SPEC = fc
  .record({
    N: size([1, 2, 0]),
    C: size([1, 2, 3]),
    H: size([1, 2, 3, 5, 8], 1, 9),
    W: size([1, 2, 3, 5, 8], 1, 9),
    kernel: pair(size([1, 2, 3])),
    stride: pair(size([1, 2])),
    dilation: pair(size([1, 2])),
    pad: fc.tuple(fc.nat(2), fc.nat(2), fc.nat(2), fc.nat(2)),
    padValue: fc.constantFrom(0, 0, -1.5),
  })
  .filter((s) => patchOutputSize([s.N, s.C, s.H, s.W], s).every((d) => d > 0));

export const im2colOp = defineOp({
  name: 'im2col (patch matrices)',
  runs: 30,
  cases: cases(PATCH_SPEC, (s) => ({ operands: [operand([s.N, s.C, s.H, s.W], 'float', { layout: CONV_LAYOUT })], attrs: s })),
  run: ([x], s) => im2col(x, s),
});

export const col2imOp = defineOp({
  name: 'col2im (patch matrices summed back)',
  runs: 30,
  cases: cases(PATCH_SPEC, (s) => {
    const [oh, ow] = patchOutputSize([s.N, s.C, s.H, s.W], s);
    return { operands: [operand([s.N, s.C * s.kernel[0] * s.kernel[1], oh * ow], 'float', { layout: CONV_LAYOUT })], attrs: s };
  }),
  run: ([cols], s) => col2im(cols, [s.N, s.C, s.H, s.W], s),
  tol: SUMS,
});
