/** Conformance cases: matmul, linear, dot and outer. */
import {
  dot,
  linear,
  matmul,
  mul,
  outer,
  stack,
  tensor,
} from '../index.js';
import { assertClose, assertThrows, pattern } from './assert.js';
import {
  type CaseDef,
  f32,
  i32,
  f64,
  ifFloat64,
} from './case-helpers.js';

export const MATMUL_CASES: CaseDef[] = [
  // ------------------------------------------------------------ matmul
  [
    // by hand: [[1,2,3],[4,5,6]] @ [[7,8],[9,10],[11,12]] = [[58,64],[139,154]]
    'matmul: 2-D · 2-D',
    async () => {
      const a = tensor([[1, 2, 3], [4, 5, 6]]);
      const b = tensor([[7, 8], [9, 10], [11, 12]]);
      await assertClose(matmul(a, b), [[58, 64], [139, 154]], f32);
      await assertClose(a.matmul(b), [[58, 64], [139, 154]], f32);
    },
  ],
  [
    // by hand: [1,2,3]·[4,5,6] = 32
    'matmul: 1-D · 1-D gives a 0-d tensor',
    async () => {
      await assertClose(matmul(tensor([1, 2, 3]), tensor([4, 5, 6])), 32, f32);
    },
  ],
  [
    // by hand: [1,2] @ [[1,2,3],[4,5,6]] = [9,12,15]; [[1,2,3],[4,5,6]] @ [1,0,-1] = [-2,-2]
    'matmul: 1-D · 2-D and 2-D · 1-D drop the promoted dim',
    async () => {
      const m = tensor([[1, 2, 3], [4, 5, 6]]);
      await assertClose(matmul(tensor([1, 2]), m), [9, 12, 15], f32);
      await assertClose(matmul(m, tensor([1, 0, -1])), [-2, -2], f32);
    },
  ],
  [
    // numpy: pattern([2,1,3,4], 7, 3, 0.5) @ pattern([5,4,2], 5, 2, 1) → [2,5,3,2]
    'matmul: batched with broadcast batch dims [2,1,3,4] x [5,4,2] → [2,5,3,2]',
    async () => {
      const a = pattern([2, 1, 3, 4], 7, 3, 0.5);
      const b = pattern([5, 4, 2], 5, 2, 1);
      await assertClose(matmul(a, b), [
        [[[2.0, 1.5], [3.5, -2.5], [1.5, 0.5]], [[0.5, -2.5], [-4.5, 4.5], [1.0, -2.5]], [[1.5, -1.5], [-2.5, -1.0], [0.5, -0.5]], [[-2.5, 2.0], [4.5, 3.5], [-2.5, 1.5]], [[-1.5, 0.5], [-1.0, -4.5], [-0.5, 1.0]]],
        [[[-4.0, 3.5], [1.0, -0.5], [-4.5, -1.0]], [[-4.0, 1.0], [1.5, -2.5], [3.5, 4.5]], [[3.5, 3.5], [-0.5, 0.5], [-1.0, -2.5]], [[1.0, -4.0], [-2.5, 1.0], [4.5, -4.5]], [[3.5, -4.0], [0.5, 1.5], [-2.5, 3.5]]],
      ], f32);
    },
  ],
  [
    // numpy: pattern([2,3,4],9,4,1) @ pattern([4,5],6,2,0.5); pattern([3,4],5,1,1) @ pattern([2,4,2],7,3,0.5);
    //        pattern([2,3,4],9,4,1) @ [1,-1,2,0.5]
    'matmul: [2,3,4] x [4,5], [3,4] x [2,4,2], [2,3,4] x [4]',
    async () => {
      await assertClose(matmul(pattern([2, 3, 4], 9, 4, 1), pattern([4, 5], 6, 2, 0.5)), [
        [[-3.0, 1.0, 2.0, 0.0, -5.0], [5.0, 5.0, 2.0, -4.0, -1.0], [-14.0, -4.5, 2.0, 5.5, 3.0]],
        [[3.0, 4.0, 2.0, -3.0, -2.0], [-2.5, -14.5, -2.5, 6.5, 6.5], [1.0, 3.0, 2.0, -2.0, -3.0]],
      ], f32);
      await assertClose(matmul(pattern([3, 4], 5, 1, 1), pattern([2, 4, 2], 7, 3, 0.5)), [
        [[5.0, -1.0], [-2.5, -4.5], [-5.0, -3.0]],
        [[-1.0, 0.0], [-4.5, -3.0], [-3.0, -1.0]],
      ], f32);
      await assertClose(matmul(pattern([2, 3, 4], 9, 4, 1), tensor([1, -1, 2, 0.5])), [[-5.5, 4.5, 1.0], [2.0, -10.5, -0.5]], f32);
    },
  ],
  [
    // by hand: A = [[1,2],[3,4],[5,6]]; Aᵀ·A = [[35,44],[44,56]]; A·Aᵀ = [[5,11,17],[11,25,39],[17,39,61]]
    'matmul: transposed (non-contiguous) operands',
    async () => {
      const a = tensor([[1, 2], [3, 4], [5, 6]]);
      await assertClose(matmul(a.T, a), [[35, 44], [44, 56]], f32);
      await assertClose(matmul(a, a.transpose(0, 1)), [[5, 11, 17], [11, 25, 39], [17, 39, 61]], f32);
      // batched transposed: stack([A, 2A]) with the last two dims swapped
      const b = stack([a, mul(a, 2)]).transpose(1, 2); // [2,2,3]
      await assertClose(matmul(b, tensor([1, 1, 1])), [[9, 12], [18, 24]], f32);
    },
  ],
  [
    // by hand: [[1,2],[3,4]] @ [[5],[6]] = [[17],[39]]
    'matmul: int32 stays int32; int32 x float32 gives float32; float64 stays float64',
    async () => {
      const a = tensor([[1, 2], [3, 4]], i32);
      await assertClose(matmul(a, tensor([[5], [6]], i32)), [[17], [39]], i32);
      await assertClose(matmul(a, tensor([[0.5], [1]])), [[2.5], [5.5]], f32);
      await ifFloat64(() => assertClose(matmul(tensor([[1, 2]], f64), tensor([[0.1], [0.2]], f64)), [[0.5]], { ...f64, atol: 1e-15 }));
    },
  ],
  [
    // by hand: dot([1,2,3],[4,5,6]) = 32; outer([1,2],[3,4,5]) = [[3,4,5],[6,8,10]]
    'matmul: dot and outer',
    async () => {
      await assertClose(dot(tensor([1, 2, 3]), tensor([4, 5, 6])), 32, f32);
      await assertClose(tensor([1, 2]).dot(tensor([0.5, -1])), -1.5, f32);
      await assertClose(outer(tensor([1, 2]), tensor([3, 4, 5])), [[3, 4, 5], [6, 8, 10]], f32);
      assertThrows(() => dot(tensor([1, 2]), tensor([1, 2, 3])), /dot: .*\[2\] and \[3\]/);
    },
  ],
  // ------------------------------------------------------------ linear
  [
    // by hand: x·Wᵀ with W = [[1,0,-1],[2,1,0]]: [1,2,3] → [-2, 4], [4,5,6] → [-2, 13]; + b [0.5, -1]
    'linear: x·Wᵀ + b for 2-D, 1-D and 3-D x, with and without a bias',
    async () => {
      const w = tensor([[1, 0, -1], [2, 1, 0]]);
      const b = tensor([0.5, -1]);
      await assertClose(linear(tensor([[1, 2, 3], [4, 5, 6]]), w, b), [[-1.5, 3], [-1.5, 12]], f32);
      await assertClose(linear(tensor([[1, 2, 3], [4, 5, 6]]), w), [[-2, 4], [-2, 13]], f32);
      await assertClose(linear(tensor([1, 2, 3]), w, b), [-1.5, 3], f32);
      await assertClose(linear(tensor([[[1, 2, 3]], [[4, 5, 6]]]), w, b), [[[-1.5, 3]], [[-1.5, 12]]], f32);
    },
  ],
  [
    // x = pattern([24,40],7,3,0.5), W = pattern([13,40],5,2,1), b = pattern([13],3,1,0.25): every
    // product and sum a multiple of 0.25 well inside float32's integers, so exact; computed here in
    // float64 from the pattern formula. Large enough for a backend's fused product (13 columns: a
    // bias row padded past them).
    'linear: [24,40] · [13,40]ᵀ + [13], exact',
    async () => {
      const at = (i: number, mod: number, shift: number, scale: number) => ((i % mod) - shift) * scale;
      const want = Array.from({ length: 24 }, (_, r) =>
        Array.from({ length: 13 }, (_, j) => {
          let s = at(j, 3, 1, 0.25);
          for (let k = 0; k < 40; k++) s += at(r * 40 + k, 7, 3, 0.5) * at(j * 40 + k, 5, 2, 1);
          return s;
        }),
      );
      await assertClose(linear(pattern([24, 40], 7, 3, 0.5), pattern([13, 40], 5, 2, 1), pattern([13], 3, 1, 0.25)), want, f32);
    },
  ],
  [
    'errors: linear names both shapes',
    async () => {
      assertThrows(() => linear(tensor([[1, 2]]), tensor([[1, 2, 3]])), /linear: x's last dim must be weight's in features 3: x \[1,2\], weight \[1,3\]/);
      assertThrows(() => linear(tensor([[1, 2]]), tensor([[1, 2]]), tensor([1, 2])), /linear: bias must be \[1\]/);
    },
  ],
];
