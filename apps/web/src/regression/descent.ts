/**
 * The regression playground's math (no DOM): a noisy line, its mean squared error over
 * (w, b), and gradient descent on it with gradients from @ml/autograd, one update at a time
 * so the page can draw each step.
 */
import { grad } from '@ml/autograd';
import { fromArray, Generator, manualSeed, rand, randn, tensor, tidy, type Tensor } from '@ml/tensor';

export interface LineData {
  xs: Float64Array;
  ys: Float64Array;
}

/** n points of y = 2x + 1 + 0.3·ε, x uniform on [−1, 1), ε standard normal (seeded). */
export function makeLine(n = 64, seed = 1): LineData {
  manualSeed(seed);
  const x = rand([n]).dataSync();
  const e = randn([n]).dataSync();
  const xs = Float64Array.from(x, (v) => 2 * v - 1);
  const ys = Float64Array.from(xs, (v, i) => 2 * v + 1 + 0.3 * e[i]);
  return { xs, ys };
}

/** L(w, b) = (1/n) Σ (w·xᵢ + b − yᵢ)² */
export function mse(d: LineData, w: number, b: number): number {
  let s = 0;
  for (let i = 0; i < d.xs.length; i++) s += (w * d.xs[i] + b - d.ys[i]) ** 2;
  return s / d.xs.length;
}

/** The minimum: w = Σ(x−x̄)(y−ȳ) / Σ(x−x̄)², b = ȳ − w·x̄. */
export function closedForm(d: LineData): { w: number; b: number } {
  const n = d.xs.length;
  const mx = d.xs.reduce((a, v) => a + v, 0) / n;
  const my = d.ys.reduce((a, v) => a + v, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (d.xs[i] - mx) * (d.ys[i] - my);
    sxx += (d.xs[i] - mx) ** 2;
  }
  const w = sxy / sxx;
  return { w, b: my - w * mx };
}

/**
 * The largest rate at which full-batch gradient descent converges: 2/λmax, where
 * λmax = E x² + 1 + √((E x² − 1)² + 4 (E x)²) is the larger eigenvalue of the MSE's
 * Hessian 2·[[E x², E x], [E x, 1]]. Above it the iterates grow without bound.
 */
export function largestStableRate(d: LineData): number {
  const n = d.xs.length;
  const xx = d.xs.reduce((a, v) => a + v * v, 0) / n;
  const x1 = d.xs.reduce((a, v) => a + v, 0) / n;
  return 2 / (xx + 1 + Math.sqrt((xx - 1) ** 2 + 4 * x1 * x1));
}


export const START: readonly [number, number] = [-4, 4];

/** A loss above this many times the starting loss counts as diverged (before it overflows). */
const DIVERGENCE_FACTOR = 1e6;

/**
 * Descent on the MSE with `batch` points per update: all of them is gradient descent, one
 * is SGD, in between mini-batch. Each epoch visits the points in a new shuffled order.
 */
export class Descent {
  readonly path: [number, number][] = [[START[0], START[1]]];
  w = START[0];
  b = START[1];
  loss: number;
  /** the update at which the loss left every bound (NaN, ∞ or 10⁶× the start), if it did */
  divergedAt: number | undefined;
  private order: number[] = [];
  private readonly random: () => number;
  private readonly startLoss: number;

  constructor(
    readonly name: string,
    readonly data: LineData,
    readonly batch: number,
    seed = 1,
  ) {
    const g = new Generator(seed);
    this.random = () => g.random();
    this.loss = this.startLoss = mse(data, this.w, this.b);
  }

  get updates(): number {
    return this.path.length - 1;
  }

  private nextBatch(): number[] {
    const n = this.data.xs.length;
    if (this.batch >= n) return Array.from({ length: n }, (_, i) => i);
    if (this.order.length < this.batch) {
      const perm = Array.from({ length: n }, (_, i) => i);
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(this.random() * (i + 1));
        [perm[i], perm[j]] = [perm[j], perm[i]];
      }
      this.order = perm;
    }
    return this.order.splice(0, this.batch);
  }

  /** One update θ ← θ − lr·∇L_batch(θ), the gradient from autograd; false once diverged. */
  step(lr: number): boolean {
    if (this.divergedAt !== undefined) return false;
    const idx = this.nextBatch();
    const x = fromArray(Float64Array.from(idx, (i) => this.data.xs[i]), [idx.length], { dtype: 'float64' });
    const y = fromArray(Float64Array.from(idx, (i) => this.data.ys[i]), [idx.length], { dtype: 'float64' });
    const [gw, gb] = tidy(() => {
      const loss = (p: { w: Tensor; b: Tensor }) => x.mul(p.w).add(p.b).sub(y).pow(2).mean();
      const g = grad(loss)({ w: tensor(this.w, { dtype: 'float64' }), b: tensor(this.b, { dtype: 'float64' }) });
      return [g.w.item(), g.b.item()];
    });
    x.dispose();
    y.dispose();
    this.w -= lr * gw;
    this.b -= lr * gb;
    this.path.push([this.w, this.b]);
    this.loss = mse(this.data, this.w, this.b);
    if (!Number.isFinite(this.loss) || this.loss > DIVERGENCE_FACTOR * Math.max(1, this.startLoss)) this.divergedAt = this.updates;
    return this.divergedAt === undefined;
  }
}
