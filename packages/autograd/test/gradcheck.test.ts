import { readFileSync } from 'node:fs';
import * as T from '@ml/tensor';
import { getOpDef, opDefs } from '@ml/tensor/backend';
import { describe, expect, it } from 'vitest';
import { gradcheck, gradgradcheck } from '../src/index.js';
import { opCases } from './op-cases.js';

describe('gradcheck: every differentiable op against central differences (float64)', () => {
  opCases.forEach((c, i) => {
    it(`${c.op}: ${c.what}`, () => {
      T.manualSeed(1000 + i);
      const inputs = c.inputs();
      const r = gradcheck(c.fn, inputs, { atol: c.atol ?? 1e-6, rtol: 1e-4, eps: c.eps ?? 1e-6 });
      expect(r.ok).toBe(true);
      if (c.second !== false) {
        const r2 = gradgradcheck(c.fn, inputs, { atol: 1e-5, rtol: 1e-3, eps: 1e-6 });
        expect(r2.ok).toBe(true);
      }
    });
  });
});

describe('gradcheck itself', () => {
  it('catches a wrong gradient rule', () => {
    const def = getOpDef('sin');
    const saved = def.grad;
    // a deliberately wrong derivative: d sin = +sin instead of cos
    def.grad = (dy, node) => [T.mul(dy, T.sin(node.inputs[0]))];
    try {
      expect(() => gradcheck((x) => T.sin(x), [T.tensor([0.3, 1.2], { dtype: 'float64' })])).toThrow(/gradcheck: Jacobian mismatch/);
    } finally {
      def.grad = saved;
    }
  });
  it('returns a report instead of throwing when asked', () => {
    const def = getOpDef('exp');
    const saved = def.grad;
    def.grad = (dy) => [dy];
    try {
      const r = gradcheck((x) => T.exp(x), [T.tensor([1], { dtype: 'float64' })], { raiseException: false });
      expect(r.ok).toBe(false);
      expect(r.maxAbsError).toBeCloseTo(Math.E - 1, 5);
    } finally {
      def.grad = saved;
    }
  });
});

describe('gradient table coverage', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  it('every gradient rule is exercised by a gradcheck case', () => {
    // rules that composites reach through the user-facing op named on the right
    const via: Record<string, string[]> = {
      sign: ['abs'], floor: [], ceil: [], round: [], cast: ['cast'], reshape: ['reshape', 'squeeze', 'flatten'],
      slice: ['narrow', 'select', 'index'], im2col: ['conv2d', 'conv1d', 'maxPool2d'], col2im: ['conv2d'],
      eighValues: ['eigvalsh'], eighVectors: ['eigh'],
    };
    const covered = new Set(opCases.map((c) => c.op));
    const rules = opDefs().filter((d) => d.grad !== undefined).map((d) => d.name);
    const missing = rules.filter((r) => !covered.has(r) && !(via[r] ?? []).some((o) => covered.has(o)) && via[r]?.length !== 0);
    expect(missing).toEqual([]);
  });
  it("the README's gradient table lists every case", () => {
    for (const c of opCases) expect(readme).toContain(`| \`${c.op}\` | ${c.what} |`);
  });
});
