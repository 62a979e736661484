import { grad } from '@ml/autograd';
import { add, manualSeed, mean, mul, noGrad, rand, randn, sub, sum, tensor, tidy, type Tensor } from './deps.js';

export interface LineOptions {
  /** true slope and intercept of the generated data */
  slope: number;
  intercept: number;
  /** points and noise standard deviation */
  points: number;
  noise: number;
  /** gradient-descent steps and learning rate */
  steps: number;
  lr: number;
  seed: number;
}

export interface LineResult {
  gd: { w: number; b: number; loss: number };
  closedForm: { w: number; b: number };
}

/** y = slope·x + intercept + noise, x uniform on [-1, 1). */
export function makeLine(o: LineOptions): { x: Tensor; y: Tensor } {
  manualSeed(o.seed);
  const x = sub(mul(rand([o.points]), 2), 1);
  const y = add(add(mul(x, o.slope), o.intercept), mul(randn([o.points]), o.noise));
  return { x, y };
}

/**
 * Fit ŷ = w·x + b to minimize the mean squared error, by gradient descent with the
 * gradient from autograd, and in closed form: w = Σ(x−x̄)(y−ȳ) / Σ(x−x̄)², b = ȳ − w·x̄.
 */
export function fitLine(o: LineOptions, onStep?: (step: number, loss: number) => void): LineResult {
  const { x, y } = makeLine(o);
  const loss = (p: { w: Tensor; b: Tensor }) => mean(sub(add(mul(x, p.w), p.b), y).pow(2));
  const params = { w: tensor(0), b: tensor(0) };
  for (let step = 1; step <= o.steps; step++) {
    tidy(() => {
      const g = grad(loss)(params);
      noGrad(() => {
        params.w.assign(sub(params.w, mul(g.w, o.lr)));
        params.b.assign(sub(params.b, mul(g.b, o.lr)));
      });
      if (onStep && (step % Math.max(1, Math.floor(o.steps / 10)) === 0 || step === o.steps)) onStep(step, loss(params).item());
    });
    if (!Number.isFinite(params.w.item()) || !Number.isFinite(params.b.item())) {
      // the MSE's Hessian is 2·[[E x², E x], [E x, 1]]; descent is stable only for lr < 2/λmax
      const [xx, x1] = tidy(() => [mean(mul(x, x)).item(), mean(x).item()]);
      const lambdaMax = xx + 1 + Math.sqrt((xx - 1) ** 2 + 4 * x1 * x1);
      throw new Error(
        `line: gradient descent diverged at step ${step} (w and b are no longer finite) with learning rate ${o.lr}; ` +
          `on this data it converges only for a rate below 2/λmax = ${(2 / lambdaMax).toPrecision(3)} (λmax of the loss's Hessian)`,
      );
    }
  }
  const closedForm = tidy(() => {
    const dx = sub(x, mean(x));
    const dy = sub(y, mean(y));
    const w = sum(mul(dx, dy)).div(sum(mul(dx, dx)));
    const b = sub(mean(y), mul(w, mean(x)));
    return { w: w.item(), b: b.item() };
  });
  return { gd: { w: params.w.item(), b: params.b.item(), loss: tidy(() => loss(params).item()) }, closedForm };
}
