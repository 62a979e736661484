import { describe, expect, it } from 'vitest';
import { firstOverLast, gradientNorms, vanishing } from '../src/vanishing.js';

describe('vanishing gradients at initialization (10 layers)', () => {
  it("sigmoid: the first layer's gradient norm is orders of magnitude below the last layer's", () => {
    const norms = gradientNorms('sigmoid', { depth: 10, width: 32, batch: 32, seed: 1 });
    expect(norms).toHaveLength(10);
    expect(firstOverLast(norms)).toBeLessThan(1e-3);
    // and it shrinks layer after layer going back
    for (let l = 0; l < 8; l++) expect(norms[l]).toBeLessThan(norms[l + 1]);
  });
  it('ReLU with He init: first and last layer within a factor of 10', () => {
    const norms = gradientNorms('relu', { depth: 10, width: 32, batch: 32, seed: 1 });
    const r = firstOverLast(norms);
    expect(r).toBeGreaterThan(0.1);
    expect(r).toBeLessThan(10);
  });
  it('a 2-layer sigmoid network has no such gap (the effect is the depth)', () => {
    const r = firstOverLast(gradientNorms('sigmoid', { depth: 2, width: 32, batch: 32, seed: 1 }));
    expect(r).toBeGreaterThan(0.05);
  });
  it('charts both series on a log axis', () => {
    const r = vanishing({ depth: 4, width: 8, batch: 8 });
    expect(r.sigmoid).toHaveLength(4);
    expect(JSON.stringify(r.chart)).toMatch(/"type":"log"/);
  });
});
