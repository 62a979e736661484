import '@ml/autograd';
import { CHANNELS_LAST_CASES, channelsLastPairs } from '@ml/nn/testing';
import { describe, expect, it } from 'vitest';
import { registerWasmBackend } from '../src/index.js';

// @ml/nn/testing's cases, which the nn package runs on cpu, on this backend.
registerWasmBackend();

describe("dataFormat 'channelsLast' equals 'channelsFirst' after a transpose (wasm): values and gradients", () => {
  for (const [name, make, shape] of CHANNELS_LAST_CASES) {
    it(name, async () => {
      const ps = await channelsLastPairs('wasm', make, shape);
      expect(ps.length).toBeGreaterThanOrEqual(2);
      for (const [a, b] of ps) {
        expect(b.length).toBe(a.length);
        a.forEach((v, j) => expect(Math.abs(v - b[j])).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(v))));
      }
    });
  }
});
