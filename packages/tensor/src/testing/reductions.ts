/** Conformance cases: reductions, softmax and softmax cross-entropy. */
import {
  softmaxCrossEntropy,
  softmaxCrossEntropyBackward,
  argmax,
  argmin,
  logSoftmax,
  logsumexp,
  max,
  mean,
  min,
  prod,
  scalar,
  softmax,
  std,
  sum,
  tensor,
  variance,
  zeros,
} from '../index.js';
import { assertClose, assertThrows, pattern } from './assert.js';
import {
  type CaseDef,
  f32,
  i32,
  f64,
  ifFloat64,
} from './case-helpers.js';

export const REDUCTION_CASES: CaseDef[] = [
  // ------------------------------------------------------------ reductions
  // X = pattern([2,3,4], 11, 5, 0.5) = ((arange(24) % 11) - 5) * 0.5
  //   = [[[-2.5,-2,-1.5,-1],[-0.5,0,0.5,1],[1.5,2,2.5,-2.5]], [[-2,-1.5,-1,-0.5],[0,0.5,1,1.5],[2,2.5,-2.5,-2]]]
  [
    // numpy: X.sum(); X.sum(1); X.sum(-1, keepdims=True); X.sum((0, 2))
    'reduce: sum — full, dim, negative dim with keepdim, multiple dims',
    async () => {
      const x = pattern([2, 3, 4], 11, 5, 0.5);
      await assertClose(sum(x), -4.5, f32);
      await assertClose(x.sum(undefined, true), [[[-4.5]]], f32);
      await assertClose(sum(x, 1), [[-1.5, 0.0, 1.5, -2.5], [0.0, 1.5, -2.5, -1.0]], f32);
      await assertClose(sum(x, -1, true), [[[-7.0], [1.0], [3.5]], [[-5.0], [3.0], [0.0]]], f32);
      await assertClose(sum(x, [0, 2]), [-12.0, 4.0, 3.5], f32);
      await assertClose(sum(x, [2, 0]), [-12.0, 4.0, 3.5], f32);
    },
  ],
  [
    // numpy: X.mean(); X.mean(0); X.mean(-2, keepdims=True); X.mean((1, 2))
    'reduce: mean — full, dim, negative dim with keepdim, multiple dims',
    async () => {
      const x = pattern([2, 3, 4], 11, 5, 0.5);
      await assertClose(mean(x), -0.1875, f32);
      await assertClose(mean(x, 0), [[-2.25, -1.75, -1.25, -0.75], [-0.25, 0.25, 0.75, 1.25], [1.75, 2.25, 0.0, -2.25]], f32);
      await assertClose(x.mean(-2, true), [[[-0.5, 0.0, 0.5, -0.833333333]], [[0.0, 0.5, -0.833333333, -0.333333333]]], f32);
      await assertClose(mean(x, [1, 2]), [-0.208333333, -0.166666667], f32);
    },
  ],
  [
    // numpy: X.max(); X.max(1); X.min(-1, keepdims=True); X.min((0, 2))
    'reduce: max and min (values) over dims',
    async () => {
      const x = pattern([2, 3, 4], 11, 5, 0.5);
      await assertClose(max(x), 2.5, f32);
      await assertClose(max(x, 1), [[1.5, 2.0, 2.5, 1.0], [2.0, 2.5, 1.0, 1.5]], f32);
      await assertClose(x.min(-1, true), [[[-2.5], [-0.5], [-2.5]], [[-2.0], [0.0], [-2.5]]], f32);
      await assertClose(min(x, [0, 2]), [-2.5, -0.5, -2.5], f32);
      await assertClose(max(tensor([1, NaN, 3])), NaN, { ...f32, label: 'max propagates NaN' });
      await assertClose(max(tensor([-Infinity, -5])), -5, f32);
    },
  ],
  [
    // Xp = pattern([2,3], 4, -1, 0.5) = [[0.5,1,1.5],[2,0.5,1]]; numpy: Xp.prod(); Xp.prod(0); Xp.prod(-1, keepdims=True)
    'reduce: prod',
    async () => {
      const x = pattern([2, 3], 4, -1, 0.5);
      await assertClose(prod(x), 0.75, f32);
      await assertClose(prod(x, 0), [1.0, 0.5, 1.5], f32);
      await assertClose(x.prod(-1, true), [[0.75], [1.0]], f32);
    },
  ],
  [
    // numpy: X.argmax() = 10 (2.5 also at 21: first wins); X.argmax(1); X.argmin(-1)[..., None]; X.argmin() = 0
    'reduce: argmax and argmin (int32, first index wins ties, keepdim)',
    async () => {
      const x = pattern([2, 3, 4], 11, 5, 0.5);
      await assertClose(argmax(x), 10, i32);
      await assertClose(argmax(x, 1), [[2, 2, 2, 1], [2, 2, 1, 1]], i32);
      await assertClose(x.argmin(-1, true), [[[0], [0], [3]], [[0], [0], [2]]], i32);
      await assertClose(argmin(x), 0, i32);
      await assertClose(argmax(tensor([1, 3, 3, 2])), 1, i32);
      await assertClose(argmax(tensor([[1, 9], [8, 2]]), 0, true), [[1, 0]], i32);
    },
  ],
  [
    // numpy: X.var(1, ddof=1); X.var(ddof=1); X.std((0,2), ddof=0, keepdims=True); X.std(-1, ddof=1)
    'reduce: var and std (unbiased by default, correction 0, keepdim)',
    async () => {
      const x = pattern([2, 3, 4], 11, 5, 0.5);
      await assertClose(variance(x, 1), [[4.0, 4.0, 4.0, 3.08333333], [4.0, 4.0, 3.08333333, 3.08333333]], f32);
      await assertClose(x.var(), 2.80027174, f32);
      await assertClose(std(x, [0, 2], { correction: 0, keepdim: true }), [[[0.612372436], [0.612372436], [2.1713691]]], f32);
      await assertClose(x.std(-1), [[0.645497224, 0.645497224, 2.28673712], [0.645497224, 0.645497224, 2.61406452]], f32);
      // by hand: population std of [2,4,4,4,5,5,7,9] is exactly 2
      await assertClose(std(tensor([2, 4, 4, 4, 5, 5, 7, 9]), undefined, { correction: 0 }), 2, f32);
    },
  ],
  [
    // numpy: np.log(np.sum(np.exp(X), axis)); logsumexp([1000, 1000]) = 1000 + log 2
    'reduce: logsumexp (dims, keepdim, large and -inf inputs)',
    async () => {
      const x = pattern([2, 3, 4], 11, 5, 0.5);
      await assertClose(logsumexp(x, 2), [[-0.212661328, 1.78733867, 3.1836765], [0.287338672, 2.28733867, 2.98512473]], f32);
      await assertClose(logsumexp(x, [0, 1], true), [[[2.61700861, 3.11700861, 2.84622199, 2.12725519]]], f32);
      await assertClose(x.logsumexp(-1), [[-0.212661328, 1.78733867, 3.1836765], [0.287338672, 2.28733867, 2.98512473]], f32);
      await assertClose(logsumexp(tensor([1000, 1000]), 0), 1000 + Math.LN2, f32);
      await assertClose(logsumexp(tensor([[-Infinity, -Infinity], [0, -Infinity]]), 1), [-Infinity, 0], f32);
    },
  ],
  [
    // XT = X.transpose(2, 0, 1); numpy: XT.sum(0); XT.max(2)
    'reduce: over a non-contiguous (permuted) input',
    async () => {
      const xt = pattern([2, 3, 4], 11, 5, 0.5).permute(2, 0, 1);
      await assertClose(sum(xt, 0), [[-7.0, 1.0, 3.5], [-5.0, 3.0, 0.0]], f32);
      await assertClose(max(xt, 2), [[1.5, 2.0], [2.0, 2.5], [2.5, 1.0], [1.0, 1.5]], f32);
      await assertClose(argmax(xt, 0), [[3, 3, 2], [3, 3, 1]], i32);
    },
  ],
  [
    // by hand: sum over an empty dim is 0, prod is 1, mean is nan (torch/numpy)
    'reduce: zero-size inputs ([0,3] sum over dim 0 → zeros [3])',
    async () => {
      const e = zeros([0, 3]);
      await assertClose(sum(e, 0), [0, 0, 0], f32);
      await assertClose(sum(e, 1), [], { shape: [0], dtype: 'float32' });
      await assertClose(sum(e), 0, f32);
      await assertClose(prod(e, 0), [1, 1, 1], f32);
      await assertClose(mean(e, 0), [NaN, NaN, NaN], f32);
      assertThrows(() => max(e, 0), /max: cannot reduce over an empty dim of \[0,3\]/);
    },
  ],
  [
    // PyTorch accepts dim 0 / -1 on a 0-d tensor (torch.sum(torch.tensor(3.), 0) == 3) and so does
    // normAxis here, but reduce.ts passes axes [0] to the backend for a 0-d input.
    'reduce: 0-d input with dim 0 / -1',
    async () => {
      const s = scalar(3);
      await assertClose(sum(s, 0), 3, { ...f32, label: 'sum(0-d, 0)' });
      await assertClose(sum(s, -1, true), 3, { ...f32, label: 'sum(0-d, -1, keepdim)' });
      await assertClose(mean(s, 0), 3, { ...f32, label: 'mean(0-d, 0)' });
      await assertClose(max(s, 0), 3, { ...f32, label: 'max(0-d, 0)' });
      await assertClose(softmax(s, 0), 1, { ...f32, label: 'softmax(0-d)' });
      await assertClose(logsumexp(s, 0), 3, { ...f32, label: 'logsumexp(0-d, 0)' });
    },
  ],

  // ------------------------------------------------------------ softmax
  [
    // S = [[1,2,3],[-1,0,5]]; numpy: e = np.exp(S - S.max(ax, keepdims=True)); e / e.sum(ax, keepdims=True)
    'softmax: dim -1 and dim 0',
    async () => {
      const s = tensor([[1, 2, 3], [-1, 0, 5]]);
      await assertClose(softmax(s), [[0.0900305732, 0.244728471, 0.665240956], [0.0024561149, 0.00667641251, 0.990867473]], f32);
      await assertClose(s.softmax(0), [[0.880797078, 0.880797078, 0.119202922], [0.119202922, 0.119202922, 0.880797078]], f32);
      await assertClose(sum(softmax(s, 1), 1), [1, 1], f32);
    },
  ],
  [
    // numpy: S - m - np.log(np.exp(S - m).sum(-1, keepdims=True)), m = S.max(-1, keepdims=True)
    'logSoftmax: dim -1',
    async () => {
      const s = tensor([[1, 2, 3], [-1, 0, 5]]);
      await assertClose(logSoftmax(s), [[-2.40760596, -1.40760596, -0.407605964], [-6.00917448, -5.00917448, -0.00917448459]], f32);
      await assertClose(s.transpose(0, 1).logSoftmax(0), [[-2.40760596, -6.00917448], [-1.40760596, -5.00917448], [-0.407605964, -0.00917448459]], f32);
    },
  ],
  [
    // L = [[1000,1001,1002],[-1000,0,1000]]; stable numpy softmax/log_softmax as above
    'softmax/logSoftmax: large logits (±1000) stay finite',
    async () => {
      const l = tensor([[1000, 1001, 1002], [-1000, 0, 1000]]);
      await assertClose(softmax(l), [[0.0900305732, 0.244728471, 0.665240956], [0.0, 0.0, 1.0]], f32);
      await assertClose(logSoftmax(l), [[-2.40760596, -1.40760596, -0.407605964], [-2000.0, -1000.0, 0.0]], f32);
    },
  ],
  [
    'softmax: -inf logits get probability 0; int32 input gives float32',
    async () => {
      await assertClose(softmax(tensor([0, -Infinity, 0])), [0.5, 0, 0.5], f32);
      await assertClose(softmax(tensor([[3, 3]], i32)), [[0.5, 0.5]], f32);
      await assertClose(logSoftmax(tensor([0, 0], i32)), [-Math.LN2, -Math.LN2], f32);
      await ifFloat64(() => assertClose(softmax(tensor([1, 2], f64)), [1 / (1 + Math.E), Math.E / (1 + Math.E)], { ...f64, atol: 1e-12 }));
    },
  ],
  [
    // the logSoftmax cases' numbers: loss_i = −logSoftmax(s)_i[t_i]; gradient softmax(s) − onehot(t)
    'softmaxCrossEntropy: mean, sum and none; its gradient rule; large logits; bad targets',
    async () => {
      const s = tensor([[1, 2, 3], [-1, 0, 5]]);
      const t = tensor([2, 0], i32);
      await assertClose(softmaxCrossEntropy(s, t, 'none'), [0.407605964, 6.00917448], f32);
      await assertClose(softmaxCrossEntropy(s, t), 3.20839022, { ...f32, shape: [] });
      await assertClose(softmaxCrossEntropy(s, t, 'sum'), 6.41678044, { ...f32, shape: [] });
      const g = [[0.0900305732, 0.244728471, -0.334759044], [-0.997543885, 0.00667641251, 0.990867473]];
      await assertClose(softmaxCrossEntropyBackward(s, t, tensor(2), 'mean'), g, f32);
      await assertClose(softmaxCrossEntropyBackward(s, t, tensor(1), 'sum'), g, f32);
      await assertClose(softmaxCrossEntropyBackward(s, t, tensor([1, 0]), 'none'), [g[0], [0, 0, 0]], f32);
      await assertClose(softmaxCrossEntropy(tensor([[1000, 1001, 1002], [-1000, 0, 1000]]), tensor([0, 1], i32), 'none'), [2.40760596, 1000], f32);
      await assertClose(softmaxCrossEntropy(s.transpose(0, 1).transpose(0, 1).mul(1), t, 'none'), [0.407605964, 6.00917448], f32);
      assertThrows(() => softmaxCrossEntropy(s, tensor([0, 1, 2], i32)), /softmaxCrossEntropy: logits \[2,3\] need class indices of shape \[2\], got \[3\]/);
      assertThrows(() => softmaxCrossEntropy(s, tensor([0, 1])), /softmaxCrossEntropy: target must be int32 class indices, got float32/);
      assertThrows(() => softmaxCrossEntropy(tensor([1, 2]), tensor([0], i32)), /softmaxCrossEntropy: logits must be \[N, C\], got \[2\]/);
      assertThrows(() => softmaxCrossEntropyBackward(s, t, tensor([1, 1]), 'mean'), /softmaxCrossEntropyBackward: dy must be \[\] for reduction 'mean', got \[2\]/);
      assertThrows(() => softmaxCrossEntropy(s, t, 'avg' as 'mean'), /softmaxCrossEntropy: reduction must be 'mean', 'sum' or 'none', got 'avg'/);
    },
  ],
];
