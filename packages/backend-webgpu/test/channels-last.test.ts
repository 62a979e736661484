import '@ml/autograd';
import { AvgPool1d, AvgPool2d, Conv1d, Conv2d, GlobalAvgPool2d, GlobalMaxPool2d, MaxPool1d, MaxPool2d, type DataFormat, type Layer } from '@ml/nn';
import { getBackend, manualSeed, permute, randn, setBackend, tidy, type Tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { gpu } from './gpu.js';

// The cases of packages/nn/test/channels-last.test.ts (cpu), on this backend (a software GPU
// in CI, none on some machines: then skipped, as the other tests here): keep the lists alike.

/** [N, C, …spatial] → [N, …spatial, C] */
const toLast = (t: Tensor): Tensor => permute(t, [0, ...Array.from({ length: t.ndim - 2 }, (_, i) => i + 2), 1]);

const CASES: [string, (dataFormat: DataFormat) => Layer, number[]][] = [
  ['Conv2d (stride 2, same, 2 groups)', (dataFormat) => new Conv2d({ inChannels: 4, outChannels: 6, kernelSize: 3, stride: 2, padding: 'same', groups: 2, dataFormat }), [2, 4, 7, 6]],
  ['Conv2d lazy with relu', (dataFormat) => new Conv2d({ outChannels: 3, kernelSize: [2, 3], activation: 'relu', dataFormat }), [2, 3, 5, 6]],
  ['Conv1d (dilation 2)', (dataFormat) => new Conv1d({ inChannels: 3, outChannels: 2, kernelSize: 2, dilation: 2, dataFormat }), [2, 3, 9]],
  ['MaxPool2d (3, stride 2, pad 1)', (dataFormat) => new MaxPool2d({ kernelSize: 3, stride: 2, padding: 1, dataFormat }), [2, 3, 7, 6]],
  ['AvgPool2d (no pad counted)', (dataFormat) => new AvgPool2d({ kernelSize: 3, stride: 2, padding: 1, countIncludePad: false, dataFormat }), [2, 3, 7, 6]],
  ['MaxPool1d', (dataFormat) => new MaxPool1d({ kernelSize: 2, dataFormat }), [2, 3, 8]],
  ['AvgPool1d', (dataFormat) => new AvgPool1d({ kernelSize: 3, stride: 2, dataFormat }), [2, 3, 9]],
  ['GlobalAvgPool2d', (dataFormat) => new GlobalAvgPool2d({ dataFormat }), [2, 3, 4, 5]],
  ['GlobalMaxPool2d', (dataFormat) => new GlobalMaxPool2d({ dataFormat }), [2, 3, 4, 5]],
];

/**
 * On `backend`: a channels-first and a channels-last layer with the same weights, on x
 * and on x transposed, with the same upstream gradient. Pairs [first, last] of (output,
 * input gradient, each weight gradient), the channels-first ones transposed.
 */
async function pairs(backend: string, make: (f: DataFormat) => Layer, shape: number[]): Promise<[number[], number[]][]> {
  const prev = getBackend().name;
  setBackend(backend);
  try {
    manualSeed(7);
    const tensors = tidy(() => {
      const first = make('channelsFirst');
      const last = make('channelsLast');
      const x = randn(shape).requiresGrad_();
      const xl = toLast(x.detach()).clone().requiresGrad_();
      const ya = first.forward(x);
      if (first.parameters().length > 0) last.loadStateDict(first.stateDict());
      const yb = last.forward(xl);
      const spatialOut = ya.ndim > 2;
      const g = randn(ya.shape);
      ya.mul(g).sum().backward();
      yb.mul(spatialOut ? toLast(g) : g).sum().backward();
      const pl = last.parameters();
      const out: [Tensor, Tensor][] = [
        [spatialOut ? toLast(ya) : ya, yb],
        [toLast(x.grad!), xl.grad!],
        ...first.parameters().map((p, i): [Tensor, Tensor] => [p.grad!, pl[i].grad!]),
      ];
      // copies outlive the scope (the layers' gradients go with it)
      return out.map(([a, b]) => [a.detach().clone(), b.detach().clone()] as [Tensor, Tensor]);
    });
    expect(tensors[0][0].backend.name).toBe(backend);
    const read = async (t: Tensor) => Array.from(await t.data());
    const values = await Promise.all(tensors.map(async ([a, b]): Promise<[number[], number[]]> => [await read(a), await read(b)]));
    tensors.flat().forEach((t) => t.dispose());
    return values;
  } finally {
    setBackend(prev);
  }
}

const maybe = gpu === null ? describe.skip : describe;

maybe("dataFormat 'channelsLast' equals 'channelsFirst' after a transpose (webgpu): values and gradients", () => {
  for (const [name, make, shape] of CASES) {
    it(name, async () => {
      const ps = await pairs('webgpu', make, shape);
      expect(ps.length).toBeGreaterThanOrEqual(2);
      for (const [a, b] of ps) {
        expect(b.length).toBe(a.length);
        a.forEach((v, j) => expect(Math.abs(v - b[j])).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(v))));
      }
    });
  }
});
