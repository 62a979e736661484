import '@ml/autograd';
import { Conv2d, Flatten, Linear, LSTM, MaxPool2d, ReLU, Sequential, crossEntropy } from '@ml/nn';
import { Adam } from '@ml/optim';
import { conv2d, dropoutMask, full, narrow, rand, relu, getBackend, manualSeed, matmul, maxPool2d, memory, randint, randn, setBackend, tensor, tidy, toBackend, type Conv2dOptions, type Tensor } from '@ml/tensor';
import { describeConformance } from '@ml/tensor/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enableRelaxedSimd, registerWasmBackend, useWasm, type WasmBackend } from '../src/index.js';

// fused multiply-adds, as these tolerances were set with (Node 20: behind a flag, turned on by request)
enableRelaxedSimd();
const wasm: WasmBackend = registerWasmBackend();
const single: WasmBackend = registerWasmBackend({ threads: 1, name: 'wasm-1t' });

describeConformance('wasm', { describe, it, beforeAll, afterAll });
describeConformance('wasm-1t', { describe, it, beforeAll, afterAll });

it('the two configurations: threaded (as many threads as cores) and single-threaded', () => {
  expect(wasm.threads).toBeGreaterThanOrEqual(1);
  expect(single.threads).toBe(1);
  expect(single.name).toBe('wasm-1t');
});

/** Run `f` on a backend with the same seed; return its outputs as plain arrays. */
function on(name: string, f: () => Tensor[]): number[][] {
  const prev = getBackend().name;
  setBackend(name);
  try {
    manualSeed(3);
    return tidy(() => f().map((t) => Array.from(t.dataSync())));
  } finally {
    setBackend(prev);
  }
}

/**
 * A 3×3 convolution of random x [shape] to O channels (with a bias or not) and its
 * gradients for a random upstream gradient: [y, ∂x, ∂w, ∂b?]; `after` runs once they exist.
 */
function convAndGradients(shape: number[], O: number, options: Conv2dOptions, withBias: boolean, after?: () => void): () => Tensor[] {
  return () => {
    const x = randn(shape).requiresGrad_();
    const w = randn([O, shape[1], 3, 3]).requiresGrad_();
    const b = withBias ? randn([O]).requiresGrad_() : null;
    const y = conv2d(x, w, b, options);
    y.mul(randn(y.shape)).sum().backward();
    after?.();
    return [y, x.grad!, w.grad!, ...(b ? [b.grad!] : [])];
  };
}

function expectClose(a: number[][], b: number[][], tol: number): void {
  expect(a.length).toBe(b.length);
  a.forEach((xs, i) => xs.forEach((v, j) => expect(Math.abs(v - b[i][j]), `output ${i}[${j}]`).toBeLessThan(tol * Math.max(1, Math.abs(b[i][j])))));
}

describe('the wasm backend equals the cpu backend (float32 sums in a different order: 1e-4 relative)', () => {
  it('matmul of many shapes, transposed and batched', () => {
    for (const [m, k, n] of [[64, 784, 128], [7, 33, 5], [1, 512, 10], [130, 17, 130]]) {
      const f = () => {
        const a = randn([m, k]);
        const b = randn([n, k]);
        const c = randn([3, k, m]);
        return [matmul(a, b.transpose(0, 1)), matmul(c.transpose(1, 2), randn([3, k, n]))];
      };
      expectClose(on('wasm', f), on('cpu', f), 1e-4);
    }
  });

  it('a dense layer, a convolution and an LSTM: outputs and every gradient', () => {
    const f = () => {
      const lin = new Linear({ inFeatures: 20, outFeatures: 30 });
      const conv = new Conv2d({ inChannels: 3, outChannels: 8, kernelSize: 3, padding: 'same', stride: 1 });
      const lstm = new LSTM({ inputSize: 6, hiddenSize: 16, batchFirst: true });
      const x = randn([16, 20], { requiresGrad: true });
      const img = randn([4, 3, 12, 12], { requiresGrad: true });
      const seq = randn([5, 9, 6], { requiresGrad: true });
      const y = lin.forward(x);
      const z = conv.forward(img);
      const [h] = lstm.forward(seq);
      const loss = crossEntropy(y, tensor(Array.from({ length: 16 }, (_, i) => i % 30), { dtype: 'int32' })).add(z.square().mean()).add(h.square().mean());
      loss.backward();
      return [y, z, h, x.grad!, img.grad!, seq.grad!, ...lin.parameters().map((p) => p.grad!), ...conv.parameters().map((p) => p.grad!), ...lstm.parameters().map((p) => p.grad!)];
    };
    const before = wasm.stats.wasm;
    expectClose(on('wasm', f), on('cpu', f), 1e-4);
    expect(wasm.stats.wasm).toBeGreaterThan(before); // the kernel really ran
  });

  it('reports where each primitive ran (the ML_DEBUG=1 log shows it): kernels, or the cpu code and why', () => {
    const route = (f: () => void) => {
      wasm.lastRoute();
      on('wasm', () => {
        f();
        return [];
      });
      return wasm.lastRoute();
    };
    expect(route(() => matmul(randn([64, 64]), randn([64, 64])))).toBe('wasm');
    expect(route(() => matmul(randn([40, 40], { dtype: 'float64' }), randn([40, 40], { dtype: 'float64' })))).toBe('wasm → cpu code (float64 operands)');
    expect(route(() => randn([3]).exp())).toBe('wasm → cpu code (no wasm kernel)');
    expect(route(() => relu(randn([5])))).toBe('wasm');
    expect(route(() => maxPool2d(randn([1, 1, 5, 5]), { kernelSize: 3, stride: 1 }))).toMatch(/^wasm → cpu code \(windows do not tile/);
  });

  it('indexSelect of rows (a batch from a dataset) copies whole rows on the kernel, as the cpu code does', () => {
    const route = (f: () => Tensor) => {
      const got = on('wasm', () => [f()]);
      return [wasm.lastRoute(), got, on('cpu', () => [f()])] as const;
    };
    const rowsOf = (x: Tensor, idx: number[]) => x.indexSelect(0, tensor(idx, { dtype: 'int32' }));
    for (const [f, where] of [
      [() => rowsOf(randn([50, 20]), [3, 49, 0, 3, 17]), 'wasm'],
      [() => rowsOf(randint(-5, 5, [9, 4, 4]), [8, 0, 8]), 'wasm'], // int32, rows of 16
      [() => rowsOf(randn([6, 4]), [1, 2]), /^wasm → cpu code/], // rows too short
      [() => rowsOf(randn([6, 20]), [-1, 2]), /^wasm → cpu code/], // a negative index wraps
      [() => rowsOf(randn([20, 6]).transpose(0, 1), [5, 0]), /^wasm → cpu code/], // not contiguous
      [() => rowsOf(randn([20, 30], { dtype: 'float64' }), [5, 0]), /^wasm → cpu code/],
    ] as const) {
      const [r, got, want] = route(f);
      if (typeof where === 'string') expect(r).toBe(where);
      else expect(r).toMatch(where);
      expect(got).toEqual(want);
    }
    expect(() => on('wasm', () => [rowsOf(randn([6, 20]), [6])])).toThrow(/gather: index 6 is out of range for dim 0 of size 6/);
  });

  it('float64 and small products fall back to the cpu code', () => {
    const before = { ...wasm.stats };
    on('wasm', () => [matmul(randn([40, 40], { dtype: 'float64' }), randn([40, 40], { dtype: 'float64' })), matmul(randn([2, 2]), randn([2, 2]))]);
    expect(wasm.stats.fallback - before.fallback).toBe(2);
    expect(wasm.stats.wasm).toBe(before.wasm);
  });
});

describe('the SIMD pooling and Adam kernels equal the cpu code', () => {
  it.each([
    ['2x2 windows, ties (small integers)', [2, 3, 8, 6], { kernelSize: 2 }, true],
    ['2x2 windows over odd sizes (a last row and column no window covers), ties', [2, 2, 7, 11], { kernelSize: 2 }, true],
    ['3x2 windows over a ragged edge (rows and columns left over)', [2, 2, 11, 7], { kernelSize: [3, 2] }, false],
    ['overlapping windows (not tiled: the cpu code runs)', [1, 2, 7, 7], { kernelSize: 3, stride: 2 }, false],
  ] as const)('maxPool2d %s: output and gradient', (_what, shape, options, ties) => {
    const f = () => {
      const x = (ties ? randint(0, 3, [...shape]).cast('float32') : randn([...shape])).requiresGrad_();
      const y = maxPool2d(x, options as { kernelSize: number });
      const g = randn(y.shape);
      // a freed block of x's size full of NaN: the gradient's block, so an element the
      // kernel leaves unwritten shows
      full([...shape], NaN).dispose();
      y.mul(g).sum().backward();
      return [y, x.grad!];
    };
    expectClose(on('wasm', f), on('cpu', f), 1e-6);
  });

  it.each([
    ['3x3, no padding', {}],
    ['2x3 kernel, stride 2, dilation [2, 1], padding [1, 2] (border windows)', { stride: 2, dilation: [2, 1], padding: [1, 2] }],
    ['5x5 kernel, dilation [1, 2], padding 2 (no vector copies)', { dilation: [1, 2], padding: 2 }],
  ] as const)('conv2d on the patch kernels (im2row, row2im): %s, output and gradients', (what, options) => {
    const k = what.startsWith('2x3') ? [2, 3] : what.startsWith('5x5') ? [5, 5] : [3, 3];
    const f = () => {
      const x = randn([3, 4, 11, 10]).requiresGrad_();
      const w = randn([5, 4, k[0], k[1]]).requiresGrad_();
      const b = randn([5]).requiresGrad_();
      const y = conv2d(x, w, b, options as Conv2dOptions);
      y.mul(randn(y.shape)).sum().backward();
      return [y, x.grad!, w.grad!, b.grad!];
    };
    expectClose(on('wasm', f), on('cpu', f), 1e-4);
  });

  // F(4×4, 3×3)'s transforms scale float32's rounding up by about 15× F(2×2, 3×3)'s (its
  // points ±2 and the weights' 1/24): measured 1–5e-6 of the largest magnitude on these
  // cases, against 2e-7; so its results are held to 3e-5 of each tensor's largest value
  const [two, four] = [registerWasmBackend({ name: 'wasm-f2', winograd: 2 }), registerWasmBackend({ name: 'wasm-f4', winograd: 4 })];
  const WINOGRAD_CASES: [number[], number, Conv2dOptions, boolean][] = [
    // odd and even output sizes, paddings 0–3 and per axis, the fewest tile columns
    // (F(2×2): 4), channel counts off the kernels' multiples of 4 and 8, batches off the chunk size
    [[5, 8, 12, 12], 8, { padding: 'same' }, true],
    [[3, 9, 9, 11], 12, {}, false],
    [[2, 16, 7, 7], 10, { padding: 2 }, true],
    [[4, 8, 8, 17], 9, { padding: [1, 0] }, true],
    [[2, 8, 9, 9], 8, {}, true],
    [[17, 8, 6, 10], 8, { padding: 1 }, false],
    [[40, 16, 14, 14], 32, {}, true], // the weight gradient adds a unit's images in two products (gemmAcc)
    [[2, 10, 5, 6], 8, { padding: 3 }, false], // padding past the kernel's reach (rows and columns of dx see only padding)
  ];
  // F(4×4) only (its tiles go four at a time in any order, the last ones moved back to the
  // output's edge): one tile, one row of tiles, tile counts 1–3 past a multiple of 4, the
  // MNIST CNN's second layer
  const FOUR_ONLY: [number[], number, Conv2dOptions, boolean][] = [
    [[1, 8, 6, 6], 8, {}, true],
    [[3, 8, 6, 21], 8, {}, false],
    [[1, 12, 10, 8], 8, { padding: 1 }, true],
    [[7, 8, 13, 13], 16, {}, true],
    [[6, 32, 13, 13], 64, {}, true],
  ];
  /** |a − b| ≤ tol·max(1, largest |b| of the tensor), tensor by tensor */
  const expectCloseToScale = (a: number[][], b: number[][], tol: number) => {
    expect(a.length).toBe(b.length);
    a.forEach((xs, i) => {
      const scale = b[i].reduce((m, v) => Math.max(m, Math.abs(v)), 1);
      xs.forEach((v, j) => expect(Math.abs(v - b[i][j]), `output ${i}[${j}]`).toBeLessThan(tol * scale));
    });
  };
  const winogradCase = (backend: WasmBackend, [shape, O, options, withBias]: [number[], number, Conv2dOptions, boolean], close: (a: number[][], b: number[][]) => void) => {
    let extra = -1;
    const f = convAndGradients(shape, O, options, withBias, () => {
      // the weight gradient took the padded input its forward kept: no block but tensors'
      const m = memory().backends[backend.name];
      if (getBackend().name === backend.name) extra = (m.heap?.liveBlocks ?? 0) - m.numStorages;
    });
    const before = backend.stats.winograd;
    const got = on(backend.name, f);
    expect(backend.stats.winograd - before, `${shape} → ${O}`).toBe(3); // forward, input and weight gradients
    expect(extra, `${shape} → ${O}`).toBe(0);
    try {
      close(got, on('cpu', f));
    } catch (e) {
      throw new Error(`${shape} → ${O} ${JSON.stringify(options)}: ${String(e)}`);
    }
  };

  it('3×3 stride-1 convolutions with 8+ channels run by Winograd F(2×2, 3×3) (winograd: 2): output and both gradients equal the cpu code (1e-4 relative)', () => {
    for (const c of WINOGRAD_CASES) winogradCase(two, c, (a, b) => expectClose(a, b, 1e-4));
  });

  it('and by Winograd F(4×4, 3×3) (winograd: 4), in tiles of any count and layout: output and both gradients equal the cpu code (3e-5 of the largest value)', () => {
    for (const c of [...WINOGRAD_CASES, ...FOUR_ONLY]) winogradCase(four, c, (a, b) => expectCloseToScale(a, b, 3e-5));
  });

  it('the default takes F(4×4, 3×3) where its tiles multiply less than F(2×2, 3×3)\'s, F(2×2, 3×3) where they do not', () => {
    const route = (f: () => Tensor) => {
      on('wasm', () => [f()]);
      return wasm.lastRoute();
    };
    // 8×8 outputs: 36·2·2 = 144 multiplications a plane against 16·4·4 = 256
    expect(route(() => conv2d(randn([2, 8, 10, 10]), randn([8, 8, 3, 3])))).toBe('wasm (Winograd 4×4)');
    // 5×9: 36·2·3 = 216 against 16·3·5 = 240; 5×8: 36·2·2 = 144 against 16·3·4 = 192
    expect(route(() => conv2d(randn([2, 8, 7, 11]), randn([8, 8, 3, 3])))).toBe('wasm (Winograd 4×4)');
    // 6×6 outputs: 36·2·2 = 144 against 16·3·3 = 144, not fewer: F(2×2) (3 tile columns: too few, so patch matrices)
    expect(route(() => conv2d(randn([2, 8, 8, 8]), randn([8, 8, 3, 3])))).toBe('wasm');
    // 10×10: 36·3·3 = 324 against 16·5·5 = 400: F(4×4); 9×13: 36·3·4 = 432 against 16·5·7 = 560
    expect(route(() => conv2d(randn([2, 8, 12, 12]), randn([8, 8, 3, 3])))).toBe('wasm (Winograd 4×4)');
    // 2×13: fewer than 4 rows, F(2×2); 3×3 (F(4×4) with winograd: 4 too): patch matrices
    expect(route(() => conv2d(randn([2, 8, 4, 15]), randn([8, 8, 3, 3])))).toBe('wasm (Winograd)');
    expect((on('wasm-f4', () => [conv2d(randn([2, 8, 5, 5]), randn([8, 8, 3, 3]))]), four.lastRoute())).toBe('wasm');
    // too few channels, a stride, a dilation: the patch-matrix product, whatever the setting
    for (const b of [wasm, two, four]) {
      const routeOn = (f: () => Tensor) => {
        on(b.name, () => [f()]);
        return b.lastRoute();
      };
      expect(routeOn(() => conv2d(randn([2, 6, 10, 10]), randn([8, 6, 3, 3])))).toBe('wasm');
      expect(routeOn(() => conv2d(randn([2, 8, 10, 10]), randn([8, 8, 3, 3]), null, { stride: 2 }))).toBe('wasm');
      expect(routeOn(() => conv2d(randn([2, 8, 10, 10]), randn([8, 8, 3, 3]), null, { dilation: 2 }))).toBe('wasm');
    }
    // F(2×2) needs four tile columns (5 output columns: 3); F(4×4) takes any
    expect((on('wasm-f2', () => [conv2d(randn([2, 8, 10, 7]), randn([8, 8, 3, 3]))]), two.lastRoute())).toBe('wasm');
    expect((on('wasm-f4', () => [conv2d(randn([2, 8, 10, 7]), randn([8, 8, 3, 3]))]), four.lastRoute())).toBe('wasm (Winograd 4×4)');
    expect(() => registerWasmBackend({ name: 'wasm-f3', winograd: 3 as 2 })).toThrow(/winograd must be true, false, 2 or 4, got 3/);
  });

  it('3×3 stride-1 convolutions of 1–4 input channels run directly: output and all gradients equal the cpu code (1e-4 relative)', () => {
    // one to four channels, paddings 0–3 and per axis, the fewest columns (4), widths
    // whose last four outputs overlap the ones before by 1–3, channel counts off 4; the
    // input gradient is direct too (dy padded by 2 − p) unless the padding is past 2
    const cases: [number[], number, Conv2dOptions, boolean, number][] = [
      [[5, 1, 28, 28], 32, {}, true, 3], // the MNIST CNN's first layer
      [[3, 3, 9, 9], 5, { padding: 1 }, true, 3],
      [[2, 2, 6, 7], 8, {}, false, 3],
      [[4, 4, 7, 12], 3, { padding: [1, 0] }, true, 3],
      [[1, 1, 5, 8], 1, { padding: [0, 2] }, false, 3],
      [[2, 2, 9, 10], 6, { padding: 2 }, true, 3],
      [[2, 1, 8, 8], 4, { padding: 3 }, false, 2],
    ];
    for (const [shape, O, options, withBias, direct] of cases) {
      const f = convAndGradients(shape, O, options, withBias);
      const before = wasm.stats.direct;
      const got = on('wasm', f);
      expect(wasm.stats.direct - before, `${shape} → ${O}`).toBe(direct); // forward, input and weight gradients
      expectClose(got, on('cpu', f), 1e-4);
    }
    const route = (f: () => Tensor) => {
      on('wasm', () => [f()]);
      return wasm.lastRoute();
    };
    expect(route(() => conv2d(randn([2, 3, 10, 10]), randn([8, 3, 3, 3])))).toBe('wasm (direct)');
    // five channels, a stride, a dilation, a 5×5 window, too few columns: the patch-matrix product
    expect(route(() => conv2d(randn([2, 5, 10, 10]), randn([8, 5, 3, 3])))).toBe('wasm');
    expect(route(() => conv2d(randn([2, 1, 10, 10]), randn([8, 1, 3, 3]), null, { stride: 2 }))).toBe('wasm');
    expect(route(() => conv2d(randn([2, 1, 10, 10]), randn([8, 1, 3, 3]), null, { dilation: 2 }))).toBe('wasm');
    expect(route(() => conv2d(randn([2, 1, 10, 10]), randn([8, 1, 5, 5])))).toBe('wasm');
    expect(route(() => conv2d(randn([2, 1, 10, 5]), randn([8, 1, 3, 3])))).toBe('wasm');
    const plain = registerWasmBackend({ threads: 1, name: 'wasm-no-direct', direct: false });
    const g = () => {
      const x = randn([3, 2, 9, 11]);
      const w = randn([6, 2, 3, 3]).requiresGrad_();
      const y = conv2d(x, w, randn([6]), { padding: 1 });
      y.mul(randn(y.shape)).sum().backward();
      return [y, w.grad!];
    };
    expectClose(on('wasm-no-direct', g), on('wasm', g), 1e-4);
    expect(plain.stats.direct).toBe(0);
  });

  it('dropout masks drawn on the kernel equal the cpu code bit for bit, and leave the generator where it does', () => {
    // cuts inside, at and past [0, 1], NaN; lengths off the vector width; the draw after
    // the mask shows the generator state moved on alike
    for (const [p, shape] of [[0.5, [64, 1600]], [0.2, [7]], [0, [5, 3]], [1, [9]], [1.5, [4]], [-0.25, [6]], [NaN, [3]], [Math.fround(0.3), [1000]]] as const) {
      const f = () => {
        manualSeed(21);
        return [dropoutMask(shape, p, 1 / (1 - 0.5)), rand([5])];
      };
      const [w, c] = [on('wasm', f), on('cpu', f)];
      expect(w.map((xs) => xs.map(String)), `p = ${p}`).toEqual(c.map((xs) => xs.map(String)));
      on('wasm', () => [dropoutMask([8], p, 2)]);
      expect(wasm.lastRoute()).toBe('wasm');
    }
    // float64 masks keep the JavaScript loop, with the same values
    const f64 = () => {
      manualSeed(3);
      return [dropoutMask([100], 0.4, 2, { dtype: 'float64' })];
    };
    expect(on('wasm', f64)).toEqual(on('cpu', f64));
  });

  it('with winograd: false every convolution goes through patch matrices, to the same results (1e-4 relative)', () => {
    const plain = registerWasmBackend({ threads: 1, name: 'wasm-plain', winograd: false });
    const f = () => {
      const x = randn([6, 16, 11, 11]).requiresGrad_();
      const w = randn([12, 16, 3, 3]).requiresGrad_();
      const y = conv2d(x, w, randn([12]), { padding: 1 });
      y.mul(randn(y.shape)).sum().backward();
      return [y, x.grad!, w.grad!];
    };
    const [before, beforePlain] = [wasm.stats.winograd, plain.stats.winograd];
    const [plainOut, winogradOut] = [on('wasm-plain', f), on('wasm', f)];
    // the default ran F(4×4, 3×3): 3e-5 of each tensor's largest value (see above)
    plainOut.forEach((xs, i) => {
      const scale = winogradOut[i].reduce((m, v) => Math.max(m, Math.abs(v)), 1);
      xs.forEach((v, j) => expect(Math.abs(v - winogradOut[i][j]), `output ${i}[${j}]`).toBeLessThan(3e-5 * scale));
    });
    expect(wasm.stats.winograd - before).toBe(3);
    expect(plain.stats.winograd).toBe(beforePlain);
    on('wasm-plain', () => [conv2d(randn([2, 8, 10, 10]), randn([8, 8, 3, 3]))]);
    expect(plain.lastRoute()).toBe('wasm'); // its own kernels, not the cpu code
  });

  it('a weight gradient reuses its forward patch matrix only for the same input view and geometry', () => {
    const f = () => {
      const x = randn([2, 3, 9, 9]).requiresGrad_();
      const w = randn([4, 3, 3, 3]).requiresGrad_();
      // two convolutions of one input (the second replaces the first's kept matrix), and
      // one of a slice of it: each weight gradient must use its own patches
      const ys = [conv2d(x, w), conv2d(x, w, undefined, { stride: 2, padding: 1 }), conv2d(narrow(x, 2, 1, 8), w)];
      ys.forEach((y) => y.mul(randn(y.shape)).sum().backward());
      return [w.grad!, x.grad!];
    };
    expectClose(on('wasm', f), on('cpu', f), 1e-4);
    const heap = memory().backends.wasm.heap;
    expect(heap?.liveBlocks).toBe(memory().backends.wasm.numStorages); // no kept matrix outlives its gradient
  });

  it('relu and its gradient: NaN, ±0, ±∞ and a length that is not a multiple of 4, as on cpu', () => {
    const f = () => {
      const x = tensor([-2, -0, 0, 3, NaN, Infinity, -Infinity, 1e-30, -1e-30, 7, -7]).requiresGrad_();
      const y = relu(x);
      y.mul(tensor([1, 2, -3, NaN, 5, -0, Infinity, -Infinity, 4, -1, 2])).sum().backward();
      return [y, x.grad!];
    };
    const [w, c] = [on('wasm', f), on('cpu', f)];
    expect(w.map((a) => a.map((v) => (Object.is(v, -0) ? '-0' : String(v))))).toEqual(c.map((a) => a.map((v) => (Object.is(v, -0) ? '-0' : String(v)))));
  });

  it('maxPool2d: NaN wins its window and spreads NaN over it in the gradient, as on cpu', () => {
    const f = () => {
      // 7 windows in a row: four on the vector path (NaN in the second), two, then one
      const x = tensor([[[[1, NaN, 2, 3, 7, 1, 0, -1, 2, 2, 9, 8, 6, NaN], [0, 5, 4, 4, -3, 8, 1, 1, 0, 3, 9, 9, 5, 6]]]]).requiresGrad_();
      const y = maxPool2d(x, { kernelSize: 2 });
      y.sum().backward();
      return [y, x.grad!];
    };
    const [w, c] = [on('wasm', f), on('cpu', f)];
    expect(w.map((a) => a.map(String))).toEqual(c.map((a) => a.map(String)));
    expect(w[1].slice(0, 2).every(Number.isNaN)).toBe(true);
  });

  it("Adam keeps its state on the parameters' backend when the default backend is another", () => {
    const prev = getBackend().name;
    try {
      setBackend('wasm');
      const w = randn([40, 40]).requiresGrad_();
      setBackend('cpu');
      const opt = new Adam([w], { lr: 0.1 });
      for (let i = 0; i < 2; i++) {
        opt.zeroGrad();
        w.square().sum().backward();
        opt.step();
      }
      const s = opt.stateDict().state[0];
      expect([w.backend.name, (s.expAvg as Tensor).backend.name, (s.expAvgSq as Tensor).backend.name]).toEqual(['wasm', 'wasm', 'wasm']);
    } finally {
      setBackend(prev);
    }
  });

  it('sums over trailing axes on the kernel equal the cpu code (float64 accumulation), NaN and ±∞ included', () => {
    const f = () => {
      const outs: Tensor[] = [];
      for (const shape of [[3, 4, 16], [2, 5, 17], [7, 19], [2, 3, 10, 11], [1, 1000]]) {
        const x = randn(shape).mul(100).add(1e4);
        outs.push(x.sum([shape.length - 1]), shape.length > 2 ? x.sum([shape.length - 2, shape.length - 1]) : x.sum(-1, true));
      }
      const edge = tensor([[1, 2, NaN, ...new Array<number>(17).fill(1)], [Infinity, ...new Array<number>(19).fill(-1)], [Infinity, -Infinity, ...new Array<number>(18).fill(0)]]);
      outs.push(edge.sum(1));
      return outs;
    };
    const [a, b] = [on('wasm', f), on('cpu', f)];
    expectClose(a.slice(0, -1), b.slice(0, -1), 1e-6);
    expect(a[a.length - 1].map(String)).toEqual(['NaN', 'Infinity', 'NaN']);
    const prev = getBackend().name;
    setBackend('wasm');
    try {
      randn([4, 32]).sum(1);
      expect(wasm.lastRoute()).toBe('wasm');
    } finally {
      setBackend(prev);
    }
  });

  it('add, sub, mul and div on the kernel equal the cpu code bit for bit (broadcast rows, per-row values, edge values)', () => {
    const edge = [-0, 0, -Infinity, Infinity, NaN, -3.5, 2.25, 1e-40, -1e38, 3e38, 7];
    const f = () => {
      const a = randn([4, 3, 10]);
      const e = tensor([edge, [...edge].reverse()]);
      const pairs: [Tensor, Tensor][] = [
        [a, a.mul(0.5).add(1)], // one shape
        [a, randn([10])], // a bias row (rows 0 apart), rows not a multiple of 4 long
        [a, randn([4, 3, 1])], // one value per row
        [randn([4, 3, 1]), a], // … on the left
        [a.narrow(1, 1, 2), a.narrow(1, 0, 2)], // slices of a batch: uneven rows (cpu code)
        [a.transpose(0, 1), randn([10])], // uneven rows: cpu code
        [e, tensor([[...edge].reverse(), edge])], // ±0, ±∞, NaN, subnormal, overflow
        [e, tensor(0)], // division by zero, a scalar
      ];
      return pairs.flatMap(([x, y]) => [x.add(y), x.sub(y), x.mul(y), x.div(y), y.div(x)]);
    };
    const [w, c] = [on('wasm', f), on('cpu', f)];
    expect(w.map((xs) => xs.map(String))).toEqual(c.map((xs) => xs.map(String)));
    const route = (g: () => void) => {
      on('wasm', () => {
        g();
        return [];
      });
      return wasm.lastRoute();
    };
    expect(route(() => randn([4, 3, 10]).add(randn([10])))).toBe('wasm');
    expect(route(() => randn([6, 10]).mul(randn([6, 1])))).toBe('wasm');
    expect(route(() => randn([3, 4, 10]).transpose(0, 1).add(randn([10])))).toBe('wasm → cpu code (no wasm kernel for this case)');
    expect(route(() => randn([6, 3]).add(randn([3])))).toBe('wasm → cpu code (no wasm kernel for this case)');
  });

  it('sums over leading axes (a bias gradient over a batch) on the kernel equal the cpu code bit for bit', () => {
    const f = () => {
      const x = randn([64, 3, 8]).mul(100).add(1e4);
      const edge = tensor([[1, NaN, Infinity, Infinity, 5, 6, 7, 8], [2, 3, -Infinity, 1, 1e38, 3e38, 3e38, -0]]);
      return [x.sum(0), x.sum([0, 1]), x.reshape([192, 8]).sum(0, true), edge.sum(0), randn([5, 12]).sum(0), randn([64, 10]).sum(0), x.reshape([64, 24]).narrow(1, 0, 7).sum(0)];
    };
    const [w, c] = [on('wasm', f), on('cpu', f)];
    expect(w.map((xs) => xs.map(String))).toEqual(c.map((xs) => xs.map(String)));
    on('wasm', () => [randn([64, 128]).sum(0)]);
    expect(wasm.lastRoute()).toBe('wasm');
    on('wasm', () => [randn([64, 10]).sum(0)]);
    expect(wasm.lastRoute()).toBe('wasm');
    on('wasm', () => [randn([64, 3]).sum(0)]);
    expect(wasm.lastRoute()).toBe('wasm → cpu code (no wasm kernel for this reduction)');
  });

  it('whole sums of large float32 tensors on the kernel equal the cpu code (float32 results, NaN and ±∞ included)', () => {
    const f = () => {
      const x = randn([64, 32, 26, 26]).mul(100).add(1e4);
      const odd = randn([3, 7001]); // 21,003 values: 64 parts of 328 and a tail of 11
      const nan = odd.add(tensor([NaN, ...new Array<number>(7000).fill(0)]));
      const inf = odd.add(tensor([...new Array<number>(7000).fill(0), Infinity]));
      const both = inf.sub(tensor([Infinity, ...new Array<number>(7000).fill(0)]));
      return [x.sum(), odd.sum(), nan.sum(), inf.sum(), both.sum(), x.mean()];
    };
    const [w, c] = [on('wasm', f), on('cpu', f)];
    expect(w.map((xs) => xs.map(String))).toEqual(c.map((xs) => xs.map(String)));
    on('wasm', () => [randn([200, 100]).sum()]);
    expect(wasm.lastRoute()).toBe('wasm');
    on('wasm', () => [randn([100, 100]).sum()]); // under 16,384 values: the cpu code
    expect(wasm.lastRoute()).toBe('wasm → cpu code (no wasm kernel for this reduction)');
  });

  it('kernels split across the threads (by images, planes, blocks, vectors, rows; Adam) give the one-thread results bit for bit', () => {
    const f = () => {
      // the MNIST CNN's second convolution and the pooling around it, at batch 64
      const x = randn([64, 32, 13, 13]).requiresGrad_();
      const w = randn([64, 32, 3, 3]).mul(0.1).requiresGrad_();
      const b = randn([64]).requiresGrad_();
      const y = conv2d(x, w, b, { padding: 1 }).relu();
      const z = maxPool2d(y, { kernelSize: 2 });
      const odd = maxPool2d(narrow(narrow(y, 2, 0, 12), 3, 0, 12), { kernelSize: 3 }); // the general pooling kernels
      // 3 channels: patch rows of 27, the gradient's product rows padded to 32
      const x3 = randn([64, 3, 30, 30]).requiresGrad_();
      const w3 = randn([8, 3, 3, 3]).requiresGrad_();
      const y3 = conv2d(x3, w3, null, { stride: 2 });
      // the first layer: direct, split by images (forward) and output channels (weights)
      const w1 = randn([32, 1, 3, 3]).requiresGrad_();
      const y1 = conv2d(randn([64, 1, 28, 28]), w1, randn([32]));
      // Winograd F(4×4, 3×3) without padding: x, dy, y and ∂x where they lie (the padded
      // convolution above runs it on padded planes)
      const w4 = randn([16, 32, 3, 3]).mul(0.1).requiresGrad_();
      const y4 = conv2d(x, w4);
      z.mul(randn(z.shape)).sum().add(odd.sum()).add(y3.mul(randn(y3.shape)).sum()).add(y1.mul(randn(y1.shape)).sum()).add(y4.mul(randn(y4.shape)).sum()).backward();
      new Adam([w], { lr: 0.01 }).step(); // 18,432 values: Adam by vectors on both threads
      return [y, z, odd, x.grad!, w.grad!, b.grad!, y3, x3.grad!, w3.grad!, w, y1, w1.grad!, y4, w4.grad!];
    };
    const [before, winograd] = [wasm.gemm.splitCalls, wasm.stats.winograd];
    const [threaded, one] = [on('wasm', f), on('wasm-1t', f)];
    expect(wasm.gemm.splitCalls - before).toBeGreaterThanOrEqual(8);
    expect(wasm.stats.winograd - winograd).toBe(6); // both F(4×4) convolutions, three passes each
    threaded.forEach((xs, i) => expect(xs.map(String), `output ${i}`).toEqual(one[i].map(String)));
  });

  it('Adam steps on the SIMD kernel equal the JavaScript loop (1e-6 relative), and the kernel runs', () => {
    let calls = 0;
    const adamUpdate = wasm.adamUpdate.bind(wasm);
    // count the calls of the backend's fused step (an optional method of the contract)
    wasm.adamUpdate = (...args) => {
      calls++;
      return adamUpdate(...args);
    };
    try {
      const f = () => {
        // 1,517 elements (not a multiple of 4), and a bias of 10 (small ones take the kernel too)
        const [w, b] = [randn([37, 41]).requiresGrad_(), randn([10]).requiresGrad_()];
        const opt = new Adam([w, b], { lr: 0.01, weightDecay: 0.1 });
        for (let i = 0; i < 6; i++) {
          opt.zeroGrad();
          w.sin().mul(randn([37, 41])).sum().add(b.square().sum()).backward();
          opt.step();
        }
        const s = opt.stateDict().state;
        return [w, b, ...[0, 1].flatMap((i) => [s[i].expAvg as Tensor, s[i].expAvgSq as Tensor])];
      };
      expectClose(on('wasm', f), on('cpu', f), 1e-6);
      expect(calls).toBe(12);
    } finally {
      wasm.adamUpdate = adamUpdate;
    }
  });
});

describe('usage', () => {
  it('useWasm makes it the default; mixing backends without a move is a clear error', async () => {
    const prev = getBackend().name;
    useWasm();
    try {
      const a = randn([2, 2]);
      expect(a.backend.name).toBe('wasm');
      setBackend('cpu');
      const b = randn([2, 2]);
      expect(() => a.add(b)).toThrow(/add: tensors are on different backends \('wasm' and 'cpu'\)/);
      expect((await toBackend(a, 'cpu')).add(b).backend.name).toBe('cpu');
      a.dispose();
      expect(() => a.dataSync()).toThrow(/disposed/);
    } finally {
      setBackend(prev);
    }
  });

  it('CNN training steps (conv-pool-conv-pool-dense, Adam) keep tensor counts and WebAssembly memory flat', () => {
    const prev = getBackend().name;
    setBackend('wasm');
    try {
      manualSeed(2);
      const net = new Sequential([
        new Conv2d({ inChannels: 1, outChannels: 8, kernelSize: 3 }),
        new ReLU(),
        new MaxPool2d({ kernelSize: 2 }),
        new Conv2d({ inChannels: 8, outChannels: 16, kernelSize: 3 }),
        new ReLU(),
        new MaxPool2d({ kernelSize: 2 }),
        new Flatten(),
        new Linear({ inFeatures: 16 * 5 * 5, outFeatures: 10 }),
      ]);
      const opt = new Adam(net.parameters(), { lr: 1e-3 });
      const x = randn([16, 1, 28, 28]).keep();
      const y = tensor(Array.from({ length: 16 }, (_, i) => i % 10), { dtype: 'int32' }).keep();
      const step = () =>
        tidy(() => {
          opt.zeroGrad();
          crossEntropy(net.forward(x), y).backward();
          opt.step();
        });
      for (let i = 0; i < 3; i++) step();
      const tensors = memory().numTensors;
      const bytes = memory().numBytes;
      const scratch = wasm.gemm.bytes;
      const live = wasm.heap().liveBytes;
      for (let i = 0; i < 40; i++) step();
      expect(memory().numTensors).toBe(tensors);
      expect(memory().numBytes).toBe(bytes);
      expect(wasm.gemm.bytes).toBe(scratch);
      // every tensor's storage is one block of the module memory, and nothing else stays
      const m = memory().backends.wasm;
      expect(m.heap?.liveBlocks).toBe(m.numStorages);
      expect(m.heap?.liveBytes).toBe(live);
      expect(m.heap?.liveBytes).toBeGreaterThanOrEqual(m.numBytes);
    } finally {
      setBackend(prev);
    }
  });

  it('training steps keep tensor counts and scratch memory flat', () => {
    const prev = getBackend().name;
    setBackend('wasm');
    try {
      manualSeed(1);
      const lin = new Linear({ inFeatures: 64, outFeatures: 32 });
      const x = randn([128, 64]).keep();
      const step = () =>
        tidy(() => {
          lin.zeroGrad();
          lin.forward(x).square().mean().backward();
          for (const p of lin.parameters()) p.assign(p.sub(p.grad!.mul(0.01)));
        });
      for (let i = 0; i < 5; i++) step();
      const tensors = memory().numTensors;
      const scratch = wasm.gemm.bytes;
      for (let i = 0; i < 200; i++) step();
      expect(memory().numTensors).toBe(tensors);
      expect(wasm.gemm.bytes).toBe(scratch);
    } finally {
      setBackend(prev);
    }
  });
});
