import '@ml/autograd';
import { manualSeed, permute, randn, tidy, type Tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { gradcheckLayer } from './helpers.js';
import { AvgPool1d, AvgPool2d, Conv1d, Conv2d, GlobalAvgPool2d, GlobalMaxPool2d, MaxPool1d, MaxPool2d, type DataFormat, type Layer } from '../src/index.js';

// The same cases run on the wasm and webgpu backends in their packages'
// test/channels-last.test.ts: keep the three lists alike.

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
 * A channels-first and a channels-last layer with the same weights, on x and on x
 * transposed to channels-last, with the same upstream gradient: pairs [first, last] of
 * (output, input gradient, each weight gradient), the channels-first ones transposed.
 */
function pairs(make: (f: DataFormat) => Layer, shape: number[]): [number[], number[]][] {
  manualSeed(7);
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
  const read = (t: Tensor) => Array.from(t.dataSync());
  const out: [number[], number[]][] = [
    [read(spatialOut ? toLast(ya) : ya), read(yb)],
    [read(toLast(x.grad!)), read(xl.grad!)],
  ];
  const pl = last.parameters();
  first.parameters().forEach((p, i) => out.push([read(p.grad!), read(pl[i].grad!)]));
  return out;
}

describe("dataFormat 'channelsLast' equals 'channelsFirst' after a transpose (cpu): values and gradients", () => {
  for (const [name, make, shape] of CASES) {
    it(name, () => {
      const ps = tidy(() => pairs(make, shape));
      expect(ps.length).toBeGreaterThanOrEqual(2);
      for (const [a, b] of ps) {
        expect(b.length).toBe(a.length);
        a.forEach((v, j) => expect(Math.abs(v - b[j])).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(v))));
      }
    });
  }
});

describe('channels-last layers: gradients by finite differences (float64)', () => {
  const cases: [string, () => Layer, number[]][] = [
    ['Conv2d', () => new Conv2d({ inChannels: 2, outChannels: 3, kernelSize: 2, stride: [1, 2], padding: 1, dataFormat: 'channelsLast', dtype: 'float64' }), [2, 4, 5, 2]],
    ['Conv1d with tanh', () => new Conv1d({ inChannels: 2, outChannels: 2, kernelSize: 3, padding: 'same', activation: 'tanh', dataFormat: 'channelsLast', dtype: 'float64' }), [2, 5, 2]],
    ['AvgPool2d', () => new AvgPool2d({ kernelSize: 2, dataFormat: 'channelsLast' }), [1, 4, 4, 3]],
    ['MaxPool1d', () => new MaxPool1d({ kernelSize: 2, dataFormat: 'channelsLast' }), [2, 6, 2]],
  ];
  for (const [name, make, shape] of cases) {
    it(name, () => {
      manualSeed(9);
      const layer = make();
      const x = randn(shape, { dtype: 'float64' });
      const g = randn(layer.forward(x).shape, { dtype: 'float64' });
      gradcheckLayer(layer, [x], (xi) => layer.forward(xi).mul(g).sum());
    });
  }
});
