/** Conformance cases: clone, cast and dtype promotion. */
import {
  all,
  any,
  cast,
  div,
  max,
  mean,
  minimum,
  mul,
  prod,
  sub,
  sum,
  tensor,
  add,
} from '../index.js';
import { assertClose, assert } from './assert.js';
import {
  type CaseDef,
  f32,
  i32,
  f64,
  bool,
  ifFloat64,
} from './case-helpers.js';

export const DTYPE_CASES: CaseDef[] = [
  // ------------------------------------------------------------ cast and promotion
  [
    'clone: the same values, dtype and shape in a buffer of its own (also of a contiguous tensor, and of a strided view)',
    async () => {
      const x = tensor([[1, 2, 3], [4, 5, 6]]);
      const c = x.clone();
      assert(c.storage !== x.storage, 'clone shares the storage of its source');
      await assertClose(c, [[1, 2, 3], [4, 5, 6]], f32);
      await assertClose(x.transpose(0, 1).clone(), [[1, 4], [2, 5], [3, 6]], f32);
      await assertClose(tensor([3, -4], i32).clone(), [3, -4], i32);
      await assertClose(tensor([true, false]).clone(), [true, false], bool);
      x.dispose();
      await assertClose(c, [[1, 2, 3], [4, 5, 6]], { ...f32, label: 'after the source is freed' });
    },
  ],
  [
    'cast: float → int32 truncates toward zero',
    async () => {
      await assertClose(cast(tensor([-2.7, -0.5, 0.5, 2.7, 3, -3]), 'int32'), [-2, 0, 0, 2, 3, -3], i32);
      await ifFloat64(() => assertClose(tensor([1.9, -1.9], f64).int(), [1, -1], i32));
    },
  ],
  [
    'cast: among float32, float64, int32 and bool',
    async () => {
      await assertClose(cast(tensor([1, -2], i32), 'float32'), [1, -2], f32);
      await ifFloat64(async () => {
        await assertClose(tensor([0.5, 1.5]).double(), [0.5, 1.5], f64);
        await assertClose(tensor([0.1], f64).float(), [0.1], f32);
      });
      await assertClose(cast(tensor([true, false]), 'float32'), [1, 0], f32);
      await assertClose(cast(tensor([true, false]), 'int32'), [1, 0], i32);
      await assertClose(cast(tensor([0, 0.5, -2]), 'bool'), [false, true, true], bool);
      await assertClose(cast(tensor([0, 3], i32), 'bool'), [false, true], bool);
      await assertClose(cast(tensor([1, 2]), 'float32'), [1, 2], f32);
      await assertClose(tensor([[1, 2], [3, 4]]).transpose(0, 1).int(), [[1, 3], [2, 4]], i32);
    },
  ],
  [
    'dtype promotion: int32 with a fractional scalar → float32, with an integer scalar stays int32',
    async () => {
      const k = tensor([1, 2], i32);
      await assertClose(add(k, 0.5), [1.5, 2.5], f32);
      await assertClose(mul(k, 2), [2, 4], i32);
      await assertClose(sub(k, 1.25), [-0.25, 0.75], f32);
      await assertClose(add(k, tensor([0.5, 0.5])), [1.5, 2.5], f32);
    },
  ],
  [
    'dtype promotion: int32 / int32 → float32 (true division)',
    async () => {
      await assertClose(div(tensor([7, -7, 1], i32), tensor([2, 2, 3], i32)), [3.5, -3.5, 1 / 3], f32);
      await assertClose(div(tensor([6], i32), 4), [1.5], f32);
    },
  ],
  [
    'dtype promotion: float64 stays float64 (scalars never narrow it; float32 tensors widen to it)',
    () =>
      ifFloat64(async () => {
        const d = tensor([1, 2], f64);
        await assertClose(mul(d, 0.5), [0.5, 1], f64);
        await assertClose(add(d, tensor([1, 1])), [2, 3], f64);
        await assertClose(add(d, tensor([1, 1], i32)), [2, 3], f64);
        // 1 + 1e-10 is representable in float64 but not in float32
        await assertClose(sub(add(tensor([1], f64), 1e-10), 1), [1e-10], { ...f64, atol: 1e-16, rtol: 1e-6 });
        await assertClose(div(d, 3), [1 / 3, 2 / 3], { ...f64, atol: 1e-15, rtol: 1e-15 });
      }),
  ],
  [
    'dtype: bool arithmetic counts in int32; int32 arithmetic stays int32',
    async () => {
      await assertClose(add(tensor([true, false]), tensor([true, true])), [2, 1], i32);
      await assertClose(sum(tensor([true, false, true, true])), 3, i32);
      const a = tensor([7, -3, 100], i32);
      const b = tensor([2, 5, -7], i32);
      await assertClose(add(a, b), [9, 2, 93], i32);
      await assertClose(sub(a, b), [5, -8, 107], i32);
      await assertClose(mul(a, b), [14, -15, -700], i32);
      await assertClose(minimum(a, b), [2, -3, -7], i32);
      await assertClose(sum(a), 104, i32);
      await assertClose(prod(b), -70, i32);
      await assertClose(max(a), 100, i32);
      await assertClose(mean(a), 104 / 3, f32);
    },
  ],
  [
    'dtype: any/all reduce to bool',
    async () => {
      const x = tensor([[true, false], [true, true]]);
      await assertClose(all(x), false, bool);
      await assertClose(any(x), true, bool);
      await assertClose(all(x, 1), [false, true], bool);
      await assertClose(any(tensor([[0, 0], [0, 3]]), 0), [false, true], bool);
    },
  ],
];
