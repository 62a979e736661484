/** Conformance cases: unary and binary elementwise ops, activations, broadcasting. */
import {
  abs,
  arange,
  ceil,
  clamp,
  cos,
  div,
  elu,
  eq,
  erf,
  exp,
  expm1,
  floor,
  ge,
  gelu,
  gt,
  isFinite,
  isNaN,
  le,
  leakyRelu,
  log,
  log1p,
  logicalAnd,
  logicalNot,
  logicalOr,
  logSigmoid,
  lt,
  maximum,
  minimum,
  mul,
  ne,
  neg,
  pow,
  reciprocal,
  relu,
  round,
  rsqrt,
  scalar,
  sigmoid,
  sign,
  silu,
  sin,
  softplus,
  sqrt,
  square,
  sub,
  tanh,
  tensor,
  where,
  add,
} from '../index.js';
import { assertClose } from './assert.js';
import {
  type CaseDef,
  f32,
  i32,
  f64,
  bool,
  ifFloat64,
  U,
  P,
  unaryCase,
} from './case-helpers.js';

export const ELEMENTWISE_CASES: CaseDef[] = [
  // ------------------------------------------------------------ unary (expected: numpy, see fixtures script)
  [
    'unary: neg, abs, sign, square (float and int32)',
    async () => {
      const x = tensor(U);
      await assertClose(neg(x), [3, 1.5, 0.5, 0, -0.25, -1, -2.5], f32);
      await assertClose(abs(x), [3, 1.5, 0.5, 0, 0.25, 1, 2.5], f32);
      await assertClose(sign(x), [-1, -1, -1, 0, 1, 1, 1], f32);
      await assertClose(square(x), [9, 2.25, 0.25, 0, 0.0625, 1, 6.25], f32);
      const k = tensor([-5, 0, 7], i32);
      await assertClose(neg(k), [5, 0, -7], i32);
      await assertClose(abs(k), [5, 0, 7], i32);
      await assertClose(sign(k), [-1, 0, 1], i32);
      await assertClose(x.neg().abs(), [3, 1.5, 0.5, 0, 0.25, 1, 2.5], f32);
    },
  ],
  // np.exp(U)
  unaryCase('exp', exp, U, [0.0497870684, 0.22313016, 0.60653066, 1.0, 1.28402542, 2.71828183, 12.182494]),
  // np.expm1(U)
  unaryCase('expm1', expm1, U, [-0.950212932, -0.77686984, -0.39346934, 0.0, 0.284025417, 1.71828183, 11.182494], async () => {
    // expm1 keeps precision near 0: expm1(1e-7) = 1.00000005e-7 (np.expm1(np.float32(1e-7)))
    await assertClose(expm1(tensor([1e-7])), [1.00000005e-7], { atol: 1e-12, rtol: 1e-4 });
  }),
  // np.log(P); log(0) = -inf, log(-1) = nan
  unaryCase('log', log, P, [-2.30258509, -0.693147181, 0.0, 0.693147181, 2.30258509], async () => {
    await assertClose(log(tensor([0, -1])), [-Infinity, NaN], f32);
  }),
  // np.log1p(P); log1p(-1) = -inf; log1p(1e-7) ≈ 1e-7
  unaryCase('log1p', log1p, P, [0.0953101798, 0.405465108, 0.693147181, 1.09861229, 2.39789527], async () => {
    await assertClose(log1p(tensor([-1, 1e-7])), [-Infinity, 9.9999995e-8], { atol: 1e-12, rtol: 1e-4 });
  }),
  // np.sqrt(P); sqrt(-1) = nan
  unaryCase('sqrt', sqrt, P, [0.316227766, 0.707106781, 1.0, 1.41421356, 3.16227766], async () => {
    await assertClose(sqrt(tensor([0, -1, 16])), [0, NaN, 4], f32);
  }),
  // 1 / np.sqrt(P); rsqrt(0) = inf
  unaryCase('rsqrt', rsqrt, P, [3.16227766, 1.41421356, 1.0, 0.707106781, 0.316227766], async () => {
    await assertClose(rsqrt(tensor([0, 4])), [Infinity, 0.5], f32);
  }),
  // np.sin(U)
  unaryCase('sin', sin, U, [-0.141120008, -0.997494987, -0.479425539, 0.0, 0.247403959, 0.841470985, 0.598472144]),
  // np.cos(U)
  unaryCase('cos', cos, U, [-0.989992497, 0.0707372017, 0.877582562, 1.0, 0.968912422, 0.540302306, -0.801143616]),
  // np.tanh(U); tanh(±50) = ±1
  unaryCase('tanh', tanh, U, [-0.995054754, -0.905148254, -0.462117157, 0.0, 0.244918662, 0.761594156, 0.986614298], async () => {
    await assertClose(tanh(tensor([-50, 50])), [-1, 1], f32);
  }),
  // 1 / (1 + np.exp(-U)); sigmoid(-100) ≈ 3.7e-44, sigmoid(100) = 1: both finite
  unaryCase('sigmoid', sigmoid, U, [0.0474258732, 0.182425524, 0.377540669, 0.5, 0.562176501, 0.731058579, 0.92414182], async () => {
    await assertClose(sigmoid(tensor([-100, 100])), [0, 1], f32);
  }),
  // by hand: max(U, 0)
  unaryCase('relu', relu, U, [0, 0, 0, 0, 0.25, 1, 2.5], async () => {
    await assertClose(relu(tensor([-3, 0, 4], i32)), [0, 0, 4], i32);
  }),
  // math.erf over U; erf(±6) = ±1
  unaryCase('erf', erf, U, [-0.99997791, -0.966105146, -0.520499878, 0.0, 0.27632639, 0.842700793, 0.999593048], async () => {
    await assertClose(erf(tensor([-6, 6])), [-1, 1], f32);
  }),
  // by hand: 1 / P; reciprocal(0) = inf, reciprocal(-0.5) = -2
  unaryCase('reciprocal', reciprocal, P, [10, 2, 1, 0.5, 0.1], async () => {
    await assertClose(reciprocal(tensor([0, -0.5])), [Infinity, -2], f32);
  }),
  [
    // by hand; round is half-to-even (np.round): -2.5 → -2, -1.5 → -2, 0.5 → 0, 1.5 → 2, 2.5 → 2
    'unary: floor, ceil, round (half to even), int32 stays int32',
    async () => {
      const x = tensor([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, -1.7, 1.2]);
      await assertClose(floor(x), [-3, -2, -1, 0, 1, 2, -2, 1], f32);
      await assertClose(ceil(x), [-2, -1, -0, 1, 2, 3, -1, 2], f32);
      await assertClose(round(x), [-2, -2, -0, 0, 2, 2, -2, 1], f32);
      const k = tensor([-3, 4], i32);
      await assertClose(floor(k), [-3, 4], i32);
      await assertClose(round(k), [-3, 4], i32);
    },
  ],
  [
    'unary: isNaN, isFinite, logicalNot',
    async () => {
      const x = tensor([1, NaN, Infinity, -Infinity, 0]);
      await assertClose(isNaN(x), [false, true, false, false, false], bool);
      await assertClose(isFinite(x), [true, false, false, false, true], bool);
      await assertClose(logicalNot(tensor([true, false])), [false, true], bool);
      await assertClose(logicalNot(tensor([0, 2, -1])), [true, false, false], bool);
    },
  ],
  [
    'unary: float functions promote int32 and bool inputs to float32',
    async () => {
      await assertClose(exp(tensor([0, 1], i32)), [1, Math.E], f32);
      await assertClose(sqrt(tensor([4, 9], i32)), [2, 3], f32);
      await assertClose(sigmoid(tensor([0], i32)), [0.5], f32);
      await assertClose(neg(tensor([true, false])), [-1, 0], i32);
      await ifFloat64(() => assertClose(sin(tensor([0], f64)), [0], f64));
    },
  ],
  [
    // known library bug: CpuBackend relu is `x > 0 ? x : 0`, so NaN → 0; PyTorch (clamp_min) and
    // np.maximum(x, 0) give NaN, as do this library's own maximum/clamp/leakyRelu.
    'unary: relu propagates NaN like maximum/clamp/leakyRelu',
    async () => {
      const x = tensor([NaN, -1, 2]);
      await assertClose(maximum(x, 0), [NaN, 0, 2], { ...f32, label: 'maximum(x, 0)' });
      await assertClose(leakyRelu(x), [NaN, -0.01, 2], { ...f32, label: 'leakyRelu' });
      await assertClose(relu(x), [NaN, 0, 2], { ...f32, label: 'relu' });
    },
  ],
  // np.where(U > 0, U, 0.01 * U)  and  slope 0.2
  unaryCase('leakyRelu (default slope 0.01)', (x) => leakyRelu(x), U, [-0.03, -0.015, -0.005, 0, 0.25, 1, 2.5], async () => {
    await assertClose(leakyRelu(tensor(U), 0.2), [-0.6, -0.3, -0.1, 0, 0.25, 1, 2.5], f32);
  }),
  // np.where(U > 0, U, np.expm1(U)); alpha 0.5: 0.5 * np.expm1(U)
  unaryCase('elu', (x) => elu(x), U, [-0.950212932, -0.77686984, -0.39346934, 0.0, 0.25, 1.0, 2.5], async () => {
    await assertClose(elu(tensor(U), 0.5), [-0.475106466, -0.38843492, -0.19673467, 0.0, 0.25, 1.0, 2.5], f32);
    await assertClose(elu(tensor([-1000])), [-1], f32);
  }),
  // 0.5 * U * (1 + erf(U / sqrt(2)))
  unaryCase('gelu (exact, erf)', (x) => gelu(x), U, [-0.00404969409, -0.100210802, -0.154268769, 0.0, 0.149676581, 0.841344746, 2.48447584]),
  // 0.5 * U * (1 + np.tanh(sqrt(2/pi) * (U + 0.044715 * U**3)))
  unaryCase('gelu (tanh approximation)', (x) => gelu(x, 'tanh'), U, [-0.00363739208, -0.100428423, -0.15428599, 0.0, 0.149675351, 0.841191991, 2.48491573]),
  // np.where(b*U > 20, U, np.log1p(np.exp(b*U)) / b) for b = 1 and b = 2; softplus(30) = 30 (linear above threshold)
  unaryCase('softplus', (x) => softplus(x), U, [0.0485873516, 0.201413278, 0.474076984, 0.693147181, 0.82593942, 1.31326169, 2.57888973], async () => {
    await assertClose(softplus(tensor(U), 2), [0.00123784257, 0.0242936758, 0.156630844, 0.34657359, 0.487038492, 1.06346401, 2.50335767], f32);
    await assertClose(softplus(tensor([30, -30])), [30, 9.35762297e-14], { atol: 1e-18, rtol: 1e-4 });
  }),
  // U * sigmoid(U)
  unaryCase('silu', silu, U, [-0.14227762, -0.273638286, -0.188770334, 0.0, 0.140544125, 0.731058579, 2.31035455]),
  // -softplus(-U); logSigmoid(-100) = -100, logSigmoid(100) ≈ -3.7e-44 (finite)
  unaryCase('logSigmoid', logSigmoid, U, [-3.04858735, -1.70141328, -0.974076984, -0.693147181, -0.57593942, -0.313261688, -0.0788897343], async () => {
    await assertClose(logSigmoid(tensor([-100, 100])), [-100, 0], f32);
  }),

  // ------------------------------------------------------------ binary
  [
    // by hand: [[1],[2],[3]] + [[10,20,30,40]]
    'binary: add broadcasts [3,1] with [1,4] to [3,4]',
    async () => {
      const a = tensor([[1], [2], [3]]);
      const b = tensor([[10, 20, 30, 40]]);
      const expected = [[11, 21, 31, 41], [12, 22, 32, 42], [13, 23, 33, 43]];
      await assertClose(add(a, b), expected, f32);
      await assertClose(b.add(a), expected, f32);
    },
  ],
  [
    // by hand: [[1,2,3],[4,5,6]] - [1,10,100]
    'binary: sub and mul broadcast [2,3] with [3]',
    async () => {
      const a = tensor([[1, 2, 3], [4, 5, 6]]);
      const b = tensor([1, 10, 100]);
      await assertClose(sub(a, b), [[0, -8, -97], [3, -5, -94]], f32);
      await assertClose(sub(b, a), [[0, 8, 97], [-3, 5, 94]], f32);
      await assertClose(mul(a, b), [[1, 20, 300], [4, 50, 600]], f32);
    },
  ],
  [
    'binary: scalar operands on either side',
    async () => {
      const x = tensor([1, 2, 4]);
      await assertClose(mul(x, 0.5), [0.5, 1, 2], f32);
      await assertClose(mul(3, x), [3, 6, 12], f32);
      await assertClose(div(x, 4), [0.25, 0.5, 1], f32);
      await assertClose(div(1, x), [1, 0.5, 0.25], f32);
      await assertClose(sub(10, x), [9, 8, 6], f32);
      await assertClose(x.add(1).sub(1), [1, 2, 4], f32);
      await assertClose(add(2, 3), 5, i32);
    },
  ],
  [
    'binary: 0-d tensors broadcast against any shape',
    async () => {
      await assertClose(mul(scalar(2), tensor([[1, 2], [3, 4]])), [[2, 4], [6, 8]], f32);
      await assertClose(add(tensor([[1], [2]]), tensor(0.5)), [[1.5], [2.5]], f32);
      await assertClose(sub(scalar(1), scalar(3)), -2, f32);
    },
  ],
  [
    'binary: division by zero gives ±inf and nan',
    async () => {
      await assertClose(div(tensor([1, -1, 0]), 0), [Infinity, -Infinity, NaN], f32);
      await assertClose(div(tensor([1, -1, 0], i32), tensor([0, 0, 0], i32)), [Infinity, -Infinity, NaN], f32);
    },
  ],
  [
    // by hand: [[1,2],[3,4]]**2; [4,9]**0.5; 2**[0,1,3]; [[2],[3]]**[1,2,3]; int32 [2,3,-2]**3
    'binary: pow (tensor^scalar, scalar^tensor, broadcast, int32)',
    async () => {
      await assertClose(pow(tensor([[1, 2], [3, 4]]), 2), [[1, 4], [9, 16]], f32);
      await assertClose(tensor([4, 9]).pow(0.5), [2, 3], f32);
      await assertClose(pow(2, tensor([0, 1, 3])), [1, 2, 8], f32);
      await assertClose(pow(tensor([[2], [3]]), tensor([1, 2, 3])), [[2, 4, 8], [3, 9, 27]], f32);
      await assertClose(pow(tensor([2, 3, -2], i32), 3), [8, 27, -8], i32);
      await assertClose(pow(tensor([2, 4]), -1), [0.5, 0.25], f32);
      await assertClose(pow(tensor([0, 5]), 0), [1, 1], f32);
    },
  ],
  [
    // by hand: maximum([[1,5],[3,2]], [2,4]) = [[2,5],[3,4]]; NaN propagates (np.maximum)
    'binary: maximum/minimum broadcast and propagate NaN',
    async () => {
      const a = tensor([[1, 5], [3, 2]]);
      const b = tensor([2, 4]);
      await assertClose(maximum(a, b), [[2, 5], [3, 4]], f32);
      await assertClose(minimum(a, b), [[1, 4], [2, 2]], f32);
      await assertClose(maximum(tensor([NaN, 1]), tensor([0, NaN])), [NaN, NaN], f32);
      await assertClose(minimum(tensor([NaN, 1]), 0), [NaN, 0], f32);
      await assertClose(maximum(tensor([-2, 3], i32), 0), [0, 3], i32);
    },
  ],
  [
    'binary: comparisons give bool and broadcast',
    async () => {
      const a = tensor([[1], [2], [3]]);
      const b = tensor([1, 2, 3]);
      await assertClose(eq(a, b), [[true, false, false], [false, true, false], [false, false, true]], bool);
      await assertClose(ne(a, b), [[false, true, true], [true, false, true], [true, true, false]], bool);
      await assertClose(lt(a, b), [[false, true, true], [false, false, true], [false, false, false]], bool);
      await assertClose(le(a, b), [[true, true, true], [false, true, true], [false, false, true]], bool);
      await assertClose(gt(a, b), [[false, false, false], [true, false, false], [true, true, false]], bool);
      await assertClose(ge(a, b), [[true, false, false], [true, true, false], [true, true, true]], bool);
      await assertClose(tensor([1, 2, 3]).gt(1.5), [false, true, true], bool);
      await assertClose(eq(tensor([NaN]), tensor([NaN])), [false], bool);
      await assertClose(ne(tensor([NaN]), tensor([NaN])), [true], bool);
      await assertClose(lt(tensor([1, 2], i32), 1.5), [true, false], bool);
    },
  ],
  [
    'binary: logicalAnd / logicalOr broadcast',
    async () => {
      const a = tensor([[true], [false]]);
      const b = tensor([true, false]);
      await assertClose(logicalAnd(a, b), [[true, false], [false, false]], bool);
      await assertClose(logicalOr(a, b), [[true, true], [true, false]], bool);
      await assertClose(logicalAnd(tensor([2, 0, -1]), tensor([1, 1, 0])), [true, false, false], bool);
    },
  ],
  [
    'binary: where broadcasts condition [3,1], a [1,4] and a scalar b',
    async () => {
      const cond = tensor([[true], [false], [true]]);
      const a = tensor([[1, 2, 3, 4]]);
      await assertClose(where(cond, a, -1), [[1, 2, 3, 4], [-1, -1, -1, -1], [1, 2, 3, 4]], f32);
      // a non-bool condition counts nonzero as true; two int scalars give int32
      await assertClose(where(tensor([0, 2, -1]), 1, 0), [0, 1, 1], i32);
      await assertClose(where(tensor([true, false]), tensor([1, 2], i32), 0.5), [1, 0.5], f32);
    },
  ],
  [
    // by hand; NaN stays NaN (torch.clamp)
    'binary: clamp (both bounds, min only, max only, int32, NaN)',
    async () => {
      const x = tensor([-2, -0.5, 0.5, 3]);
      await assertClose(clamp(x, -1, 1), [-1, -0.5, 0.5, 1], f32);
      await assertClose(x.clamp(0), [0, 0, 0.5, 3], f32);
      await assertClose(clamp(x, null, 0), [-2, -0.5, 0, 0], f32);
      await assertClose(clamp(tensor([-5, 0, 5], i32), -2, 2), [-2, 0, 2], i32);
      await assertClose(clamp(tensor([NaN, 7]), 0, 1), [NaN, 1], f32);
    },
  ],
  [
    // by hand: a = arange(12).reshape(3,4).T → a[i][j] = 4j + i; b[i][j] = 3i + j
    'binary: operands that are non-contiguous views (transpose, steps, expand)',
    async () => {
      const a = arange(12, undefined, 1, f32).reshape(3, 4).transpose(0, 1);
      const b = arange(12, undefined, 1, f32).reshape(4, 3);
      await assertClose(add(a, b), [[0, 5, 10], [4, 9, 14], [8, 13, 18], [12, 17, 22]], f32);
      const stepped = arange(10, undefined, 1, f32).index([1, 10, 3]); // [1, 4, 7]
      const row = tensor([1, 2, 3]).expand([2, 3]);
      await assertClose(mul(row, stepped), [[1, 8, 21], [1, 8, 21]], f32);
      await assertClose(sub(a.narrow(0, 1, 2), tensor([1, 1, 1])), [[0, 4, 8], [1, 5, 9]], f32);
    },
  ],
];
