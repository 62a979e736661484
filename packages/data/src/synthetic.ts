import { checkOptions, fromArray, optionKeys, type Tensor } from '@ml/tensor';
import { resolveSeed, Rng } from './random.js';

/**
 * Small generated datasets from the course notes. Each takes a `seed` (without one it is
 * drawn from @ml/tensor's generator, so `manualSeed` makes them reproducible too) and
 * returns tensors: x float32, class labels y int32, regression targets y float32.
 */
export interface SyntheticOptions {
  seed?: number;
}

/** Features and labels or targets. */
export interface XY {
  x: Tensor;
  y: Tensor;
}

/** scikit-learn's names for ours */
const ALIASES = { n_samples: 'n', nSamples: 'n', random_state: 'seed', randomState: 'seed', noise_std: 'noise' };

function checked(op: keyof typeof KEYS, options: unknown): void {
  checkOptions(op, options, KEYS[op], ALIASES);
  if (options === undefined || options === null) throw new TypeError(`${op}: options are required, e.g. ${op}({ ${op === 'weeklySeries' ? 'days' : 'n'}: 100, seed: 0 })`);
}

function count(op: string, n: number, min = 1): number {
  if (!Number.isInteger(n) || n < min) throw new RangeError(`${op}: n must be an integer >= ${min}, got ${n}`);
  return n;
}

function nonNegative(op: string, name: string, v: number): number {
  if (!(v >= 0) || !Number.isFinite(v)) throw new RangeError(`${op}: ${name} must be a finite number >= 0, got ${v}`);
  return v;
}

function range(op: string, r: readonly [number, number]): readonly [number, number] {
  if (!(r[0] < r[1])) throw new RangeError(`${op}: xRange must be [low, high] with low < high, got [${r[0]}, ${r[1]}]`);
  return r;
}

/** Labels 0..classes-1 as evenly as possible (the first n mod classes classes get one more), in a random order. */
function balancedLabels(rng: Rng, n: number, classes: number): Int32Array {
  const labels = Int32Array.from({ length: n }, (_, i) => i % classes);
  return rng.shuffle(labels);
}

export interface NoisyLineOptions extends SyntheticOptions {
  n: number;
  /** slope (default 2) */
  w?: number;
  /** intercept (default 1) */
  b?: number;
  /** standard deviation of the Gaussian noise on y (default 0.1) */
  noise?: number;
  /** x is uniform on this interval (default [-1, 1]) */
  xRange?: readonly [number, number];
}

/** y = w·x + b + ε, ε ~ N(0, noise²): x [n, 1], y [n, 1] (linear regression). */
export function noisyLine(options: NoisyLineOptions): XY {
  const op = 'noisyLine';
  checked(op, options);
  const n = count(op, options.n);
  const { w = 2, b = 1 } = options;
  const noise = nonNegative(op, 'noise', options.noise ?? 0.1);
  const [lo, hi] = range(op, options.xRange ?? [-1, 1]);
  const rng = new Rng(resolveSeed(options.seed, op));
  const x = new Float32Array(n);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = rng.uniform(lo, hi);
    y[i] = w * x[i] + b + noise * rng.normal();
  }
  return { x: fromArray(x, [n, 1]), y: fromArray(y, [n, 1]) };
}

export interface PolynomialOptions extends SyntheticOptions {
  n: number;
  /** c0, c1, c2, …: y = c0 + c1·x + c2·x² + … */
  coeffs: readonly number[];
  /** standard deviation of the Gaussian noise on y (default 0.1) */
  noise?: number;
  /** x is uniform on this interval (default [-1, 1]) */
  xRange?: readonly [number, number];
}

/** y = Σ_k c_k·x^k + ε: x [n, 1], y [n, 1] (polynomial regression, under/overfitting). */
export function polynomial(options: PolynomialOptions): XY {
  const op = 'polynomial';
  checked(op, options);
  const n = count(op, options.n);
  const { coeffs } = options;
  if (coeffs.length === 0) throw new RangeError(`${op}: coeffs must have at least one coefficient`);
  const noise = nonNegative(op, 'noise', options.noise ?? 0.1);
  const [lo, hi] = range(op, options.xRange ?? [-1, 1]);
  const rng = new Rng(resolveSeed(options.seed, op));
  const x = new Float32Array(n);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const xi = rng.uniform(lo, hi);
    // Horner: c0 + x(c1 + x(c2 + …))
    let v = 0;
    for (let k = coeffs.length - 1; k >= 0; k--) v = v * xi + coeffs[k];
    x[i] = xi;
    y[i] = v + noise * rng.normal();
  }
  return { x: fromArray(x, [n, 1]), y: fromArray(y, [n, 1]) };
}

export interface TwoGaussiansOptions extends SyntheticOptions {
  n: number;
  /** centers of class 0 and class 1 (default [[-1, -1], [1, 1]]); their length is the dimension */
  means?: readonly [readonly number[], readonly number[]];
  /** standard deviation of each coordinate (default 0.5) */
  std?: number;
}

/** Two Gaussian blobs, ⌈n/2⌉ of class 0 and ⌊n/2⌋ of class 1 in random order: x [n, d], y [n] (binary classification). */
export function twoGaussians(options: TwoGaussiansOptions): XY {
  const op = 'twoGaussians';
  checked(op, options);
  const n = count(op, options.n);
  const means = options.means ?? [
    [-1, -1],
    [1, 1],
  ];
  const d = means[0].length;
  if (d === 0 || means[1].length !== d) throw new RangeError(`${op}: means must be two points of the same dimension, got ${JSON.stringify(means)}`);
  const std = nonNegative(op, 'std', options.std ?? 0.5);
  const rng = new Rng(resolveSeed(options.seed, op));
  const y = balancedLabels(rng, n, 2);
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x[i * d + j] = means[y[i]][j] + std * rng.normal();
  return { x: fromArray(x, [n, d]), y: fromArray(y, [n], { dtype: 'int32' }) };
}

export interface CirclesOptions extends SyntheticOptions {
  n: number;
  /** standard deviation of Gaussian noise added to each coordinate (default 0.05) */
  noise?: number;
  /** radius of the inner circle, the outer one has radius 1 (default 0.5) */
  factor?: number;
}

/**
 * Two concentric circles (scikit-learn's `make_circles`): class 0 on the outer circle
 * (radius 1), class 1 on the inner one (radius `factor`), at uniform random angles.
 * No line separates them; the radius r = √(a² + b²) does. x [n, 2], y [n].
 */
export function circles(options: CirclesOptions): XY {
  const op = 'circles';
  checked(op, options);
  const factor = options.factor ?? 0.5;
  if (!(factor > 0 && factor < 1)) throw new RangeError(`${op}: factor must be in (0, 1), got ${factor}`);
  return ringsOf(op, options.n, [1, factor], options.noise ?? 0.05, options.seed);
}

export interface RingsOptions extends SyntheticOptions {
  n: number;
  /** number of rings, one class each (default 3) */
  classes?: number;
  /** standard deviation of Gaussian noise added to each coordinate (default 0.05) */
  noise?: number;
}

/** `classes` concentric rings, class k at radius (k + 1) / classes; separable by the radius only. x [n, 2], y [n]. */
export function rings(options: RingsOptions): XY {
  const op = 'rings';
  checked(op, options);
  const classes = options.classes ?? 3;
  if (!Number.isInteger(classes) || classes < 2) throw new RangeError(`${op}: classes must be an integer >= 2, got ${classes}`);
  return ringsOf(op, options.n, Array.from({ length: classes }, (_, k) => (k + 1) / classes), options.noise ?? 0.05, options.seed);
}

function ringsOf(op: string, nRaw: number, radii: readonly number[], noiseRaw: number, seed: number | undefined): XY {
  const n = count(op, nRaw);
  const noise = nonNegative(op, 'noise', noiseRaw);
  const rng = new Rng(resolveSeed(seed, op));
  const y = balancedLabels(rng, n, radii.length);
  const x = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const t = rng.uniform(0, 2 * Math.PI);
    const r = radii[y[i]];
    x[2 * i] = r * Math.cos(t) + noise * rng.normal();
    x[2 * i + 1] = r * Math.sin(t) + noise * rng.normal();
  }
  return { x: fromArray(x, [n, 2]), y: fromArray(y, [n], { dtype: 'int32' }) };
}

export interface XorOptions extends SyntheticOptions {
  n: number;
  /** keep points at least this far from both axes, so the classes have a gap (default 0) */
  margin?: number;
}

/**
 * The XOR problem: points (a, b) uniform on [-1, 1]², label 1 when a and b have opposite
 * signs (a·b < 0, i.e. (a > 0) XOR (b > 0)) and 0 when a·b > 0. No line separates the
 * quadrants; the product feature a·b does. x [n, 2], y [n].
 */
export function xor(options: XorOptions): XY {
  const op = 'xor';
  checked(op, options);
  const n = count(op, options.n);
  const margin = options.margin ?? 0;
  if (!(margin >= 0 && margin < 1)) throw new RangeError(`${op}: margin must be in [0, 1), got ${margin}`);
  const rng = new Rng(resolveSeed(options.seed, op));
  const x = new Float32Array(2 * n);
  const y = new Int32Array(n);
  // |v| uniform on (margin, 1] (never 0, so every point has a quadrant), sign ±
  const coord = (): number => (rng.float() < 0.5 ? -1 : 1) * (margin + (1 - margin) * (1 - rng.float()));
  for (let i = 0; i < n; i++) {
    const a = coord();
    const b = coord();
    x[2 * i] = a;
    x[2 * i + 1] = b;
    y[i] = a * b < 0 ? 1 : 0;
  }
  return { x: fromArray(x, [n, 2]), y: fromArray(y, [n], { dtype: 'int32' }) };
}

export interface SpiralsOptions extends SyntheticOptions {
  /** points per class */
  n: number;
  /** number of interleaved arms, one class each (default 2) */
  classes?: number;
  /** standard deviation of the Gaussian noise on the angle, in radians (default 0.2) */
  noise?: number;
  /** turns of each arm (default 1) */
  turns?: number;
}

/**
 * Interleaved spiral arms: point j of class c sits at radius r = j / n and angle
 * 2π·(turns·r + c / classes) + noise. x [n·classes, 2] (class by class), y [n·classes].
 */
export function spirals(options: SpiralsOptions): XY {
  const op = 'spirals';
  checked(op, options);
  const n = count(op, options.n);
  const classes = options.classes ?? 2;
  if (!Number.isInteger(classes) || classes < 2) throw new RangeError(`${op}: classes must be an integer >= 2, got ${classes}`);
  const noise = nonNegative(op, 'noise', options.noise ?? 0.2);
  const turns = options.turns ?? 1;
  if (!(turns > 0)) throw new RangeError(`${op}: turns must be > 0, got ${turns}`);
  const rng = new Rng(resolveSeed(options.seed, op));
  const total = n * classes;
  const x = new Float32Array(2 * total);
  const y = new Int32Array(total);
  for (let c = 0; c < classes; c++) {
    for (let j = 0; j < n; j++) {
      const i = c * n + j;
      const r = n === 1 ? 1 : j / (n - 1);
      const t = 2 * Math.PI * (turns * r + c / classes) + noise * rng.normal();
      x[2 * i] = r * Math.cos(t);
      x[2 * i + 1] = r * Math.sin(t);
      y[i] = c;
    }
  }
  return { x: fromArray(x, [total, 2]), y: fromArray(y, [total], { dtype: 'int32' }) };
}

export interface WeeklySeriesOptions extends SyntheticOptions {
  /** number of days */
  days: number;
  /** length of the season in days (default 7) */
  period?: number;
  /** value added per day (default 0) */
  trend?: number;
  /** height of the seasonal wave (default 1) */
  amplitude?: number;
  /** one value per day of the season instead of the sine wave (length = period) */
  pattern?: readonly number[];
  /** value on day 0 before the season (default 0) */
  level?: number;
  /** standard deviation of the Gaussian noise (default 0.1) */
  noise?: number;
}

/**
 * A daily series with a weekly season, as daily video views in the course notes:
 * v[d] = level + trend·d + season(d mod period) + ε, season = amplitude·sin(2π·d / period)
 * or the given `pattern`. Returns t [days] (0, 1, 2, …) and values [days], float32, ready
 * for `slidingWindows`.
 */
export function weeklySeries(options: WeeklySeriesOptions): { t: Tensor; values: Tensor } {
  const op = 'weeklySeries';
  checked(op, options);
  const days = options.days;
  if (!Number.isInteger(days) || days < 1) throw new RangeError(`${op}: days must be a positive integer, got ${days}`);
  const period = options.period ?? 7;
  if (!Number.isInteger(period) || period < 1) throw new RangeError(`${op}: period must be a positive integer, got ${period}`);
  const { trend = 0, amplitude = 1, level = 0, pattern } = options;
  if (pattern && pattern.length !== period) throw new RangeError(`${op}: pattern has ${pattern.length} values, expected one per day of the period (${period})`);
  const noise = nonNegative(op, 'noise', options.noise ?? 0.1);
  const rng = new Rng(resolveSeed(options.seed, op));
  const t = new Float32Array(days);
  const v = new Float32Array(days);
  for (let d = 0; d < days; d++) {
    const season = pattern ? pattern[d % period] : amplitude * Math.sin((2 * Math.PI * d) / period);
    t[d] = d;
    v[d] = level + trend * d + season + noise * rng.normal();
  }
  return { t: fromArray(t, [days]), values: fromArray(v, [days]) };
}

/** The keys of each generator's options (a typo or another library's spelling throws). */
const KEYS = {
  noisyLine: optionKeys<NoisyLineOptions>()(['seed', 'n', 'w', 'b', 'noise', 'xRange']),
  polynomial: optionKeys<PolynomialOptions>()(['seed', 'n', 'coeffs', 'noise', 'xRange']),
  twoGaussians: optionKeys<TwoGaussiansOptions>()(['seed', 'n', 'means', 'std']),
  circles: optionKeys<CirclesOptions>()(['seed', 'n', 'noise', 'factor']),
  rings: optionKeys<RingsOptions>()(['seed', 'n', 'classes', 'noise']),
  xor: optionKeys<XorOptions>()(['seed', 'n', 'margin']),
  spirals: optionKeys<SpiralsOptions>()(['seed', 'n', 'classes', 'noise', 'turns']),
  weeklySeries: optionKeys<WeeklySeriesOptions>()(['seed', 'days', 'period', 'trend', 'amplitude', 'pattern', 'level', 'noise']),
};
