/** Differential op: the fused Adam step against its composite. */
import fc from 'fast-check';
import { add, div, getBackend, mul, sub, sqrt as sqrtOp } from '@ml/tensor';
import { fromData, type AdamStep } from '@ml/tensor/backend';
import { operand, size } from './arbitraries.js';
import { defineOp } from './runner.js';
import { cases } from './ops-common.js';

type AdamAttrs = AdamStep;

/** The 'adamUpdate' kernel a backend registers (wasm, webgpu): p, and m and v updated in place, against the formula in float64. */
export const adamOp = defineOp({
  name: 'adamUpdate (the fused Adam kernel; p, m and v)',
  runs: 25,
  grad: false,
  available: (backend) => getBackend(backend).adamUpdate !== undefined,
  cases: cases(
    fc.record({
      n: size([1, 3, 4, 5, 8, 1023, 1024, 1025, 9363, 9364, 40000], 0, 64),
      b1: fc.constantFrom(0.9, 0.8, 0.99),
      b2: fc.constantFrom(0.999, 0.9, 0.9999),
      t: fc.integer({ min: 1, max: 1000 }),
      eps: fc.constantFrom(1e-8, 1e-6, 1e-3),
      lr: fc.constantFrom(1e-3, 0.1),
      wd: fc.constantFrom(0, 0.01),
      decoupled: fc.boolean(),
      maximize: fc.boolean(),
    }),
    (s) => {
      const attrs: AdamAttrs = {
        b1: s.b1,
        b2: s.b2,
        sbc2: Math.sqrt(1 - s.b2 ** s.t),
        eps: s.eps,
        stepSize: s.lr / (1 - s.b1 ** s.t),
        decay: s.decoupled ? 1 - s.lr * s.wd : 1,
        l2: s.decoupled ? 0 : s.wd,
        sign: s.maximize ? -1 : 1,
      };
      const flat = { perm: 0, expand: 0, slice: 0, step: 0, offset: 3 };
      return { operands: [operand([s.n], 'float', { layout: flat }), operand([s.n], 'float', { layout: flat }), operand([s.n], 'float', { layout: flat }), operand([s.n], 'positive', { layout: flat })], attrs };
    },
  ),
  run: ([p, g, m, v], attrs, ctx) => {
    const b = getBackend(ctx.backend);
    const data = b.adamUpdate?.(p.view_(), g.view_(), m.view_(), v.view_(), attrs) ?? null;
    return data === null ? null : [fromData(b, data, p.shape, p.dtype), m, v];
  },
  reference: ([p, g, m, v], a) => {
    const d = a.l2 === 0 ? mul(g, a.sign) : add(mul(g, a.sign), mul(p, a.l2));
    const m2 = add(mul(m, a.b1), mul(d, 1 - a.b1));
    const v2 = add(mul(v, a.b2), mul(mul(d, d), 1 - a.b2));
    const out = sub(mul(p, a.decay), mul(div(m2, add(div(sqrtOp(v2), a.sbc2), a.eps)), a.stepSize));
    return [out, m2, v2];
  },
  tol: { rtol: 1e-5, atol: 1e-6, scale: 1e-6 },
});
