import { describe, expect, it } from 'vitest';
import { depthSweep } from '../src/sweep.js';

describe('the hidden-layer sweep', () => {
  it('a deep ReLU network fits the training noise that a shallow one cannot, and generalizes worse relative to its fit', () => {
    const noise = 0.3;
    const { results, chart } = depthSweep({ depths: [1, 4], width: 32, steps: 800, noise, seed: 42 });
    const [shallow, deep] = results;
    expect(deep.train).toBeLessThan(shallow.train / 2);
    // below the noise variance on the training set: it has learnt the noise …
    expect(deep.train).toBeLessThan(noise * noise);
    expect(shallow.train).toBeGreaterThan(noise * noise);
    // … which the held-out set does not share: its held-out error is several times its training error
    expect(deep.heldOut / deep.train).toBeGreaterThan(2 * (shallow.heldOut / shallow.train));
    expect(deep.heldOut).toBeGreaterThan(noise * noise);
    // parameter counts: 1·32 + 32 + 32·1 + 1 = 97; plus 3 × (32·32 + 32)
    expect([shallow.parameters, deep.parameters]).toEqual([97, 97 + 3 * (32 * 32 + 32)]);
    expect(JSON.stringify(chart)).toMatch(/held-out/);
  });
});
