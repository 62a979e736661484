// The fused kernels (FusedKernels in @ml/tensor) called directly on the backend with
// strided views, against plain float64 loops written from the definitions (reference.ts),
// over sizes that cross each kernel's thresholds: the convolution products' tile shapes
// (32 × 128 for ≤ 32 rows, else 64 × 64), their k-step of 16 and the weight gradient's
// split of K; rows of softmax one per invocation (≤ 64 long or ≥ 4096 of them) or one
// per workgroup; padding, stride, dilation, batch 1 and > 1, permuted and sliced inputs.
import { type Im2ColParams } from '@ml/tensor';
import { fromData, GRADIENT_FLUSH_BELOW } from '@ml/tensor/backend';
import { describe, expect, it } from 'vitest';
import { MIN_ROWS, splitK, tileFor } from '../src/fused/conv.js';
import { disjointWindows } from '../src/fused/pool.js';
import { gpu as found } from './gpu.js';
import {
  alongDim,
  avgPoolRef,
  conv2dBackRef,
  conv2dRef,
  expectClose,
  intsOnGpu,
  logSoftmaxRef,
  logSumExp,
  maxPoolBackRef,
  maxPoolRef,
  onGpu,
  outSize,
  read,
  softmaxRef,
  values,
  type Layout,
} from './reference.js';

const maybe = found === null ? describe.skip : describe;
const gpu = found!;

type P4 = [number, number, number, number];
const params = (kernel: [number, number], stride: [number, number], pad: P4, dilation: [number, number], padValue = 0): Im2ColParams => ({ kernel, stride, dilation, pad, padValue });

interface ConvCase {
  name: string;
  x: P4;
  O: number;
  p: Im2ColParams;
  layout: Layout;
  bias: boolean;
}

const CONV_CASES: ConvCase[] = [
  // MNIST's first layer: 32 output channels (the 32-row tile), K = 9 (< one k-step); its
  // weight gradient [32, 9] takes the 32 × 16 tile; ∂x of one channel is declined
  { name: 'MNIST conv1: [1,1,28,28] → 32, 3×3', x: [1, 1, 28, 28], O: 32, p: params([3, 3], [1, 1], [0, 0, 0, 0], [1, 1]), layout: 'contiguous', bias: true },
  // MNIST's second layer: 64 rows (the 64-row tile), K = 288 (18 k-steps), padding 1
  { name: '[2,32,13,13] → 64, 3×3, padding 1', x: [2, 32, 13, 13], O: 64, p: params([3, 3], [1, 1], [1, 1, 1, 1], [1, 1]), layout: 'contiguous', bias: true },
  // 33 rows: just past the small tile; a 2×3 kernel, stride 2×1, dilation 1×2, uneven padding, permuted input
  { name: '[3,5,9,11] → 33, 2×3, stride [2,1], dilation [1,2], padding [1,0,2,1], permuted', x: [3, 5, 9, 11], O: 33, p: params([2, 3], [2, 1], [1, 0, 2, 1], [1, 2]), layout: 'permuted', bias: true },
  // 65 rows: one past a 64-row tile; K = 17 (one past a k-step); sliced input, no bias
  { name: '[2,17,7,6] → 65, 1×1, sliced, no bias', x: [2, 17, 7, 6], O: 65, p: params([1, 1], [1, 1], [0, 0, 0, 0], [1, 1]), layout: 'sliced', bias: false },
  // dilation with stride 1 (∂x's kernel without division), padding 2
  { name: '[2,6,10,10] → 8, 3×3, dilation 2, padding 2, sliced', x: [2, 6, 10, 10], O: 8, p: params([3, 3], [1, 1], [2, 2, 2, 2], [2, 2]), layout: 'sliced', bias: true },
  // a kernel as large as the padded image; stride 3
  { name: '[1,3,5,5] → 4, 5×5, padding 2, stride 3, permuted', x: [1, 3, 5, 5], O: 4, p: params([5, 5], [3, 3], [2, 2, 2, 2], [1, 1]), layout: 'permuted', bias: true },
];

maybe('fused conv2d on webgpu equals the direct sum (float32: 1e-4 relative)', () => {
  for (const c of CONV_CASES) {
    it(c.name, async () => {
      const [N, C, H, W] = c.x;
      const [kh, kw] = c.p.kernel;
      const [oh, ow] = outSize(H, W, c.p);
      const wShape: P4 = [c.O, C, kh, kw];
      const xv = values(N * C * H * W, 1);
      const wv = values(c.O * C * kh * kw, 2, 0.5);
      const bv = c.bias ? values(c.O, 3) : null;
      const dyv = values(N * c.O * oh * ow, 4);
      const x = onGpu(gpu, xv, c.x, c.layout);
      // the weight's layout is the input's mirror: permuted when x is sliced and back
      const w = onGpu(gpu, wv, wShape, c.layout === 'sliced' ? 'permuted' : 'sliced');
      const b = bv === null ? null : onGpu(gpu, bv, [c.O], 'sliced');
      const dy = onGpu(gpu, dyv, [N, c.O, oh, ow], c.layout);
      const yShape = [N, c.O, oh, ow];
      const y = await read(gpu, gpu.conv2d(x.view_(), w.view_(), b?.view_() ?? null, c.p, 1), yShape);
      expectClose(y, conv2dRef(xv, c.x, wv, c.O, bv, c.p), 1e-4, 'y');
      const [dxRef, dwRef] = conv2dBackRef(xv, c.x, wv, c.O, dyv, c.p);
      const dx = gpu.conv2dBackwardInput(dy.view_(), w.view_(), c.x, c.p, 1);
      if (C < MIN_ROWS) expect(dx, '∂x of fewer than 4 channels: declined').toBeNull();
      else expectClose(await read(gpu, dx, c.x), dxRef, 1e-4, 'dx');
      expectClose(await read(gpu, gpu.conv2dBackwardWeight(dy.view_(), x.view_(), wShape, c.p, 1), wShape), dwRef, 1e-4, 'dw');
      for (const t of [x, w, dy, b]) t?.dispose();
    });
  }

  it('the weight gradient splits a long K = N·oh·ow over the grid and sums the parts: 32 × 128 and 32 × 16 tiles', async () => {
    // [4,2,20,20] → 5, 3×3: dw [5, 18], K = 4·18·18 = 1296 over one tile → 5 parts
    // [3,1,20,20] → 6, 3×3: dw [6, 9] in the 32 × 16 tile, K = 972 → 3 parts
    expect([tileFor(5, 18), tileFor(6, 9), tileFor(64, 288)]).toEqual([{ WX: 32, WY: 8 }, { WX: 4, WY: 8 }, { WX: 16, WY: 16 }]);
    expect([splitK(5, 18, 1296).splits, splitK(6, 9, 972).splits, splitK(64, 288, 400).splits, splitK(8, 72, 0).splits]).toEqual([5, 3, 1, 1]);
    for (const [N, C, O] of [[4, 2, 5], [3, 1, 6]]) {
      const xs: P4 = [N, C, 20, 20];
      const p = params([3, 3], [1, 1], [0, 0, 0, 0], [1, 1]);
      const xv = values(N * C * 400, 5);
      const dyv = values(N * O * 18 * 18, 6);
      const [x, dy] = [onGpu(gpu, xv, xs), onGpu(gpu, dyv, [N, O, 18, 18], 'permuted')];
      const dw = await read(gpu, gpu.conv2dBackwardWeight(dy.view_(), x.view_(), [O, C, 3, 3], p, 1), [O, C, 3, 3]);
      expectClose(dw, conv2dBackRef(xv, xs, values(O * C * 9, 7), O, dyv, p)[1], 1e-4, 'dw');
      x.dispose();
      dy.dispose();
    }
  });

  it('declines groups > 1 and non-float32 inputs (the composite runs)', () => {
    const x = onGpu(gpu, values(2 * 4 * 5 * 5, 1), [2, 4, 5, 5]);
    const w = onGpu(gpu, values(4 * 2 * 9, 2), [4, 2, 3, 3]);
    const p = params([3, 3], [1, 1], [0, 0, 0, 0], [1, 1]);
    expect(gpu.conv2d(x.view_(), w.view_(), null, p, 2)).toBeNull();
    expect(gpu.conv2dBackwardInput(x.view_(), w.view_(), [2, 4, 7, 7], p, 2)).toBeNull();
    const xi = fromData(gpu, gpu.write(new Int32Array(100), 'int32'), [1, 1, 10, 10], 'int32');
    expect(gpu.maxPool2d(xi.view_(), p)).toBeNull();
    expect(gpu.softmax(xi.view_(), 3)).toBeNull();
    for (const t of [x, w, xi]) t.dispose();
  });

  it('an empty batch gives an empty output and a zero weight gradient', async () => {
    const [x, dy] = [onGpu(gpu, new Float32Array(0), [0, 8, 1, 6], 'permuted'), onGpu(gpu, new Float32Array(0), [0, 8, 1, 6])];
    const w = onGpu(gpu, values(8 * 8 * 9, 3), [8, 8, 3, 3]);
    const p = params([3, 3], [1, 1], [1, 1, 1, 1], [1, 1]);
    expect(await read(gpu, gpu.conv2d(x.view_(), w.view_(), null, p, 1), [0, 8, 1, 6])).toHaveLength(0);
    expectClose(await read(gpu, gpu.conv2dBackwardWeight(dy.view_(), x.view_(), [8, 8, 3, 3], p, 1), [8, 8, 3, 3]), new Float64Array(8 * 8 * 9), 0, 'dw');
    for (const t of [x, dy, w]) t.dispose();
  });
});

interface PoolCase {
  name: string;
  x: P4;
  p: Im2ColParams;
  layout: Layout;
}

const NEG_INF = -Infinity;
const POOL_CASES: PoolCase[] = [
  { name: 'MNIST: [2,3,8,8], 2×2 stride 2', x: [2, 3, 8, 8], p: params([2, 2], [2, 2], [0, 0, 0, 0], [1, 1], NEG_INF), layout: 'contiguous' },
  { name: '[1,4,7,9], 3×3 stride 2 padding 1 (overlapping windows), permuted', x: [1, 4, 7, 9], p: params([3, 3], [2, 2], [1, 1, 1, 1], [1, 1], NEG_INF), layout: 'permuted' },
  { name: '[3,2,6,7], 2×3 stride 1 dilation 2, sliced', x: [3, 2, 6, 7], p: params([2, 3], [1, 1], [0, 0, 0, 0], [2, 2], NEG_INF), layout: 'sliced' },
  // padding that ties the max: padValue 0 among values on a grid that holds 0
  { name: '[2,2,5,5], 3×3 stride 2 padding 1, padding value 0 ties', x: [2, 2, 5, 5], p: params([3, 3], [2, 2], [1, 1, 1, 1], [1, 1], 0), layout: 'contiguous' },
  // disjoint windows (each writes its own elements' gradients), with padding ties, and with
  // rows between windows that no window reads (their gradient stays 0)
  { name: '[2,2,7,7], 3×3 stride 3 padding 1, padding value 0 ties: disjoint', x: [2, 2, 7, 7], p: params([3, 3], [3, 3], [1, 1, 1, 1], [1, 1], 0), layout: 'sliced' },
  { name: '[1,3,9,8], 2×2 stride [4,2] dilation [2,1], permuted: disjoint with gaps', x: [1, 3, 9, 8], p: params([2, 2], [4, 2], [0, 0, 0, 0], [2, 1], NEG_INF), layout: 'permuted' },
];

maybe('fused pooling on webgpu equals the direct loops', () => {
  for (const c of POOL_CASES) {
    it(`maxPool2d and its gradient (ties share dy): ${c.name}`, async () => {
      expect(disjointWindows(c.p)).toBe(c.name.includes('disjoint') || c.name.startsWith('MNIST'));
      const [N, C, H, W] = c.x;
      const [oh, ow] = outSize(H, W, c.p);
      // values on a grid of quarters in [−1, 1]: many ties within a window
      const xv = values(N * C * H * W, 11, 1, 2);
      xv[3] = NaN; // a NaN wins its windows (and takes no gradient: NaN ≠ NaN)
      const x = onGpu(gpu, xv, c.x, c.layout);
      const y = await read(gpu, gpu.maxPool2d(x.view_(), c.p), [N, C, oh, ow]);
      const yRef = maxPoolRef(xv, c.x, c.p);
      expectClose(y, yRef, 0, 'y');
      const dyv = values(N * C * oh * ow, 12);
      const [yt, dy] = [onGpu(gpu, Float32Array.from(yRef), [N, C, oh, ow], c.layout), onGpu(gpu, dyv, [N, C, oh, ow], 'sliced')];
      const dx = await read(gpu, gpu.maxPool2dBackward(x.view_(), yt.view_(), dy.view_(), c.p), c.x);
      expectClose(dx, maxPoolBackRef(xv, c.x, Float32Array.from(yRef), dyv, c.p), 1e-6, 'dx');
      for (const t of [x, yt, dy]) t.dispose();
    });
  }

  for (const countIncludePad of [true, false]) {
    it(`avgPool2d (countIncludePad ${countIncludePad}): padding, stride, odd sizes, permuted and sliced`, async () => {
      for (const [xs, p, layout] of [
        [[2, 3, 7, 9], params([3, 3], [2, 2], [1, 1, 1, 1], [1, 1]), 'permuted'],
        [[1, 2, 6, 6], params([2, 2], [2, 2], [0, 0, 0, 0], [1, 1]), 'contiguous'],
        [[3, 1, 5, 8], params([3, 2], [1, 3], [1, 1, 1, 1], [1, 1]), 'sliced'],
      ] as const) {
        const xv = values(xs[0] * xs[1] * xs[2] * xs[3], 13);
        const [oh, ow] = outSize(xs[2], xs[3], p);
        const x = onGpu(gpu, xv, xs, layout);
        expectClose(await read(gpu, gpu.avgPool2d(x.view_(), p, countIncludePad), [xs[0], xs[1], oh, ow]), avgPoolRef(xv, xs, p, countIncludePad), 1e-6, 'y');
        x.dispose();
      }
    });
  }
});

maybe('fused softmax, logSoftmax and cross-entropy on webgpu equal the direct loops (1e-5)', () => {
  // [rows, length] cases on either side of the per-invocation / per-workgroup rule
  const SHAPES: [string, number[], number, Layout][] = [
    ['[64,10] along the last dim (a row per invocation)', [64, 10], 1, 'contiguous'],
    ['[3,64]: 64 long, still a row per invocation', [3, 64], 1, 'sliced'],
    ['[3,65]: one past, a workgroup per row', [3, 65], 1, 'contiguous'],
    ['[2,300] permuted: a workgroup per row, strided', [2, 300], 1, 'permuted'],
    ['[4096,65]: 4096 rows run one per invocation however long', [4096, 65], 1, 'contiguous'],
    ['[7,5] along dim 0 (not the last)', [7, 5], 0, 'contiguous'],
    ['[2,3,4] along dim 1, permuted', [2, 3, 4], 1, 'permuted'],
  ];
  for (const [name, shape, dim, layout] of SHAPES) {
    it(name, async () => {
      const n = shape.reduce((a, b) => a * b, 1);
      const xv = values(n, 21, 8);
      xv[0] = 1e4; // a large logit: the max shift keeps exp finite
      if (n > 6) xv[5] = -Infinity;
      const x = onGpu(gpu, xv, shape, layout);
      expectClose(await read(gpu, gpu.softmax(x.view_(), dim), shape), alongDim(xv, shape, dim, softmaxRef), 1e-5, 'softmax');
      expectClose(await read(gpu, gpu.logSoftmax(x.view_(), dim), shape), alongDim(xv, shape, dim, logSoftmaxRef), 1e-5, 'logSoftmax');
      x.dispose();
    });
  }

  it('declines an empty dim (the composite refuses it with its own message)', () => {
    const x = onGpu(gpu, new Float32Array(0), [3, 0]);
    const t = intsOnGpu(gpu, [0, 0, 0]);
    expect([gpu.softmax(x.view_(), 1), gpu.logSoftmax(x.view_(), 1), gpu.softmaxCrossEntropy(x.view_(), t.view_(), 3)]).toEqual([null, null, null]);
    x.dispose();
    t.dispose();
  });

  it('a row of −∞ gives NaN from softmax and logSoftmax alike (the composite: logsumexp(−∞…) = −∞, −∞ − −∞)', async () => {
    const x = onGpu(gpu, Float32Array.of(-Infinity, -Infinity, 0, 1), [2, 2]);
    const sm = await read(gpu, gpu.softmax(x.view_(), 1), [2, 2]);
    expectClose(sm, [NaN, NaN, ...softmaxRef([0, 1])], 1e-6, 'softmax');
    const ls = await read(gpu, gpu.logSoftmax(x.view_(), 1), [2, 2]);
    expectClose(ls, [NaN, NaN, ...logSoftmaxRef([0, 1])], 1e-6, 'logSoftmax');
    x.dispose();
  });

  for (const [N, C, layout] of [[64, 10, 'contiguous'], [5, 100, 'permuted'], [3, 7, 'sliced'], [1, 65, 'contiguous']] as const) {
    it(`softmaxCrossEntropy [${N},${C}] (${layout}): per-sample, summed, averaged; and its gradient`, async () => {
      const xv = values(N * C, 31, 4);
      const tv = Array.from(values(N, 32), (u) => Math.min(C - 1, Math.floor(((u + 1) / 2) * C)));
      const [x, t] = [onGpu(gpu, xv, [N, C], layout), intsOnGpu(gpu, tv)];
      const rows = Array.from({ length: N }, (_, i) => Array.from(xv.subarray(i * C, (i + 1) * C)));
      const losses = rows.map((r, i) => logSumExp(r) - r[tv[i]]);
      expectClose(await read(gpu, gpu.softmaxCrossEntropy(x.view_(), t.view_(), null), [N]), losses, 1e-5, 'none');
      const total = losses.reduce((a, b) => a + b, 0);
      expectClose(await read(gpu, gpu.softmaxCrossEntropy(x.view_(), t.view_(), 1), []), [total], 1e-5, 'sum');
      expectClose(await read(gpu, gpu.softmaxCrossEntropy(x.view_(), t.view_(), N), []), [total / N], 1e-5, 'mean');
      // ∂: (softmax − onehot)·dy/divisor, dy per sample or one value
      const dyv = values(N, 33);
      const grad = (g: (i: number) => number) => rows.flatMap((r, i) => softmaxRef(r).map((s, c) => (s - (c === tv[i] ? 1 : 0)) * g(i)));
      const [dy, dy1] = [onGpu(gpu, dyv, [N], 'sliced'), onGpu(gpu, Float32Array.of(0.75), [])];
      expectClose(await read(gpu, gpu.softmaxCrossEntropyBackward(x.view_(), t.view_(), dy.view_(), 1), [N, C]), grad((i) => dyv[i]), 1e-5, 'd none');
      expectClose(await read(gpu, gpu.softmaxCrossEntropyBackward(x.view_(), t.view_(), dy1.view_(), N), [N, C]), grad(() => 0.75 / N), 1e-5, 'd mean');
      for (const v of [x, t, dy, dy1]) v.dispose();
    });
  }

  it('a target class out of range is reported at the next read, as gather does', async () => {
    const [x, t] = [onGpu(gpu, values(6, 1), [2, 3]), intsOnGpu(gpu, [1, 3])];
    const loss = fromData(gpu, gpu.softmaxCrossEntropy(x.view_(), t.view_(), 2)!, [], 'float32');
    await expect(loss.data()).rejects.toThrow(/softmaxCrossEntropy \(a target class\): index 3 is out of range for a dim of size 3/);
    for (const v of [x, t, loss]) v.dispose();
  });
});

maybe('fused reluBackward and adamUpdate on webgpu', () => {
  it('reluBackward: dy where x > 0 (NaN and −0 give 0), permuted and sliced', async () => {
    const xv = values(5 * 7, 41);
    xv[2] = NaN;
    xv[3] = -0;
    const dv = values(5 * 7, 42);
    const [x, dy] = [onGpu(gpu, xv, [5, 7], 'permuted'), onGpu(gpu, dv, [5, 7], 'sliced')];
    expectClose(await read(gpu, gpu.reluBackward(x.view_(), dy.view_()), [5, 7]), Array.from(xv, (v, i) => (v > 0 ? dv[i] : 0)), 0, 'dx');
    x.dispose();
    dy.dispose();
  });

  it('adamUpdate: one step of PyTorch’s Adam (L2 decay, AdamW decay, maximize), m and v in place; strided views declined', async () => {
    const n = 130; // two workgroups and a part
    const [pv, gv, mv, vv] = [values(n, 51), values(n, 52), values(n, 53, 0.1), values(n, 54, 0.01).map(Math.abs)];
    const s = { b1: 0.9, b2: 0.999, sbc2: Math.sqrt(1 - 0.999 ** 3), eps: 1e-8, stepSize: 0.01 / (1 - 0.9 ** 3), decay: 1 - 0.01 * 0.05, l2: 0.1, sign: -1 };
    const [p, g, m, v] = [onGpu(gpu, pv, [n]), onGpu(gpu, gv, [n], 'sliced'), onGpu(gpu, mv, [n]), onGpu(gpu, vv, [n])];
    const out = await read(gpu, gpu.adamUpdate(p.view_(), g.view_(), m.view_(), v.view_(), s), [n]);
    const d = Array.from(gv, (x, i) => s.sign * x + s.l2 * pv[i]);
    const m1 = d.map((x, i) => s.b1 * mv[i] + (1 - s.b1) * x);
    const v1 = d.map((x, i) => s.b2 * vv[i] + (1 - s.b2) * x * x);
    expectClose(out, Array.from(pv, (x, i) => x * s.decay - (m1[i] / (Math.sqrt(v1[i]) / s.sbc2 + s.eps)) * s.stepSize), 1e-5, 'p');
    expectClose(await m.data(), m1, 1e-6, 'm');
    expectClose(await v.data(), v1, 1e-6, 'v');
    const pt = onGpu(gpu, values(12, 55), [3, 4], 'permuted');
    expect(gpu.adamUpdate(pt.view_(), pt.view_(), pt.view_(), pt.view_(), s)).toBeNull();
    for (const t of [p, g, m, v, pt]) t.dispose();
  });

  it('adamUpdate writes moments under 2⁻¹⁰⁰ as +0 (as the cpu and wasm steps do), keeps 2⁻¹⁰⁰ and NaN', async () => {
    const T0 = GRADIENT_FLUSH_BELOW;
    // zero gradients: m ← 0.9·m, v ← 0.999·v
    const mv = Float32Array.from([1.2 * T0, -1.2 * T0, 2 * T0, 1e-3, NaN, 2 ** -130, -(2 ** -101), 0]);
    const n = mv.length;
    const s = { b1: 0.9, b2: 0.999, sbc2: 1, eps: 1e-8, stepSize: 0, decay: 1, l2: 0, sign: 1 };
    const [p, g, m, v] = [onGpu(gpu, new Float32Array(n), [n]), onGpu(gpu, new Float32Array(n), [n]), onGpu(gpu, mv, [n]), onGpu(gpu, mv, [n])];
    await read(gpu, gpu.adamUpdate(p.view_(), g.view_(), m.view_(), v.view_(), s), [n]);
    const want = (b: number) => Array.from(mv, (x) => (Math.abs(Math.fround(b * x)) < T0 ? 0 : Math.fround(b * x)));
    const show = (a: ArrayLike<number>) => Array.from(a, (x) => (Number.isNaN(x) ? 'NaN' : x === 0 ? 0 : x.toPrecision(4)));
    expect(show(await m.data())).toEqual(show(want(0.9)));
    expect(show(await v.data())).toEqual(show(want(0.999)));
    for (const t of [p, g, m, v]) t.dispose();
  });
});
