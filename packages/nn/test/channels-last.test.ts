import '@ml/autograd';
import { manualSeed, randn } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { gradcheckLayer } from './helpers.js';
import { AvgPool2d, Conv1d, Conv2d, MaxPool1d, type Layer } from '../src/index.js';
import { CHANNELS_LAST_CASES, channelsLastPairs } from '../src/testing.js';

// @ml/nn/testing's cases; the wasm and webgpu packages run the same ones on their backends.

describe("dataFormat 'channelsLast' equals 'channelsFirst' after a transpose (cpu): values and gradients", () => {
  for (const [name, make, shape] of CHANNELS_LAST_CASES) {
    it(name, async () => {
      const ps = await channelsLastPairs('cpu', make, shape);
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
