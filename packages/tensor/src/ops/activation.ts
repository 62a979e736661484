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

/** x·Φ(x) = ½x(1 + erf(x/√2)); `approximate: 'tanh'` uses ½x(1 + tanh(√(2/π)(x + 0.044715x³))). */
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  const xf = asFloat(x);
  if (approximate === 'tanh') {
    const inner = mul(add(xf, mul(mul(mul(xf, xf), xf), 0.044715)), Math.sqrt(2 / Math.PI));
    return mul(mul(xf, 0.5), add(tanh(inner), 1));
  }
  return mul(mul(xf, 0.5), add(erf(mul(xf, Math.SQRT1_2)), 1));
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
