import { circles, twoGaussians, xor } from '@ml/data';
import { Linear, binaryCrossEntropyWithLogits, crossEntropy } from '@ml/nn';
import { Adam } from '@ml/optim';
import { decisionRegions, type TopLevelSpec } from '@ml/plot';
import { fromArray, manualSeed, randn, tidy, type Tensor } from '@ml/tensor';
import { fitScaler, rows, solve } from './linalg.js';

export interface Classified {
  /** class of each point */
  predict: (points: number[][]) => number[];
  train: number;
  test: number;
}

const accuracy = (pred: number[], y: number[]) => pred.filter((p, i) => p === y[i]).length / y.length;

/**
 * Logistic (2 classes) or softmax (k classes) regression on features f(x), standardized on
 * the training set: a linear layer trained by Adam on the cross-entropy, full batch.
 */
export function linearClassifier(
  xTrain: number[][],
  yTrain: number[],
  xTest: number[][],
  yTest: number[],
  options: { classes: number; features?: (p: number[]) => number[]; steps?: number; seed: number },
): Classified {
  const f = options.features ?? ((p: number[]) => p);
  const k = options.classes;
  const sc = fitScaler(xTrain.map(f));
  const prep = (pts: number[][]) => sc.apply(pts.map(f));
  const ftr = prep(xTrain);
  const d = ftr[0].length;
  manualSeed(options.seed);
  const layer = new Linear({ inFeatures: d, outFeatures: k === 2 ? 1 : k });
  const opt = new Adam(layer.parameters(), { lr: 0.05 });
  const X = fromArray(Float32Array.from(ftr.flat()), [ftr.length, d]);
  const Y = k === 2 ? fromArray(Float32Array.from(yTrain), [yTrain.length, 1]) : fromArray(Int32Array.from(yTrain), [yTrain.length], { dtype: 'int32' });
  for (let s = 0; s < (options.steps ?? 500); s++) {
    tidy(() => {
      opt.zeroGrad();
      const z = layer.forward(X);
      (k === 2 ? binaryCrossEntropyWithLogits(z, Y) : crossEntropy(z, Y)).backward();
      opt.step();
    });
  }
  const predict = (pts: number[][]): number[] =>
    tidy(() => {
      const p = prep(pts);
      const z = layer.forward(fromArray(Float32Array.from(p.flat()), [p.length, d]));
      return k === 2 ? Array.from(z.dataSync(), (v) => (v > 0 ? 1 : 0)) : Array.from(z.argmax(1).dataSync());
    });
  return { predict, train: accuracy(predict(xTrain), yTrain), test: accuracy(predict(xTest), yTest) };
}

/**
 * The generative classifier of the notes: each class a Gaussian with its own mean and one
 * shared covariance, fitted by maximum likelihood, priors from the class counts. Bayes'
 * rule then gives a linear boundary P(C₁|x) = σ(wᵀx + b) with
 *   w = Σ⁻¹(μ₁ − μ₀),  b = −½μ₁ᵀΣ⁻¹μ₁ + ½μ₀ᵀΣ⁻¹μ₀ + ln(N₁/N₀).
 */
export function gaussianGenerative(xTrain: number[][], yTrain: number[], xTest: number[][], yTest: number[]): Classified & { w: number[]; b: number } {
  const d = xTrain[0].length;
  const groups = [0, 1].map((c) => xTrain.filter((_, i) => yTrain[i] === c));
  const mu = groups.map((g) => Array.from({ length: d }, (_, j) => g.reduce((s, r) => s + r[j], 0) / g.length));
  // ML shared covariance: the class covariances weighted by class size
  const cov = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  groups.forEach((g, c) => g.forEach((r) => r.forEach((_, a) => r.forEach((__, b) => (cov[a][b] += ((r[a] - mu[c][a]) * (r[b] - mu[c][b])) / xTrain.length)))));
  const w = solve(
    cov,
    mu[1].map((m, j) => m - mu[0][j]),
  );
  const quad = (m: number[]) => m.reduce((s, v, j) => s + v * solve(cov, m)[j], 0);
  const b = -0.5 * quad(mu[1]) + 0.5 * quad(mu[0]) + Math.log(groups[1].length / groups[0].length);
  const predict = (pts: number[][]) => pts.map((p) => (p.reduce((s, v, j) => s + v * w[j], b) > 0 ? 1 : 0));
  return { predict, train: accuracy(predict(xTrain), yTrain), test: accuracy(predict(xTest), yTest), w, b };
}

function data(make: (seed: number) => { x: Tensor; y: Tensor }, seed: number): { xTr: number[][]; yTr: number[]; xTe: number[][]; yTe: number[] } {
  const a = make(seed);
  const b = make(seed + 1000);
  return { xTr: rows(a.x.dataSync(), 2), yTr: Array.from(a.y.dataSync()), xTe: rows(b.x.dataSync(), 2), yTe: Array.from(b.y.dataSync()) };
}

export interface ClassifyResult {
  generative: Classified;
  logistic: Classified;
  softmax: Classified;
  charts: Record<string, TopLevelSpec>;
}

/** Two overlapping Gaussian classes (generative vs logistic), and three classes (softmax). */
export function classify(seed: number): ClassifyResult {
  const two = data((s) => twoGaussians({ n: 400, means: [[-1, -0.5], [1, 0.5]], std: 0.9, seed: s }), seed);
  const generative = gaussianGenerative(two.xTr, two.yTr, two.xTe, two.yTe);
  const logistic = linearClassifier(two.xTr, two.yTr, two.xTe, two.yTe, { classes: 2, seed });
  const three = data((s) => blobs(300, s), seed);
  const softmax = linearClassifier(three.xTr, three.yTr, three.xTe, three.yTe, { classes: 3, seed });
  return {
    generative,
    logistic,
    softmax,
    charts: {
      logistic: decisionRegions({ predict: logistic.predict, x: two.xTe, y: two.yTe, title: `Logistic regression: ${(100 * logistic.test).toFixed(1)}% test accuracy` }),
      softmax: decisionRegions({ predict: softmax.predict, x: three.xTe, y: three.yTe, title: `Softmax regression, 3 classes: ${(100 * softmax.test).toFixed(1)}% test accuracy` }),
    },
  };
}

/** Three Gaussian blobs at the corners of a triangle, classes 0, 1, 2. */
function blobs(n: number, seed: number): { x: Tensor; y: Tensor } {
  manualSeed(seed);
  const centers = [
    [0, 1.5],
    [-1.4, -1],
    [1.4, -1],
  ];
  const noise = randn([n, 2]).mul(0.6).dataSync();
  const y = Array.from({ length: n }, (_, i) => i % 3);
  const x = y.flatMap((c, i) => [centers[c][0] + noise[2 * i], centers[c][1] + noise[2 * i + 1]]);
  return { x: fromArray(Float32Array.from(x), [n, 2]), y: fromArray(Int32Array.from(y), [n], { dtype: 'int32' }) };
}

export interface TransformResult {
  circles: { raw: Classified; radius: Classified };
  xor: { raw: Classified; product: Classified };
  charts: Record<string, TopLevelSpec>;
}

/**
 * The notes' feature transforms: concentric circles become separable through the radius
 * r = √(a² + b²), the XOR quadrants through the product a·b; logistic regression on the raw
 * (a, b) stays near chance on both.
 */
export function transforms(seed: number): TransformResult {
  const c = data((s) => circles({ n: 400, noise: 0.08, factor: 0.5, seed: s }), seed);
  const x = data((s) => xor({ n: 400, margin: 0.05, seed: s }), seed);
  const run = (d: typeof c, features?: (p: number[]) => number[]) => linearClassifier(d.xTr, d.yTr, d.xTe, d.yTe, { classes: 2, features, seed });
  const result = {
    circles: { raw: run(c), radius: run(c, ([a, b]) => [Math.sqrt(a * a + b * b)]) },
    xor: { raw: run(x), product: run(x, ([a, b]) => [a * b]) },
  };
  const chart = (d: typeof c, m: Classified, title: string) => decisionRegions({ predict: m.predict, x: d.xTe, y: d.yTe, title: `${title}: ${(100 * m.test).toFixed(1)}% test accuracy` });
  return {
    ...result,
    charts: {
      'circles-raw': chart(c, result.circles.raw, 'Circles, logistic regression on (a, b)'),
      'circles-radius': chart(c, result.circles.radius, 'Circles, logistic regression on r = √(a² + b²)'),
      'xor-raw': chart(x, result.xor.raw, 'XOR, logistic regression on (a, b)'),
      'xor-product': chart(x, result.xor.product, 'XOR, logistic regression on a·b'),
    },
  };
}
