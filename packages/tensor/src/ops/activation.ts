import { isFloat } from '../dtype.js';
import { fmt, normAxis, ShapeError } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { add, div, erf, exp, expm1, gt, log1p, minimum, mul, neg, sigmoid, sub, tanh, where } from './elementwise.js';
import { defineOp } from '../op.js';
import { castTo, runOp } from './prim.js';
import { logsumexp, max, sum } from './reduce.js';


/** softmax along `dim`: ∂x = s ∘ (dy − Σ dy ∘ s). */
const softmaxOp = defineOp<{ dim: number }>({
  name: 'softmax',
  grad: (dy, n) => {
    const s = n.output;
    return [mul(s, sub(dy, sum(mul(dy, s), n.attrs.dim, true)))];
  },
  fused: (b, [x], a) => b.softmax?.(x, a.dim) ?? null,
});

/** log-softmax along `dim`: ∂x = dy − exp(y) Σ dy. */
const logSoftmaxOp = defineOp<{ dim: number }>({
  name: 'logSoftmax',
  grad: (dy, n) => [sub(dy, mul(exp(n.output), sum(dy, n.attrs.dim, true)))],
  fused: (b, [x], a) => b.logSoftmax?.(x, a.dim) ?? null,
});

/** relu's gradient as one op (a fused pass on the CPU-family backends); differentiated through its composite. */
const reluBackwardOp = defineOp({
  name: 'reluBackward',
  fused: (b, [x, dy]) => b.reluBackward?.(x, dy) ?? null,
});

function asFloat(x: Tensor): Tensor {
  return isFloat(x.dtype) ? x : castTo(x, 'float32');
}

/** softmax(x)_i = exp(x_i - m) / Σ_j exp(x_j - m), m = max(x) (detached; it cancels). */
export function softmax(x: Tensor, dim = -1): Tensor {
  const d = normAxis('softmax', dim, x.ndim);
  const xf = asFloat(x);
  return runOp(softmaxOp, [xf], { dim: d }, { shape: xf.shape, dtype: xf.dtype }, () => {
    const e = exp(sub(xf, max(xf.detach(), d, true)));
    return div(e, sum(e, d, true));
  });
}

/** log softmax(x) = x - logsumexp(x), stable for large logits. */
export function logSoftmax(x: Tensor, dim = -1): Tensor {
  const d = normAxis('logSoftmax', dim, x.ndim);
  const xf = asFloat(x);
  return runOp(logSoftmaxOp, [xf], { dim: d }, { shape: xf.shape, dtype: xf.dtype }, () => sub(xf, logsumexp(xf, d, true)));
}

/**
 * ∂L/∂x of relu for the output gradient `dy`: dy where x > 0, else 0. The relu gradient
 * rule; one fused pass on the CPU-family backends, differentiable in dy as a composite.
 */
export function reluBackward(x: Tensor, dy: Tensor): Tensor {
  if (x.ndim !== dy.ndim || x.shape.some((d, i) => d !== dy.shape[i])) {
    throw new ShapeError(`reluBackward: dy must have x's shape ${fmt(x.shape)}, got ${fmt(dy.shape)}`);
  }
  return runOp(reluBackwardOp, [x, dy], {}, { shape: x.shape, dtype: x.dtype }, () => where(gt(x, 0), dy, 0));
}

/** max(x, 0) + slope·min(x, 0) */
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  return where(gt(x, 0), x, mul(x, negativeSlope));
}

/** x for x > 0, α(eˣ − 1) otherwise (expm1 of min(x,0) keeps the unused branch finite). */
export function elu(x: Tensor, alpha = 1): Tensor {
  return where(gt(x, 0), x, mul(expm1(minimum(x, 0)), alpha));
}

/** GELU's variant: the exact x·Φ(x) ('none') or PyTorch's tanh approximation ('tanh'). */
export type GeluApproximate = 'none' | 'tanh';

/** gelu; its gradient is geluBackward (one pass on the CPU-family backends). */
const geluOp = defineOp<{ approximate: GeluApproximate }>({
  name: 'gelu',
  grad: (dy, n) => [geluBackward(n.inputs[0], dy, n.attrs.approximate, n.saved)],
  fused: (b, [x], a, save) => b.gelu?.(x, a.approximate, save) ?? null,
});

/** gelu's gradient as one op; differentiated through its composite. `saved`: what the forward kernel kept (Φ(x) or the tanh). */
const geluBackwardOp = defineOp<{ approximate: GeluApproximate; saved: readonly Tensor[] }>({
  name: 'geluBackward',
  fused: (b, [x, dy], a) => b.geluBackward?.(x, dy, a.approximate, a.saved.map((t) => t.view_())) ?? null,
});

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_TANH_C = 0.044715;

function checkApproximate(op: string, approximate: GeluApproximate): void {
  if (approximate !== 'none' && approximate !== 'tanh') throw new Error(`${op}: approximate must be 'none' or 'tanh', got '${String(approximate)}'`);
}

/**
 * x·Φ(x) = ½x(1 + erf(x/√2)); `approximate: 'tanh'` uses ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
 * One fused pass on the CPU-family backends, a composite elsewhere.
 */
export function gelu(x: Tensor, approximate: GeluApproximate = 'none'): Tensor {
  checkApproximate('gelu', approximate);
  const xf = asFloat(x);
  return runOp(geluOp, [xf], { approximate }, { shape: xf.shape, dtype: xf.dtype }, () => {
    if (approximate === 'tanh') {
      const inner = mul(add(xf, mul(mul(mul(xf, xf), xf), GELU_TANH_C)), SQRT_2_OVER_PI);
      return mul(mul(xf, 0.5), add(tanh(inner), 1));
    }
    return mul(mul(xf, 0.5), add(erf(mul(xf, Math.SQRT1_2)), 1));
  });
}

/**
 * ∂L/∂x of {@link gelu} for the output gradient `dy` (x's shape): dy·(Φ(x) + x·φ(x)), with
 * φ(x) = e^{−x²/2}/√(2π); for 'tanh', with t = tanh(√(2/π)(x + 0.044715x³)),
 * dy·(½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715x²)). gelu's gradient rule; `saved` is
 * what the forward kernel kept (Φ(x), or t), so the backward pass needs no erf.
 */
export function geluBackward(x: Tensor, dy: Tensor, approximate: GeluApproximate = 'none', saved: readonly Tensor[] = []): Tensor {
  checkApproximate('geluBackward', approximate);
  if (x.ndim !== dy.ndim || x.shape.some((d, i) => d !== dy.shape[i])) {
    throw new ShapeError(`geluBackward: dy must have x's shape ${fmt(x.shape)}, got ${fmt(dy.shape)}`);
  }
  return runOp(geluBackwardOp, [x, dy], { approximate, saved }, { shape: x.shape, dtype: x.dtype }, () => {
    if (approximate === 'tanh') {
      const x2 = mul(x, x);
      const t = tanh(mul(add(x, mul(mul(x2, x), GELU_TANH_C)), SQRT_2_OVER_PI));
      const dInner = mul(add(mul(x2, 3 * GELU_TANH_C), 1), SQRT_2_OVER_PI);
      return mul(dy, add(mul(add(t, 1), 0.5), mul(mul(mul(x, 0.5), sub(1, mul(t, t))), dInner)));
    }
    const cdf = mul(add(erf(mul(x, Math.SQRT1_2)), 1), 0.5);
    const pdf = mul(exp(mul(mul(x, x), -0.5)), 1 / Math.sqrt(2 * Math.PI));
    return mul(dy, add(cdf, mul(x, pdf)));
  });
}

/** (1/β)·log(1 + e^{βx}), linear above `threshold` like PyTorch. */
export function softplus(x: Tensor, beta = 1, threshold = 20): Tensor {
  const xf = asFloat(x);
  const bx = mul(xf, beta);
  const soft = div(log1p(exp(minimum(bx, threshold))), beta);
  return where(gt(bx, threshold), xf, soft);
}

/** x·σ(x) (a.k.a. swish). */
export function silu(x: Tensor): Tensor {
  const xf = asFloat(x);
  return mul(xf, sigmoid(xf));
}

/** log σ(x) = −softplus(−x). */
export function logSigmoid(x: Tensor): Tensor {
  return neg(softplus(neg(asFloat(x))));
}
