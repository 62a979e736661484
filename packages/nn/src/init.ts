import { noGrad } from '@ml/autograd';
import { checkOptions, fromArray, full, normal, randn, sizeOf, uniform, type DType, type Tensor, optionKeys } from '@ml/tensor';

/** Makes a fresh tensor of the given shape; layers take one per weight (`weightInit`). */
export type Initializer = (shape: readonly number[], options?: { dtype?: DType; backend?: string }) => Tensor;

export type Nonlinearity = 'linear' | 'conv' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';

/**
 * Recommended gain for a nonlinearity (PyTorch's `calculate_gain`): the factor that keeps
 * the variance of activations roughly constant through a layer.
 */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear':
    case 'conv':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu': {
      const slope = param ?? 0.01;
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu':
      return 3 / 4;
  }
}

/**
 * fan_in = shape[1] · receptive field, fan_out = shape[0] · receptive field, where the
 * receptive field is the product of the dims after the first two (conv kernels).
 */
export function fans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length === 0) throw new Error('init: cannot compute fan in/out of a 0-d tensor');
  if (shape.length === 1) return { fanIn: shape[0], fanOut: shape[0] };
  const receptive = sizeOf(shape.slice(2));
  return { fanIn: shape[1] * receptive, fanOut: shape[0] * receptive };
}

export interface GainOptions {
  gain?: number;
}

export interface KaimingOptions {
  /** negative slope of the leaky ReLU that follows (PyTorch's `a`), default 0 */
  a?: number;
  /** preserve the variance of the forward pass (`fanIn`, default) or of the backward pass */
  mode?: 'fanIn' | 'fanOut';
  nonlinearity?: Nonlinearity;
}

const GAIN_KEYS = optionKeys<GainOptions>()(['gain']);
const KAIMING_KEYS = optionKeys<KaimingOptions>()(['a', 'mode', 'nonlinearity']);

/** An initializer factory's options, checked when the factory is called (an unknown key throws). */
function checked<O>(op: string, keys: readonly string[], options: O): O {
  checkOptions(op, options, keys, { negative_slope: 'a' });
  return options;
}

const kaimingStd = (shape: readonly number[], o: KaimingOptions): number => {
  const { fanIn, fanOut } = fans(shape);
  const gain = calculateGain(o.nonlinearity ?? 'leaky_relu', o.a ?? 0);
  return gain / Math.sqrt(o.mode === 'fanOut' ? fanOut : fanIn);
};

/** Factories of initializers, by the names PyTorch and Keras use. */
export const init = {
  zeros: (): Initializer => (shape, o = {}) => full(shape, 0, o),
  ones: (): Initializer => (shape, o = {}) => full(shape, 1, o),
  constant: (value: number): Initializer => (shape, o = {}) => full(shape, value, o),
  /** U(low, high) */
  uniform: (low = 0, high = 1): Initializer => (shape, o = {}) => uniform(shape, low, high, o),
  /** N(mean, std²) */
  normal: (mean = 0, std = 1): Initializer => (shape, o = {}) => normal(shape, mean, std, o),
  /** Glorot & Bengio: U(−a, a) with a = gain · √(6 / (fan_in + fan_out)) */
  xavierUniform: (options: GainOptions = {}): Initializer => {
    checked('init.xavierUniform', GAIN_KEYS, options);
    return (shape, o = {}) => {
      const { fanIn, fanOut } = fans(shape);
      const a = (options.gain ?? 1) * Math.sqrt(6 / (fanIn + fanOut));
      return uniform(shape, -a, a, o);
    };
  },
  /** Glorot & Bengio: N(0, σ²) with σ = gain · √(2 / (fan_in + fan_out)) */
  xavierNormal: (options: GainOptions = {}): Initializer => {
    checked('init.xavierNormal', GAIN_KEYS, options);
    return (shape, o = {}) => {
      const { fanIn, fanOut } = fans(shape);
      return normal(shape, 0, (options.gain ?? 1) * Math.sqrt(2 / (fanIn + fanOut)), o);
    };
  },
  /** He et al.: U(−b, b) with b = gain · √(3 / fan) */
  kaimingUniform: (options: KaimingOptions = {}): Initializer => {
    checked('init.kaimingUniform', KAIMING_KEYS, options);
    return (shape, o = {}) => {
      const b = Math.sqrt(3) * kaimingStd(shape, options);
      return uniform(shape, -b, b, o);
    };
  },
  /** He et al.: N(0, σ²) with σ = gain / √fan */
  kaimingNormal: (options: KaimingOptions = {}): Initializer => {
    checked('init.kaimingNormal', KAIMING_KEYS, options);
    return (shape, o = {}) => normal(shape, 0, kaimingStd(shape, options), o);
  },
  /**
   * Saxe et al.: a (semi-)orthogonal matrix from the QR decomposition of a Gaussian one,
   * with R's diagonal made positive so the distribution is uniform (Haar); dims after
   * the first are flattened.
   */
  orthogonal: (options: GainOptions = {}): Initializer => {
    checked('init.orthogonal', GAIN_KEYS, options);
    return (shape, o = {}) => orthogonalInit(shape, options.gain ?? 1, o);
  },
};

/** The orthogonal initializer's draw (see `init.orthogonal`). */
function orthogonalInit(shape: readonly number[], gain: number, o: { dtype?: DType; backend?: string }): Tensor {
  if (shape.length < 2) throw new Error(`init.orthogonal: needs at least 2 dims, got [${shape.join(',')}]`);
  const rows = shape[0];
  const cols = sizeOf(shape) / rows;
  const g = randn([rows, cols], { dtype: 'float64', backend: o.backend });
  const a = Float64Array.from(g.dataSync());
  g.dispose();
  const q = orthonormalize(a, rows, cols);
  return fromArray(q.map((v) => v * gain), shape, o);
}

/**
 * Orthonormalize the rows (if rows ≤ cols) or the columns of a row-major matrix by
 * modified Gram–Schmidt. This equals QR with a positive diagonal of R.
 */
function orthonormalize(a: Float64Array, rows: number, cols: number): Float64Array {
  const tall = rows > cols;
  const n = tall ? cols : rows; // vectors to orthonormalize
  const len = tall ? rows : cols;
  const at = (v: number, i: number) => (tall ? i * cols + v : v * cols + i);
  for (let v = 0; v < n; v++) {
    for (let u = 0; u < v; u++) {
      let dot = 0;
      for (let i = 0; i < len; i++) dot += a[at(u, i)] * a[at(v, i)];
      for (let i = 0; i < len; i++) a[at(v, i)] -= dot * a[at(u, i)];
    }
    let norm = 0;
    for (let i = 0; i < len; i++) norm += a[at(v, i)] ** 2;
    norm = Math.sqrt(norm);
    for (let i = 0; i < len; i++) a[at(v, i)] /= norm;
  }
  return a;
}

/** Overwrite `t` in place with values from `initializer` (PyTorch's `nn.init.*_`). */
export function initialize_(t: Tensor, initializer: Initializer): Tensor {
  noGrad(() => {
    const v = initializer(t.shape, { dtype: t.dtype, backend: t.backend.name });
    t.assign(v);
    v.dispose();
  });
  return t;
}

/** Names accepted wherever an initializer is expected (Keras's string form). */
export type InitializerName =
  | 'zeros'
  | 'ones'
  | 'glorotUniform'
  | 'glorotNormal'
  | 'xavierUniform'
  | 'xavierNormal'
  | 'heUniform'
  | 'heNormal'
  | 'kaimingUniform'
  | 'kaimingNormal'
  | 'orthogonal';

export function getInitializer(spec: Initializer | InitializerName): Initializer {
  if (typeof spec === 'function') return spec;
  switch (spec) {
    case 'zeros':
      return init.zeros();
    case 'ones':
      return init.ones();
    case 'glorotUniform':
    case 'xavierUniform':
      return init.xavierUniform();
    case 'glorotNormal':
    case 'xavierNormal':
      return init.xavierNormal();
    case 'heUniform':
    case 'kaimingUniform':
      return init.kaimingUniform({ nonlinearity: 'relu' });
    case 'heNormal':
    case 'kaimingNormal':
      return init.kaimingNormal({ nonlinearity: 'relu' });
    case 'orthogonal':
      return init.orthogonal();
    default:
      throw new Error(`unknown initializer '${String(spec)}'`);
  }
}

/** PyTorch's default for Linear/Conv weights and biases: U(−1/√fan_in, 1/√fan_in). */
export function fanInUniform(fanIn: number): Initializer {
  const b = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return init.uniform(-b, b);
}
