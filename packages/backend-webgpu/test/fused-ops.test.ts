// The fused kernels reached through @ml/tensor's ops and @ml/autograd's gradients: a small
// CNN's loss and every gradient on webgpu equal the cpu backend's, and each fused method
// ran and did not decline (a silent fallback to the composite fails here).
import '@ml/autograd';
import {
  avgPool2d,
  conv2d,
  getBackend,
  logSoftmax,
  manualSeed,
  matmul,
  maxPool2d,
  mean,
  randn,
  relu,
  reshape,
  setBackend,
  softmax,
  softmaxCrossEntropy,
  tensor,
  tidy,
  type Tensor,
} from '@ml/tensor';
import { afterEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import type { WebGpuBackend } from '../src/index.js';
import { gpu as found } from './gpu.js';
import { expectClose } from './reference.js';

const maybe = found === null ? describe.skip : describe;

/** Run `f` on a backend from the same seed; its outputs as plain arrays. */
async function on(name: string, f: () => Tensor[]): Promise<number[][]> {
  const prev = getBackend().name;
  setBackend(name);
  try {
    manualSeed(7);
    const outs = tidy(() => f().map((t) => t.detach().clone()));
    const vals = await Promise.all(outs.map(async (t) => Array.from(await t.data())));
    outs.forEach((t) => t.dispose());
    return vals;
  } finally {
    setBackend(prev);
  }
}

const FUSED = [
  'conv2d',
  'conv2dBackwardInput',
  'conv2dBackwardWeight',
  'maxPool2d',
  'maxPool2dBackward',
  'avgPool2d',
  'reluBackward',
  'softmax',
  'logSoftmax',
  'softmaxCrossEntropy',
  'softmaxCrossEntropyBackward',
] as const;
type Fused = (typeof FUSED)[number];

/** Spies on the backend's fused methods (they still run). */
function spyAll(b: WebGpuBackend): Record<Fused, MockInstance> {
  return Object.fromEntries(FUSED.map((k) => [k, vi.spyOn(b, k)])) as unknown as Record<Fused, MockInstance>;
}

/** How often each ran, and whether any declined (returned null). */
function calls(spies: Record<Fused, MockInstance>): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const k of FUSED) {
    const r = spies[k].mock.results;
    out[k] = r.some((x) => x.type !== 'return' || x.value === null) ? 'declined' : r.length;
  }
  return out;
}

afterEach(() => vi.restoreAllMocks());

maybe('fused kernels through the ops on webgpu: values and gradients equal the cpu backend (1e-4)', () => {
  it('a CNN (conv, relu, max pool, strided dilated conv, avg pool, dense) under softmax cross-entropy and a logSoftmax term', async () => {
    const f = () => {
      const x = randn([3, 4, 14, 14], { requiresGrad: true });
      const w1 = randn([6, 4, 3, 3], { requiresGrad: true });
      const b1 = randn([6], { requiresGrad: true });
      const w2 = randn([40, 6, 3, 3], { requiresGrad: true });
      const wd = randn([40 * 2 * 2, 10], { requiresGrad: true });
      let h = maxPool2d(relu(conv2d(x, w1.mul(0.3), b1, { padding: 1 })), { kernelSize: 2 }); // [3,6,7,7]
      h = conv2d(h, w2.mul(0.2), null, { stride: 2, padding: 1, dilation: 2 }); // [3,40,3,3]
      h = avgPool2d(h, { kernelSize: 2, stride: 2, padding: 1, countIncludePad: false }); // [3,40,2,2]
      const logits = matmul(reshape(h, [3, 160]), wd.mul(0.1));
      const target = tensor([3, 0, 9], { dtype: 'int32' });
      const loss = softmaxCrossEntropy(logits, target).add(mean(logSoftmax(logits, 1)).mul(-0.1)).add(mean(softmax(logits, 0)).mul(0.5));
      loss.backward();
      return [loss, logits, x.grad!, w1.grad!, b1.grad!, w2.grad!, wd.grad!];
    };
    const spies = spyAll(found!);
    const got = await on('webgpu', f);
    const ran = calls(spies);
    vi.restoreAllMocks();
    const want = await on('cpu', f);
    got.forEach((g, i) => expectClose(g, want[i], 1e-4, `output ${i}`));
    // every fused kernel on the path ran and none declined; avgPool2d and softmax have no
    // gradient rule of their own (they are differentiated through their composites), so
    // their kernels run only without gradients: checked below
    expect(ran).toEqual({
      conv2d: 2,
      conv2dBackwardInput: 2,
      conv2dBackwardWeight: 2,
      maxPool2d: 1,
      maxPool2dBackward: 1,
      avgPool2d: 0,
      reluBackward: 1,
      softmax: ran.softmax,
      logSoftmax: 1,
      softmaxCrossEntropy: 1,
      softmaxCrossEntropyBackward: 1,
    });
  });

  it('without gradients: softmax along dim 0, cross-entropy with reduction none and sum, pooling of a permuted input', async () => {
    const f = () => {
      const logits = randn([5, 12]).mul(3);
      const t = tensor([0, 11, 4, 4, 7], { dtype: 'int32' });
      const img = randn([2, 9, 7, 3]).permute([0, 3, 1, 2]); // [2,3,9,7], channels last in memory
      return [
        softmax(logits, 0),
        logSoftmax(logits.transpose(0, 1), 1),
        softmaxCrossEntropy(logits, t, 'none'),
        softmaxCrossEntropy(logits, t, 'sum'),
        avgPool2d(img, { kernelSize: 3, stride: 2, padding: 1 }),
        maxPool2d(img, { kernelSize: [2, 3], stride: 1, dilation: [2, 1] }),
      ];
    };
    const spies = spyAll(found!);
    const got = await on('webgpu', f);
    const ran = calls(spies);
    vi.restoreAllMocks();
    const want = await on('cpu', f);
    got.forEach((g, i) => expectClose(g, want[i], 1e-5, `output ${i}`));
    expect([ran.softmax, ran.logSoftmax, ran.softmaxCrossEntropy, ran.avgPool2d, ran.maxPool2d]).toEqual([1, 1, 2, 1, 1]);
  });
});
