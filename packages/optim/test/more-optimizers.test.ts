import '@ml/autograd';
import { memory, tensor, type Tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { AMSBound, AdaBound, Adam, AdamW, Lookahead, RAdam, SGD, SWATS, StepLR, type Optimizer } from '../src/index.js';
import { A, bq, quadratic, rosenbrock, run } from './helpers.js';

// The reference steps below are written out in plain arithmetic from each paper's
// update rule (the form PyTorch or the authors' code uses), independent of the tensor code.

type Vec = number[];
// ∇f = (−2(1 − x) − 400x(y − x²), 200(y − x²))
const rosenbrockGrad = ([x, y]: Vec): Vec => [-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)];
// ∇(½zᵀAz − bᵀz) = Az − b (A symmetric)
const quadraticGrad = (z: Vec): Vec => A.map((row, i) => row[0] * z[0] + row[1] * z[1] - bq[i]);

const problems = [
  { name: 'rosenbrock', f: rosenbrock, grad: rosenbrockGrad, start: [-1.5, 2] },
  { name: 'quadratic', f: quadratic, grad: quadraticGrad, start: [1, 1] },
];


/** Compare the tensor optimizer with a reference stepper for `steps` steps, to 1e-12 relative. */
function matches(make: (z: Tensor) => Optimizer, reference: (z: Vec, g: Vec, t: number) => Vec, steps: number): void {
  for (const pb of problems) {
    const z = tensor(pb.start, { dtype: 'float64', requiresGrad: true });
    const opt = make(z);
    let ref = [...pb.start];
    run(opt, z, pb.f, steps, (i) => {
      ref = reference(ref, pb.grad(ref), i + 1);
      const got = Array.from(z.dataSync());
      ref.forEach((v, j) => expect(Math.abs(got[j] - v), `${pb.name} step ${i + 1}`).toBeLessThan(1e-12 * Math.max(1, Math.abs(v))));
    });
  }
}

describe('RAdam, AdaBound, AMSBound, SWATS, Lookahead match hand-written reference steps (float64, 1e-12)', () => {
  it('RAdam: SGD-with-momentum steps while ρₜ ≤ 5 (t ≤ 5 for β₂ = 0.999), rectified Adam after', () => {
    const lr = 0.002;
    const [b1, b2, eps] = [0.9, 0.999, 1e-8];
    let m = [0, 0];
    let v = [0, 0];
    const rhoInf = 2 / (1 - b2) - 1;
    let rectifiedSteps = 0;
    matches(
      (z) => new RAdam([z], { lr }),
      (z, g, t) => {
        m = m.map((mi, i) => b1 * mi + (1 - b1) * g[i]);
        v = v.map((vi, i) => b2 * vi + (1 - b2) * g[i] ** 2);
        if (t === 1) {
          m = g.map((gi) => (1 - b1) * gi);
          v = g.map((gi) => (1 - b2) * gi ** 2);
        }
        const mHat = m.map((mi) => mi / (1 - b1 ** t));
        const rho = rhoInf - (2 * t * b2 ** t) / (1 - b2 ** t);
        if (rho <= 5) return z.map((zi, i) => zi - lr * mHat[i]);
        rectifiedSteps++;
        const r = Math.sqrt(((rho - 4) * (rho - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rho));
        return z.map((zi, i) => zi - lr * mHat[i] * r * (Math.sqrt(1 - b2 ** t) / (Math.sqrt(v[i]) + eps)));
      },
      10,
    );
    expect(rectifiedSteps).toBe(2 * 5); // steps 6–10 of each problem used the rectified rule
  });

  for (const ams of [false, true]) {
    it(`${ams ? 'AMSBound' : 'AdaBound'}: Adam's per-element rate clipped to [ηf(1 − 1/(γt+1)), ηf(1 + 1/(γt))]`, () => {
      // large γ so that the bounds bite within a few steps
      const [lr, finalLr, gamma, b1, b2, eps] = [0.01, 0.001, 0.5, 0.9, 0.999, 1e-8];
      let m = [0, 0];
      let v = [0, 0];
      let vMax = [0, 0];
      let clipped = 0;
      matches(
        (z) => (ams ? new AMSBound([z], { lr, finalLr, gamma }) : new AdaBound([z], { lr, finalLr, gamma })),
        (z, g, t) => {
          if (t === 1) m = v = vMax = [0, 0];
          m = m.map((mi, i) => b1 * mi + (1 - b1) * g[i]);
          v = v.map((vi, i) => b2 * vi + (1 - b2) * g[i] ** 2);
          vMax = vMax.map((x, i) => Math.max(x, v[i]));
          const vUse = ams ? vMax : v;
          const step = (lr * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t);
          const lo = finalLr * (1 - 1 / (gamma * t + 1));
          const hi = finalLr * (1 + 1 / (gamma * t));
          return z.map((zi, i) => {
            const raw = step / (Math.sqrt(vUse[i]) + eps);
            const rate = Math.min(hi, Math.max(lo, raw));
            if (rate !== raw) clipped++;
            return zi - rate * m[i];
          });
        },
        8,
      );
      expect(clipped).toBeGreaterThan(0);
    });
  }

  it('AdaBound: the final rate follows a schedule (ηf = finalLr · lr / initial lr)', () => {
    const z = tensor([1, 1], { dtype: 'float64', requiresGrad: true });
    const opt = new AdaBound([z], { lr: 0.1, finalLr: 0.2, gamma: 1 });
    const sched = new StepLR(opt, { stepSize: 1, gamma: 0.5 });
    run(opt, z, quadratic, 1);
    sched.step(); // lr 0.05 → ηf = 0.1, bounds at t = 2: [0.1·(1 − 1/3), 0.1·1.5]
    const before = Array.from(z.dataSync());
    const st = opt.state.get(z) as { expAvg: Tensor; expAvgSq: Tensor };
    const g = quadraticGrad(before);
    const m = Array.from(st.expAvg.dataSync()).map((mi, i) => 0.9 * mi + 0.1 * g[i]);
    const v = Array.from(st.expAvgSq.dataSync()).map((vi, i) => 0.999 * vi + 0.001 * g[i] ** 2);
    run(opt, z, quadratic, 1);
    const step = (0.05 * Math.sqrt(1 - 0.999 ** 2)) / (1 - 0.9 ** 2);
    const want = before.map((zi, i) => zi - Math.min(0.15, Math.max(0.1 * (2 / 3), step / (Math.sqrt(v[i]) + 1e-8))) * m[i]);
    Array.from(z.dataSync()).forEach((x, i) => expect(x).toBeCloseTo(want[i], 12));
  });

  it('SWATS: Adam steps, λ tracks pᵀp/(−pᵀg), then SGD at the rate it settled on', () => {
    // f(z) = 3z has a constant gradient, so Adam's implied SGD rate γ is the same every
    // step and the bias-corrected λ equals it from t = 2: SWATS switches after step 2.
    const lr = 0.1;
    const [b1, b2, eps] = [0.9, 0.999, 1e-9];
    const z = tensor([2], { dtype: 'float64', requiresGrad: true });
    const opt = new SWATS([z], { lr });
    let ref = 2;
    let m = 0;
    let v = 0;
    let lam = 0;
    let sgdLr: number | undefined;
    let buf = 0;
    const g = 3;
    for (let t = 1; t <= 6; t++) {
      run(opt, z, (w) => w.mul(3).sum(), 1);
      if (sgdLr === undefined) {
        m = b1 * m + (1 - b1) * g;
        v = b2 * v + (1 - b2) * g * g;
        const p = (-lr * (m / (1 - b1 ** t))) / (Math.sqrt(v / (1 - b2 ** t)) + eps);
        const gamma = (p * p) / (-p * g);
        lam = b2 * lam + (1 - b2) * gamma;
        if (t > 1 && Math.abs(lam / (1 - b2 ** t) - gamma) < eps) sgdLr = lam / (1 - b2 ** t);
        ref += p;
      } else {
        buf = b1 * buf + g;
        ref -= (1 - b1) * sgdLr * buf;
      }
      expect(z.item(), `step ${t}`).toBeCloseTo(ref, 12);
      expect(opt.switched, `step ${t}`).toBe(t >= 2);
    }
    expect(opt.state.get(z)?.sgdLr).toBeCloseTo(sgdLr as number, 14);
    expect(sgdLr).toBeCloseTo(lr / (3 + eps), 12); // γ = η·m̂/((√v̂ + ε)g) with m̂ = g = 3
  });

  it('SWATS before switching is exactly Adam (no weight decay)', () => {
    const za = tensor([-1.5, 2], { dtype: 'float64', requiresGrad: true });
    const zb = tensor([-1.5, 2], { dtype: 'float64', requiresGrad: true });
    const s = new SWATS([za], { lr: 0.01, eps: 1e-8 });
    const a = new Adam([zb], { lr: 0.01, eps: 1e-8 });
    run(s, za, rosenbrock, 20);
    run(a, zb, rosenbrock, 20);
    expect(s.switched).toBe(false);
    Array.from(za.dataSync()).forEach((x, i) => expect(x).toBeCloseTo(zb.dataSync()[i], 12));
  });

  it('Lookahead(SGD, k = 3, α = 0.5): every 3rd step φ ← φ + α(θ − φ), θ ← φ', () => {
    const [lr, k, alpha] = [1e-3, 3, 0.5];
    let slow: Vec = [];
    matches(
      (z) => new Lookahead(new SGD([z], { lr }), { k, alpha }),
      (z, g, t) => {
        if (t === 1) slow = [...z];
        const fast = z.map((zi, i) => zi - lr * g[i]);
        if (t % k !== 0) return fast;
        slow = slow.map((s, i) => s + alpha * (fast[i] - s));
        return [...slow];
      },
      9,
    );
  });
});

describe('each minimizes Rosenbrock from (−1.5, 2) to within 1e-2 of (1, 1)', () => {
  const cases: [string, (z: Tensor) => Optimizer, number][] = [
    ['RAdam (lr 2e-3, 12,000 steps)', (z) => new RAdam([z], { lr: 2e-3 }), 12000],
    ['AdaBound (lr 0.02, finalLr 1e-3, 12,000 steps)', (z) => new AdaBound([z], { lr: 0.02, finalLr: 1e-3 }), 12000],
    ['AMSBound (lr 0.02, finalLr 1e-3, 12,000 steps)', (z) => new AMSBound([z], { lr: 0.02, finalLr: 1e-3 }), 12000],
    ['SWATS (lr 0.01, 6,000 steps; stays in its Adam phase here)', (z) => new SWATS([z], { lr: 0.01 }), 6000],
    ['Lookahead(Adam lr 0.02) (3,000 steps)', (z) => new Lookahead(new Adam([z], { lr: 0.02 })), 3000],
    ['Lookahead(SGD lr 1e-3, momentum 0.9) (6,000 steps)', (z) => new Lookahead(new SGD([z], { lr: 1e-3, momentum: 0.9 })), 6000],
  ];
  for (const [name, make, steps] of cases) {
    it(name, () => {
      const z = tensor([-1.5, 2], { dtype: 'float64', requiresGrad: true });
      run(make(z), z, rosenbrock, steps);
      const [x, y] = z.dataSync();
      expect(Math.hypot(x - 1, y - 1)).toBeLessThan(1e-2);
    });
  }
});

describe('Lookahead wrapping', () => {
  it('shares the inner groups (a schedule on the wrapper changes the inner rate)', () => {
    const z = tensor([1, 2], { requiresGrad: true });
    const inner = new Adam([z], { lr: 0.1 });
    const la = new Lookahead(inner);
    const s = new StepLR(la, { stepSize: 1, gamma: 0.5 });
    s.step();
    expect(inner.paramGroups[0].lr).toBeCloseTo(0.05, 12);
  });
  it('state dicts round-trip: a restored Lookahead continues exactly', () => {
    const za = tensor([-1.5, 2], { dtype: 'float64', requiresGrad: true });
    const a = new Lookahead(new Adam([za], { lr: 0.01 }), { k: 4 });
    run(a, za, rosenbrock, 6);
    const zb = tensor(Array.from(za.dataSync()), { dtype: 'float64', requiresGrad: true });
    const b = new Lookahead(new Adam([zb], { lr: 0.01 }), { k: 4 });
    b.loadStateDict(a.stateDict());
    run(a, za, rosenbrock, 5);
    run(b, zb, rosenbrock, 5);
    expect(Array.from(zb.dataSync())).toEqual(Array.from(za.dataSync()));
  });
  it('bad options and memory', () => {
    const z = tensor([1], { requiresGrad: true });
    expect(() => new Lookahead(new SGD([z]), { k: 0 })).toThrow(/Lookahead: k must be an integer ≥ 1, got 0/);
    expect(() => new Lookahead(new SGD([z]), { alpha: 1.5 })).toThrow(/Lookahead: invalid alpha 1.5/);
    expect(() => new AdaBound([z], { finalLr: 0 })).toThrow(/AdaBound: invalid finalLr 0/);
    expect(() => new RAdam([z], { betas: [0.9, 1] })).toThrow(/RAdam: invalid beta2 1/);
    expect(() => new SWATS([z], { lr: -1 })).toThrow(/SWATS: invalid learning rate -1/);
    const w = tensor([-1.5, 2], { dtype: 'float64', requiresGrad: true });
    for (const opt of [new Lookahead(new Adam([w], { lr: 0.01 }), { k: 3 }), new AMSBound([w]), new RAdam([w]), new SWATS([w])]) {
      run(opt, w, rosenbrock, 3);
      const before = memory().numTensors;
      run(opt, w, rosenbrock, 50);
      expect(memory().numTensors, opt.constructor.name).toBe(before);
    }
  });
});

describe('the fused Adam loop (parameters of ≥ 1,024 elements on cpu/wasm) equals the op-by-op path', () => {
  // f(z) = Σ ½cᵢzᵢ² − bᵢzᵢ is separable, so element i of a 2,000-element parameter follows
  // exactly the trajectory of a one-element parameter (which takes the op-by-op path)
  const n = 2000;
  const c = Array.from({ length: n }, (_, i) => 0.5 + (i % 7));
  const bb = Array.from({ length: n }, (_, i) => Math.sin(i));
  const start = Array.from({ length: n }, (_, i) => Math.cos(3 * i));
  const cases: [string, (z: Tensor) => Optimizer][] = [
    ['Adam', (z) => new Adam([z], { lr: 0.05 })],
    ['Adam + L2 + amsgrad + maximize', (z) => new Adam([z], { lr: 0.05, weightDecay: 0.1, amsgrad: true, maximize: true })],
    ['AdamW', (z) => new AdamW([z], { lr: 0.05, weightDecay: 0.1 })],
  ];
  for (const [name, make] of cases) {
    it(name, () => {
      const z = tensor(start, { dtype: 'float64', requiresGrad: true });
      const C = tensor(c, { dtype: 'float64' });
      const B = tensor(bb, { dtype: 'float64' });
      const big = make(z);
      run(big, z, (w) => w.square().mul(C).mul(0.5).sub(w.mul(B)).sum(), 5);
      const got = z.dataSync();
      for (const i of [0, 1, 2, 999, 1999]) {
        const zi = tensor([start[i]], { dtype: 'float64', requiresGrad: true });
        const small = make(zi);
        run(small, zi, (w) => w.square().mul(c[i]).mul(0.5).sub(w.mul(bb[i])).sum(), 5);
        expect(Math.abs(got[i] - zi.item()), `element ${i}`).toBeLessThan(1e-13);
      }
    });
  }
});
