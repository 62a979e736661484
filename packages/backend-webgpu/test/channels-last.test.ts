import '@ml/autograd';
import { CHANNELS_LAST_CASES, channelsLastPairs } from '@ml/nn/testing';
import { describe, expect, it } from 'vitest';
import { gpu } from './gpu.js';

// @ml/nn/testing's cases, which the nn package runs on cpu, on this backend (a software GPU
// in CI, none on some machines: then skipped, as the other tests here).
const maybe = gpu === null ? describe.skip : describe;

maybe("dataFormat 'channelsLast' equals 'channelsFirst' after a transpose (webgpu): values and gradients", () => {
  for (const [name, make, shape] of CHANNELS_LAST_CASES) {
    it(name, async () => {
      const ps = await channelsLastPairs('webgpu', make, shape);
      expect(ps.length).toBeGreaterThanOrEqual(2);
      for (const [a, b] of ps) {
        expect(b.length).toBe(a.length);
        a.forEach((v, j) => expect(Math.abs(v - b[j])).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(v))));
      }
    });
  }
});
