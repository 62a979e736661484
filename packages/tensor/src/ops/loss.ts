import { fmt, ShapeError } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { softmax, logSoftmax } from './activation.js';
import { div, mul, neg, sub } from './elementwise.js';
import { gather, oneHot } from './indexing.js';
import { squeeze, unsqueeze } from './layout.js';
import { defineOp } from '../op.js';
import { assertFloat, runOp } from './prim.js';
import { mean, sum } from './reduce.js';

/** How per-sample losses are combined: their mean, their sum, or not at all ([N]). */
export type LossReduction = 'mean' | 'sum' | 'none';

function checkReduction(op: string, reduction: LossReduction): void {
  if (reduction !== 'mean' && reduction !== 'sum' && reduction !== 'none') {
    throw new Error(`${op}: reduction must be 'mean', 'sum' or 'none', got '${String(reduction)}'`);
  }
}

function checkOperands(op: string, logits: Tensor, target: Tensor): void {
  assertFloat(op, logits);
  if (logits.ndim !== 2) throw new ShapeError(`${op}: logits must be [N, C], got ${fmt(logits.shape)}`);
  if (target.dtype !== 'int32') throw new TypeError(`${op}: target must be int32 class indices, got ${target.dtype}`);
  if (target.ndim !== 1 || target.shape[0] !== logits.shape[0]) {
    throw new ShapeError(`${op}: logits ${fmt(logits.shape)} need class indices of shape [${logits.shape[0]}], got ${fmt(target.shape)}`);
  }
}

/** What a reduction divides the summed losses by (null: no reduction, per-sample losses). */
function divisorOf(reduction: LossReduction, n: number): number | null {
  return reduction === 'none' ? null : reduction === 'sum' ? 1 : n;
}

/** Cross-entropy from logits and int32 classes; ∂logits = softmaxCrossEntropyBackward (the target has none). */
const softmaxCrossEntropyOp = defineOp<{ reduction: LossReduction }>({
  name: 'softmaxCrossEntropy',
  grad: (dy, n) => {
    const [x, target] = n.inputs;
    return [softmaxCrossEntropyBackward(x, target, dy, n.attrs.reduction), null];
  },
  fused: (b, [x, t], a) => b.softmaxCrossEntropy?.(x, t, divisorOf(a.reduction, x.shape[0])) ?? null,
});

/** Its gradient as one op; differentiated through its composite (softmax − onehot, scaled). */
const softmaxCrossEntropyBackwardOp = defineOp<{ reduction: LossReduction }>({
  name: 'softmaxCrossEntropyBackward',
  fused: (b, [x, t, dy], a) => b.softmaxCrossEntropyBackward?.(x, t, dy, divisorOf(a.reduction, x.shape[0]) ?? 1) ?? null,
});

/**
 * Cross-entropy of logits [N, C] against class indices (int32 [N], each in [0, C)):
 * loss_i = logsumexp(x_i) − x_i[target_i], reduced by `reduction` (default 'mean').
 * One fused pass on the CPU-family backends, recorded as one op whose gradient is
 * (softmax(x) − onehot(target))·dy; elsewhere (and to differentiate twice) the composite
 * −gather(logSoftmax(x), target). The plain case of `crossEntropy` in @ml/nn.
 */
export function softmaxCrossEntropy(logits: Tensor, target: Tensor, reduction: LossReduction = 'mean'): Tensor {
  checkOperands('softmaxCrossEntropy', logits, target);
  checkReduction('softmaxCrossEntropy', reduction);
  const shape = reduction === 'none' ? [logits.shape[0]] : [];
  return runOp(softmaxCrossEntropyOp, [logits, target], { reduction }, { shape, dtype: logits.dtype }, () => {
    const l = neg(squeeze(gather(logSoftmax(logits, 1), 1, unsqueeze(target, 1)), 1));
    return reduction === 'none' ? l : reduction === 'sum' ? sum(l) : mean(l);
  });
}

/**
 * ∂L/∂logits of {@link softmaxCrossEntropy} for its output gradient `dy` (a scalar, or [N]
 * with reduction 'none'): (softmax(x) − onehot(target))·dy, divided by N for 'mean'. Its
 * gradient rule; one fused pass on the CPU-family backends, a composite elsewhere.
 */
export function softmaxCrossEntropyBackward(logits: Tensor, target: Tensor, dy: Tensor, reduction: LossReduction = 'mean'): Tensor {
  checkOperands('softmaxCrossEntropyBackward', logits, target);
  checkReduction('softmaxCrossEntropyBackward', reduction);
  const want = reduction === 'none' ? [logits.shape[0]] : [];
  if (dy.ndim !== want.length || dy.shape.some((d, i) => d !== want[i])) {
    throw new ShapeError(`softmaxCrossEntropyBackward: dy must be ${fmt(want)} for reduction '${reduction}', got ${fmt(dy.shape)}`);
  }
  return runOp(softmaxCrossEntropyBackwardOp, [logits, target, dy], { reduction }, { shape: logits.shape, dtype: logits.dtype }, () => {
    const g = reduction === 'none' ? unsqueeze(dy, 1) : reduction === 'mean' ? div(dy, logits.shape[0]) : dy;
    return mul(sub(softmax(logits, 1), oneHot(target, logits.shape[1], logits.dtype)), g);
  });
}
