import { polynomial } from '@ml/data';
import { scatterWithFit, type TopLevelSpec } from '@ml/plot';
import { leastSquares, mse } from './linalg.js';

export interface PolyOptions {
  seed: number;
  /** highest degree tried (default 12) */
  maxDegree: number;
}

export interface PolyResult {
  /** train and validation MSE of each degree (no penalty) */
  degrees: { degree: number; train: number; val: number }[];
  bestDegree: number;
  /** validation MSE of the highest degree for each λ */
  lambdas: { lambda: number; train: number; val: number }[];
  bestLambda: number;
  /** test MSE: the chosen degree, the highest degree alone, the highest degree with the chosen λ */
  test: { chosenDegree: number; maxDegree: number; maxDegreeL2: number };
  chart: TopLevelSpec;
}

const powers = (x: number, d: number): number[] => Array.from({ length: d }, (_, k) => x ** (k + 1));

/**
 * Polynomial regression on a noisy cubic (30 training, 30 validation, 200 test points):
 * fit degrees 1…maxDegree by least squares, pick the degree with the lowest validation
 * error; then keep the highest degree and pick the L2 penalty λ by validation instead.
 */
export function polynomialFit(o: PolyOptions): PolyResult {
  const coeffs = [0.5, -1, 0, 2];
  const data = (n: number, seed: number) => {
    const { x, y } = polynomial({ n, coeffs, noise: 0.15, seed });
    return { x: Array.from(x.dataSync()), y: Array.from(y.dataSync()) };
  };
  const train = data(30, o.seed);
  const val = data(30, o.seed + 1);
  const test = data(200, o.seed + 2);
  const fit = (d: number, lambda: number) => {
    const { w, b } = leastSquares(
      train.x.map((x) => powers(x, d)),
      train.y,
      lambda,
    );
    const f = (x: number) => b + powers(x, d).reduce((s, p, k) => s + p * w[k], 0);
    const err = (s: { x: number[]; y: number[] }) => mse(s.x.map(f), s.y);
    return { f, train: err(train), val: err(val), test: err(test) };
  };
  const degrees = Array.from({ length: o.maxDegree }, (_, i) => {
    const r = fit(i + 1, 0);
    return { degree: i + 1, train: r.train, val: r.val };
  });
  const bestDegree = degrees.reduce((a, b) => (b.val < a.val ? b : a)).degree;
  const lambdaGrid = [0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1];
  const lambdas = lambdaGrid.map((lambda) => {
    const r = fit(o.maxDegree, lambda);
    return { lambda, train: r.train, val: r.val };
  });
  const bestLambda = lambdas.reduce((a, b) => (b.val < a.val ? b : a)).lambda;
  const chosen = fit(bestDegree, 0);
  const chart = scatterWithFit({
    x: train.x,
    y: train.y,
    fit: chosen.f,
    fitLabel: `degree ${bestDegree} (chosen by validation)`,
    title: `Polynomial regression: the degree with the lowest validation error`,
  });
  return {
    degrees,
    bestDegree,
    lambdas,
    bestLambda,
    test: { chosenDegree: chosen.test, maxDegree: fit(o.maxDegree, 0).test, maxDegreeL2: fit(o.maxDegree, bestLambda).test },
    chart,
  };
}
