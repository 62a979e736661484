import { grad, noGrad } from '@ml/autograd';
import { lossSurface, type TopLevelSpec } from '@ml/plot';
import { fromArray, manualSeed, rand, randn, randperm, tensor, tidy, type Tensor } from '@ml/tensor';
import { leastSquares } from './linalg.js';

export interface PathsOptions {
  points: number;
  seed: number;
  /** full-batch gradient-descent steps (SGD and mini-batch run as many epochs as fit in the same number of updates) */
  steps: number;
}

export interface Descent {
  name: string;
  /** (w, b) after every update, starting point first */
  path: [number, number][];
  w: number;
  b: number;
  loss: number;
  updates: number;
}

export interface PathsResult {
  /** w = Σ(x−x̄)(y−ȳ)/Σ(x−x̄)², b = ȳ − w·x̄ */
  formula: { w: number; b: number };
  /** the normal equations [x 1]ᵀ[x 1] θ = [x 1]ᵀy */
  normal: { w: number; b: number };
  descents: Descent[];
  chart: TopLevelSpec;
}

/**
 * The notes' comparison on one line fit y = 2x + 1 + noise, x ∈ [−1, 1): the closed form
 * (two ways) against full-batch gradient descent, SGD (one point per update) and mini-batch
 * (16 points), all from (w, b) = (−4, 4) with gradients from autograd, drawn as paths on
 * the MSE surface.
 */
export function descentPaths(o: PathsOptions): PathsResult {
  manualSeed(o.seed);
  const n = o.points;
  const xs = Array.from(rand([n]).mul(2).sub(1).dataSync());
  const noise = randn([n]).dataSync();
  const ys = xs.map((x, i) => 2 * x + 1 + 0.3 * noise[i]);
  const mx = xs.reduce((a, b) => a + b) / n;
  const my = ys.reduce((a, b) => a + b) / n;
  const w = xs.reduce((s, x, i) => s + (x - mx) * (ys[i] - my), 0) / xs.reduce((s, x) => s + (x - mx) ** 2, 0);
  const formula = { w, b: my - w * mx };
  const ls = leastSquares(
    xs.map((x) => [x]),
    ys,
  );
  const normal = { w: ls.w[0], b: ls.b };

  const X = fromArray(Float64Array.from(xs), [n], { dtype: 'float64' }).keep();
  const Y = fromArray(Float64Array.from(ys), [n], { dtype: 'float64' }).keep();
  const mseAt = (pw: number, pb: number) => xs.reduce((s, x, i) => s + (pw * x + pb - ys[i]) ** 2, 0) / n;
  const run = (name: string, batch: number, lr: number, updates: number): Descent => {
    const p = { w: tensor(-4, { dtype: 'float64' }), b: tensor(4, { dtype: 'float64' }) };
    const path: [number, number][] = [[-4, 4]];
    let order: number[] = [];
    for (let u = 0; u < updates; u++) {
      tidy(() => {
        let xb: Tensor = X;
        let yb: Tensor = Y;
        if (batch < n) {
          if (order.length < batch) order = Array.from(randPermutation(n));
          const idx = fromArray(Int32Array.from(order.splice(0, batch)), [batch], { dtype: 'int32' });
          xb = X.indexSelect(0, idx);
          yb = Y.indexSelect(0, idx);
        }
        const g = grad((q: { w: Tensor; b: Tensor }) => xb.mul(q.w).add(q.b).sub(yb).square().mean())(p);
        noGrad(() => {
          p.w.assign(p.w.sub(g.w.mul(lr)));
          p.b.assign(p.b.sub(g.b.mul(lr)));
        });
      });
      path.push([p.w.item(), p.b.item()]);
    }
    const [fw, fb] = path[path.length - 1];
    return { name, path, w: fw, b: fb, loss: mseAt(fw, fb), updates };
  };
  const descents = [run('gradient descent', n, 0.5, o.steps), run('SGD (batch 1)', 1, 0.05, o.steps), run('mini-batch (16)', 16, 0.2, o.steps)];
  X.dispose();
  Y.dispose();

  // thin long paths so the chart stays light
  const thin = (path: [number, number][]) => path.filter((_, i) => i % Math.max(1, Math.floor(path.length / 150)) === 0 || i === path.length - 1);
  const chart = lossSurface({
    f: mseAt,
    wRange: [-5, 5],
    bRange: [-3, 5],
    logScale: true,
    paths: descents.map((d) => ({ name: d.name, points: thin(d.path) })),
    title: 'MSE of y = w·x + b, and each optimizer’s path from (−4, 4)',
  });
  return { formula, normal, descents, chart };
}

function randPermutation(n: number): Int32Array {
  return tidy(() => Int32Array.from(randperm(n).dataSync()));
}
