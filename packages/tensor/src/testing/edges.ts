/** Conformance cases: zero-size and 0-d edge shapes, and the errors misuse must raise. */
import {
  argmax,
  concat,
  conv1d,
  conv2d,
  exp,
  lt,
  linear,
  matmul,
  maxPool2d,
  mean,
  mul,
  ones,
  scalar,
  softmax,
  sum,
  tensor,
  unsqueeze,
  where,
  zeros,
  add,
  type DType,
} from '../index.js';
import { assertClose, assertThrows, assert } from './assert.js';
import { type CaseDef, f32, i32, bool } from './case-helpers.js';

export const EDGE_CASES: CaseDef[] = [
  // ------------------------------------------------------------ edge shapes
  [
    'edge: elementwise ops and matmul on zero-size tensors',
    async () => {
      await assertClose(add(zeros([0]), ones([0])), [], { shape: [0], dtype: 'float32' });
      await assertClose(add(zeros([0, 3]), tensor([1, 2, 3])), [], { shape: [0, 3], dtype: 'float32' });
      await assertClose(exp(zeros([2, 0])), [[], []], f32);
      await assertClose(matmul(zeros([0, 3]), ones([3, 2])), [], { shape: [0, 2], dtype: 'float32' });
      // an empty inner dim sums nothing: zeros
      await assertClose(matmul(zeros([2, 0]), zeros([0, 3])), [[0, 0, 0], [0, 0, 0]], f32);
      await assertClose(zeros([0, 3]).reshape(3, -1), [[], [], []], f32);
      await assertClose(softmax(zeros([0, 4])), [], { shape: [0, 4], dtype: 'float32' });
      // linear: no rows, and no input features (each output is its bias)
      await assertClose(linear(zeros([0, 3]), ones([2, 3]), tensor([1, 2])), [], { shape: [0, 2], dtype: 'float32' });
      await assertClose(linear(zeros([2, 0]), zeros([3, 0]), tensor([1, 2, 3])), [[1, 2, 3], [1, 2, 3]], f32);
      await assertClose(linear(zeros([2, 0]), zeros([3, 0])), [[0, 0, 0], [0, 0, 0]], f32);
    },
  ],
  [
    'edge: 0-d scalars through ops, reshape and reads',
    async () => {
      const a = scalar(2);
      const b = scalar(3);
      await assertClose(add(a, b), 5, f32);
      await assertClose(mul(a, tensor([1, 2])), [2, 4], f32);
      await assertClose(exp(scalar(0)), 1, f32);
      await assertClose(a.reshape(1, 1), [[2]], f32);
      await assertClose(sum(b), 3, f32);
      await assertClose(argmax(b), 0, i32);
      await assertClose(where(scalar(true), a, b), 2, f32);
      const d = await b.data();
      assert(d.length === 1 && d[0] === 3, `data() of a 0-d tensor gave ${Array.from(d).join(',')}`);
    },
  ],
  [
    'edge: size-1 and zero-size dims in broadcasting and concat',
    async () => {
      await assertClose(add(zeros([1, 0]), zeros([3, 1])), [[], [], []], f32);
      await assertClose(concat([zeros([0, 2]), ones([1, 2])]), [[1, 1]], f32);
      await assertClose(sum(ones([1, 1, 1]), [0, 1, 2]), 1, f32);
      await assertClose(mean(tensor([[5]]), 1, true), [[5]], f32);
    },
  ],

  // ------------------------------------------------------------ errors
  [
    'errors: matmul inner-dim mismatch names both shapes',
    async () => {
      assertThrows(() => matmul(ones([2, 3]), ones([4, 5])), /matmul: \[2,3\] x \[4,5\]/);
      assertThrows(() => matmul(ones([3]), ones([4])), /matmul: \[3\] x \[4\]/);
      assertThrows(() => matmul(ones([2, 2, 3]), ones([2, 2])), /matmul: \[2,2,3\] x \[2,2\]/);
      assertThrows(() => matmul(scalar(1), ones([2])), /matmul: .*at least 1 dim/);
      assertThrows(() => matmul(ones([2, 2, 3]), ones([3, 3, 1])), /matmul: shapes \[2\] and \[3\] cannot be broadcast/);
    },
  ],
  [
    'errors: broadcast failure names the op and both shapes',
    async () => {
      assertThrows(() => add(ones([2, 3]), ones([4])), /add: shapes \[2,3\] and \[4\] cannot be broadcast/);
      assertThrows(() => mul(ones([2, 3]), ones([3, 2])), /mul: shapes \[2,3\] and \[3,2\]/);
      assertThrows(() => lt(ones([5]), ones([2])), /lt: shapes \[5\] and \[2\]/);
      assertThrows(() => where(ones([2], bool), ones([3]), 0), /where: shapes \[2\] and \[3\]/);
    },
  ],
  [
    'errors: reshape to a wrong size',
    async () => {
      assertThrows(() => ones([2, 3]).reshape(4), /reshape: cannot reshape \[2,3\] \(6 elements\) into \[4\]/);
      assertThrows(() => ones([2, 3]).reshape(4, -1), /reshape: cannot reshape \[2,3\]/);
      assertThrows(() => ones([6]).reshape(-1, -1), /reshape: only one dim may be -1/);
    },
  ],
  [
    'errors: dim out of range',
    async () => {
      const x = ones([2, 3]);
      assertThrows(() => sum(x, 2), /sum: dim 2 is out of range for a tensor with 2 dims/);
      assertThrows(() => softmax(x, -3), /softmax: dim -3 is out of range/);
      assertThrows(() => x.transpose(0, 5), /transpose: dim 5 is out of range/);
      assertThrows(() => unsqueeze(x, 3), /unsqueeze: dim 3 is out of range/);
      assertThrows(() => argmax(x, 2), /argmax: dim 2 is out of range/);
      assertThrows(() => x.permute(0, 0), /permute: \[0,0\] is not a permutation/);
    },
  ],
  [
    'errors: convolution kernel larger than the input; bad channels',
    async () => {
      assertThrows(() => conv2d(ones([1, 1, 3, 3]), ones([1, 1, 5, 5])), /conv2d: kernel 5x5 .*larger than the padded input 3x3/);
      assertThrows(() => conv1d(ones([1, 1, 3]), ones([1, 1, 4])), /kernel 1x4 .*larger than the padded input 1x3/);
      assertThrows(() => conv2d(ones([1, 1, 4, 4]), ones([1, 1, 3, 3]), null, { dilation: 2 }), /dilated 5x5/);
      assertThrows(() => conv2d(ones([1, 3, 4, 4]), ones([2, 2, 3, 3])), /conv2d: input \[1,3,4,4\] has 3 channels/);
      assertThrows(() => maxPool2d(ones([1, 1, 2, 2]), { kernelSize: 3 }), /maxPool2d: kernel 3x3/);
    },
  ],
  [
    'errors: dtype and creation misuse',
    async () => {
      assertThrows(() => concat([ones([1]), ones([1], i32)]), /concat: dtypes float32 and int32 differ/);
      assertThrows(() => tensor([[1, 2], [3]]), /tensor: ragged nested array/);
      assertThrows(() => zeros([2], { dtype: 'float16' as DType }), /unknown dtype 'float16'/);
      assertThrows(() => matmul(ones([2, 2], bool), ones([2, 2], bool)), /matmul: bool tensors are not supported/);
    },
  ],
];
