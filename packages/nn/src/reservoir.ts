import { noGrad } from '@ml/autograd';
import { checkOptions, formatShape, fromArray, matmul, stack, tidy, uniform, zeros, type DType, type Tensor, optionKeys } from '@ml/tensor';
import type { Initializer } from './init.js';
import { Linear, checkPositiveInt, type LayerOptions } from './linear.js';
import { Module } from './module.js';

export interface EchoStateNetworkOptions extends LayerOptions {
  /** features per input step u_t */
  inputSize: number;
  /** number of reservoir units R */
  reservoirSize: number;
  /** features per prediction y_t */
  outputSize: number;
  /** the reservoir matrix is scaled so that max |λ(W)| equals this (default 0.9) */
  spectralRadius?: number;
  /** fraction of nonzero entries of the default random reservoir, in (0, 1] (default 0.1) */
  connectivity?: number;
  /** W_in = inputScaling · inputInit([R, in]) (default 1) */
  inputScaling?: number;
  /** b = biasScaling · biasInit([R]) (default 0: no reservoir bias) */
  biasScaling?: number;
  /** a in x_t = (1 − a) x_{t−1} + a · tanh(…), in (0, 1] (default 1: no leak) */
  leakingRate?: number;
  /** initial steps of every sequence whose states `fit` discards (default 0) */
  washout?: number;
  /** the unscaled reservoir [R, R]; default: each entry nonzero with probability `connectivity`, then U(−1, 1) */
  reservoirInit?: Initializer;
  /** the unscaled input weights [R, in]; default U(−1, 1) */
  inputInit?: Initializer;
  /** the unscaled reservoir bias [R]; default U(−1, 1) */
  biasInit?: Initializer;
}

export interface FitOptions {
  /** λ of the ridge penalty λ‖W_out‖² (default 1e-6); the readout bias is not penalized */
  ridge?: number;
  /** override the network's `washout` for this fit */
  washout?: number;
}

const ESN_KEYS = optionKeys<EchoStateNetworkOptions>()([
  'inputSize', 'reservoirSize', 'outputSize', 'spectralRadius', 'connectivity', 'inputScaling', 'biasScaling', 'leakingRate', 'washout',
  'reservoirInit', 'inputInit', 'biasInit', 'dtype', 'name',
]);
const FIT_KEYS = optionKeys<FitOptions>()(['ridge', 'washout']);

/**
 * Echo-state network (Jaeger 2001; reservoir computing): a fixed random recurrent
 * "reservoir" whose states are read out by a trained linear layer.
 *
 *   x_t = (1 − a) · x_{t−1} + a · tanh(W_in u_t + W x_{t−1} + b),   x_{−1} = 0
 *   y_t = W_out x_t + b_out
 *
 * W [R, R] is sparse and random, rescaled so that its spectral radius max |λ(W)| is
 * `spectralRadius` (< 1 gives the echo-state property in practice: the state forgets its
 * initial value). W, W_in and b are buffers, never trained: they are saved in the state dict
 * (`reservoir_weight`, `input_weight`, `reservoir_bias`) but are not parameters.
 * The readout is an ordinary `Linear` submodule `readout` (`readout.weight` [out, R],
 * `readout.bias`), fitted in closed form by ridge regression with `fit`, or trained by
 * gradient descent on `forward`'s output like any other layer.
 *
 * Random draws use the global generator, so `manualSeed` makes the reservoir reproducible.
 */
export class EchoStateNetwork extends Module {
  readonly inputSize: number;
  readonly reservoirSize: number;
  readonly outputSize: number;
  readonly spectralRadius: number;
  readonly connectivity: number;
  readonly inputScaling: number;
  readonly biasScaling: number;
  readonly leakingRate: number;
  readonly washout: number;
  reservoirWeight: Tensor;
  inputWeight: Tensor;
  reservoirBias: Tensor;
  readonly readout: Linear;

  constructor(options: EchoStateNetworkOptions) {
    super(options);
    const kind = 'EchoStateNetwork';
    checkOptions(kind, options, ESN_KEYS, { units: 'reservoirSize', leak_rate: 'leakingRate', leakRate: 'leakingRate', sparsity: 'connectivity', input_scaling: 'inputScaling', spectral_radius: 'spectralRadius' });
    checkPositiveInt(kind, 'inputSize', options.inputSize);
    checkPositiveInt(kind, 'reservoirSize', options.reservoirSize);
    checkPositiveInt(kind, 'outputSize', options.outputSize);
    this.inputSize = options.inputSize;
    this.reservoirSize = options.reservoirSize;
    this.outputSize = options.outputSize;
    this.spectralRadius = options.spectralRadius ?? 0.9;
    this.connectivity = options.connectivity ?? 0.1;
    this.inputScaling = options.inputScaling ?? 1;
    this.biasScaling = options.biasScaling ?? 0;
    this.leakingRate = options.leakingRate ?? 1;
    this.washout = options.washout ?? 0;
    if (!(this.spectralRadius > 0 && Number.isFinite(this.spectralRadius))) {
      throw new Error(`${kind}: spectralRadius must be a finite number > 0, got ${this.spectralRadius}`);
    }
    if (!(this.connectivity > 0 && this.connectivity <= 1)) throw new Error(`${kind}: connectivity must be in (0, 1], got ${this.connectivity}`);
    if (!(this.leakingRate > 0 && this.leakingRate <= 1)) throw new Error(`${kind}: leakingRate must be in (0, 1], got ${this.leakingRate}`);
    if (!(this.inputScaling >= 0 && Number.isFinite(this.inputScaling))) throw new Error(`${kind}: inputScaling must be a finite number ≥ 0, got ${this.inputScaling}`);
    if (!(this.biasScaling >= 0 && Number.isFinite(this.biasScaling))) throw new Error(`${kind}: biasScaling must be a finite number ≥ 0, got ${this.biasScaling}`);
    if (!Number.isInteger(this.washout) || this.washout < 0) throw new Error(`${kind}: washout must be an integer ≥ 0, got ${this.washout}`);

    const R = this.reservoirSize;
    const dtype: DType = options.dtype ?? 'float32';
    // raw draws in float64; the tensors only carry values into plain arrays
    const values = (t: Tensor): Float64Array => {
      const v = Float64Array.from(t.dataSync());
      t.dispose();
      return v;
    };
    const draw = (init: Initializer | undefined, shape: number[], fallback: () => Float64Array): Float64Array => {
      if (!init) return fallback();
      const t = init(shape, { dtype: 'float64' });
      if (t.shape.join() !== shape.join()) throw new Error(`${kind}: an initializer returned ${formatShape(t.shape)}, expected ${formatShape(shape)}`);
      return values(t);
    };
    const uniform64 = (shape: number[]) => values(uniform(shape, -1, 1, { dtype: 'float64' }));

    const w = draw(options.reservoirInit, [R, R], () => {
      const mask = values(uniform([R, R], 0, 1, { dtype: 'float64' }));
      const v = uniform64([R, R]);
      return v.map((x, i) => (mask[i] < this.connectivity ? x : 0));
    });
    const rho = spectralRadiusOf(w, R);
    if (!(rho > 0)) {
      throw new Error(`${kind}: the unscaled reservoir has spectral radius 0 (too sparse or nilpotent), so it cannot be scaled to ${this.spectralRadius}; raise connectivity or reservoirSize`);
    }
    const scale = this.spectralRadius / rho;
    this.reservoirWeight = this.registerBuffer('reservoir_weight', fromArray(w.map((x) => x * scale), [R, R], { dtype }));
    const wIn = draw(options.inputInit, [R, this.inputSize], () => uniform64([R, this.inputSize]));
    this.inputWeight = this.registerBuffer('input_weight', fromArray(wIn.map((x) => x * this.inputScaling), [R, this.inputSize], { dtype }));
    const b = draw(options.biasInit, [R], () => uniform64([R]));
    this.reservoirBias = this.registerBuffer('reservoir_bias', fromArray(b.map((x) => x * this.biasScaling), [R], { dtype }));
    this.readout = this.registerModule('readout', new Linear({ inFeatures: R, outFeatures: this.outputSize, dtype }));
  }

  /**
   * Reservoir states x_t for inputs u [T, in] → [T, R], or [N, T, in] → [N, T, R]
   * (each sequence starts from x = 0). Differentiable with respect to `u`.
   */
  states(u: Tensor): Tensor {
    this.#checkInput(u);
    const seq = u.ndim === 2 ? u.unsqueeze(0) : u; // [N, T, in]
    const [n, len] = seq.shape;
    const a = this.leakingRate;
    // W_in u_t + b for all steps at once: [N, T, R]
    const drive = matmul(seq, this.inputWeight.T).add(this.reservoirBias);
    let x = zeros([n, this.reservoirSize], { dtype: drive.dtype, backend: drive.backend.name });
    const xs: Tensor[] = [];
    for (let t = 0; t < len; t++) {
      const next = drive.select(1, t).add(matmul(x, this.reservoirWeight.T)).tanh();
      x = a === 1 ? next : x.mul(1 - a).add(next.mul(a));
      xs.push(x);
    }
    const out = len === 0 ? zeros([n, 0, this.reservoirSize], { dtype: drive.dtype, backend: drive.backend.name }) : stack(xs, 1);
    return u.ndim === 2 ? out.squeeze(0) : out;
  }

  #checkInput(u: Tensor): void {
    if ((u.ndim !== 2 && u.ndim !== 3) || u.shape[u.ndim - 1] !== this.inputSize) {
      throw new Error(`EchoStateNetwork: expected input [T, ${this.inputSize}] or [N, T, ${this.inputSize}] (inputSize=${this.inputSize}), got ${formatShape(u.shape)}`);
    }
  }

  /** Predictions y_t = W_out x_t + b_out: [T, in] → [T, out], [N, T, in] → [N, T, out] (washout steps included). */
  forward(u: Tensor): Tensor {
    return this.readout.forward(this.states(u));
  }

  /**
   * Fit the readout in closed form by ridge regression on the reservoir states, skipping the
   * first `washout` steps of every sequence: with X the stacked states and Y the targets,
   *   W_out = argmin ‖X W_outᵀ + 1 b_outᵀ − Y‖² + λ ‖W_out‖²,
   * solved in float64 as (X̃ᵀX̃ + λI) W_outᵀ = X̃ᵀỸ on centred X̃, Ỹ (so the bias is not
   * penalized), with b_out = ȳ − W_out x̄. `inputs` [T, in] with `targets` [T, out], or
   * [N, T, in] with [N, T, out]. Returns this network.
   */
  override fit(inputs: Tensor, targets: Tensor, options: FitOptions = {}): this {
    checkOptions('EchoStateNetwork.fit', options, FIT_KEYS, { alpha: 'ridge', regularization: 'ridge' });
    const ridge = options.ridge ?? 1e-6;
    const washout = options.washout ?? this.washout;
    if (!(ridge >= 0 && Number.isFinite(ridge))) throw new Error(`EchoStateNetwork.fit: ridge must be a finite number ≥ 0, got ${ridge}`);
    if (!Number.isInteger(washout) || washout < 0) throw new Error(`EchoStateNetwork.fit: washout must be an integer ≥ 0, got ${washout}`);
    this.#checkInput(inputs);
    const expected = [...inputs.shape.slice(0, -1), this.outputSize];
    if (targets.shape.join() !== expected.join()) {
      throw new Error(`EchoStateNetwork.fit: targets must have shape ${formatShape(expected)} for inputs ${formatShape(inputs.shape)} (outputSize=${this.outputSize}), got ${formatShape(targets.shape)}`);
    }
    const len = inputs.shape[inputs.ndim - 2];
    if (len <= washout) throw new Error(`EchoStateNetwork.fit: sequences of ${len} steps leave nothing after a washout of ${washout}`);

    const R = this.reservoirSize;
    const out = this.outputSize;
    const [x, y] = tidy(() => noGrad(() => {
      const s = this.states(inputs);
      const keep = (t: Tensor, f: number) => (t.ndim === 2 ? t.narrow(0, washout, len - washout) : t.narrow(1, washout, len - washout)).reshape([-1, f]);
      return [Float64Array.from(keep(s, R).dataSync()), Float64Array.from(keep(targets, out).dataSync())];
    }));
    const { weight, bias } = ridgeRegression(x, y, R, out, ridge);
    tidy(() => noGrad(() => {
      const dtype = this.readout.weight.dtype;
      this.readout.weight.assign(fromArray(weight, [out, R], { dtype }));
      this.readout.bias?.assign(fromArray(bias, [out], { dtype }));
    }));
    return this;
  }

  override extraRepr(): string {
    return (
      `inputSize=${this.inputSize}, reservoirSize=${this.reservoirSize}, outputSize=${this.outputSize}, ` +
      `spectralRadius=${this.spectralRadius}, connectivity=${this.connectivity}, inputScaling=${this.inputScaling}, ` +
      `biasScaling=${this.biasScaling}, leakingRate=${this.leakingRate}, washout=${this.washout}`
    );
  }
}

/**
 * Spectral radius max |λ| of a square matrix, in float64, by Gelfand's formula
 * ρ(W) = lim_k ‖W^k‖^{1/k} evaluated at k = 2^j by repeated squaring: B_0 = W/‖W‖_F,
 * B_{j+1} = B_j² / ‖B_j²‖_F with the log of the scale carried along, so that
 * ‖W^{2^j}‖_F = exp(ℓ_j). Since ℓ_j = 2^j log ρ + log c_j with c_j bounded, the estimate
 * log ρ ≈ (ℓ_j − ℓ_{j−1}) / 2^{j−1} (Richardson's extrapolation of ℓ_j / 2^j) has error
 * O(2^{−j}) whatever the spectrum — also when the largest eigenvalues are a complex pair
 * or ±ρ, where plain power iteration oscillates instead of converging — and is exact as
 * soon as c_j settles (a single real top eigenvalue). Stops when three successive estimates
 * agree to `tol` (relative); each squaring costs one n×n matrix product, so this is O(n³)
 * per step, run once when a reservoir is built.
 */
export function spectralRadius(matrix: Tensor, options: { tol?: number; maxSquarings?: number } = {}): number {
  checkOptions('spectralRadius', options, ['tol', 'maxSquarings']);
  if (matrix.ndim !== 2 || matrix.shape[0] !== matrix.shape[1]) throw new Error(`spectralRadius: expected a square matrix, got ${formatShape(matrix.shape)}`);
  return spectralRadiusOf(Float64Array.from(matrix.dataSync()), matrix.shape[0], options);
}

function spectralRadiusOf(w: Float64Array, n: number, options: { tol?: number; maxSquarings?: number } = {}): number {
  const tol = options.tol ?? 1e-13;
  const maxSquarings = options.maxSquarings ?? 60;
  const norm0 = frobenius(w);
  if (!Number.isFinite(norm0)) throw new Error('spectralRadius: the matrix has non-finite entries');
  if (norm0 === 0) return 0;
  return noGrad(() => {
    // the products run on the CPU backend's float64 matmul kernel; each B_j is freed as soon as B_{j+1} exists
    let b = fromArray(w.map((v) => v / norm0), [n, n], { dtype: 'float64', backend: 'cpu' });
    let ell = Math.log(norm0);
    let prev = norm0;
    let agreed = 0;
    try {
      for (let j = 1; j <= maxSquarings; j++) {
        const sq = tidy(() => matmul(b, b));
        const s = frobenius(sq.dataSync());
        b.dispose();
        b = sq;
        if (s === 0) return 0; // nilpotent: W^k = 0
        b = tidy(() => sq.div(s));
        sq.dispose();
        const next = 2 * ell + Math.log(s);
        const est = Math.exp((next - ell) / 2 ** (j - 1));
        ell = next;
        // agreeing steps in a row, so that an oscillating norm cannot stop it early by chance
        agreed = Math.abs(est - prev) <= tol * est ? agreed + 1 : 0;
        if (agreed >= 2) return est;
        prev = est;
      }
      return prev;
    } finally {
      b.dispose();
    }
  });
}

function frobenius(a: ArrayLike<number>): number {
  // scaled sum of squares: no overflow for large entries
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  if (m === 0 || !Number.isFinite(m)) return m;
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] / m) ** 2;
  return m * Math.sqrt(s);
}

/**
 * Ridge regression with an unpenalized intercept, in float64: rows of x [m, f] and y [m, o]
 * are centred, (X̃ᵀX̃ + λI) Wᵀ = X̃ᵀỸ is solved by Cholesky, and b = ȳ − W x̄.
 * Returns W [o, f] and b [o], row-major.
 */
function ridgeRegression(x: Float64Array, y: Float64Array, f: number, o: number, ridge: number): { weight: Float64Array; bias: Float64Array } {
  const m = x.length / f;
  const xMean = new Float64Array(f);
  const yMean = new Float64Array(o);
  for (let r = 0; r < m; r++) {
    for (let i = 0; i < f; i++) xMean[i] += x[r * f + i] / m;
    for (let k = 0; k < o; k++) yMean[k] += y[r * o + k] / m;
  }
  // normal equations on centred data: A = X̃ᵀX̃ + λI [f, f], B = X̃ᵀỸ [f, o]
  const a = new Float64Array(f * f);
  const b = new Float64Array(f * o);
  const xr = new Float64Array(f);
  for (let r = 0; r < m; r++) {
    for (let i = 0; i < f; i++) xr[i] = x[r * f + i] - xMean[i];
    for (let i = 0; i < f; i++) {
      const xi = xr[i];
      if (xi === 0) continue;
      for (let j = i; j < f; j++) a[i * f + j] += xi * xr[j];
      for (let k = 0; k < o; k++) b[i * o + k] += xi * (y[r * o + k] - yMean[k]);
    }
  }
  for (let i = 0; i < f; i++) {
    a[i * f + i] += ridge;
    for (let j = 0; j < i; j++) a[i * f + j] = a[j * f + i];
  }
  const wt = choleskySolve(a, b, f, o); // Wᵀ [f, o]
  const weight = new Float64Array(o * f);
  const bias = Float64Array.from(yMean);
  for (let i = 0; i < f; i++) {
    for (let k = 0; k < o; k++) {
      weight[k * f + i] = wt[i * o + k];
      bias[k] -= wt[i * o + k] * xMean[i];
    }
  }
  return { weight, bias };
}

/**
 * Solve A X = B for symmetric positive definite A [n, n] and B [n, m]: A = L Lᵀ, then
 * L Z = B by forward and Lᵀ X = Z by back substitution.
 */
function choleskySolve(a: Float64Array, b: Float64Array, n: number, m: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j];
    for (let k = 0; k < j; k++) d -= l[j * n + k] ** 2;
    if (!(d > 0)) {
      throw new Error('EchoStateNetwork.fit: the normal equations are singular (XᵀX + λI is not positive definite); use a larger ridge');
    }
    const ljj = Math.sqrt(d);
    l[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = s / ljj;
    }
  }
  const z = Float64Array.from(b);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < i; k++) {
      const lik = l[i * n + k];
      for (let c = 0; c < m; c++) z[i * m + c] -= lik * z[k * m + c];
    }
    for (let c = 0; c < m; c++) z[i * m + c] /= l[i * n + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    for (let k = i + 1; k < n; k++) {
      const lki = l[k * n + i];
      for (let c = 0; c < m; c++) z[i * m + c] -= lki * z[k * m + c];
    }
    for (let c = 0; c < m; c++) z[i * m + c] /= l[i * n + i];
  }
  return z;
}
