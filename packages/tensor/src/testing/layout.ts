/** Conformance cases: views, layout (reshape, permute, slice, concat, pad) and indexing (gather, scatter, masks). */
import {
  arange,
  chunk,
  concat,
  exp,
  gather,
  gt,
  indexSelect,
  maskedFill,
  maskedSelect,
  mul,
  ones,
  oneHot,
  pad,
  reshape,
  scalar,
  scatterAdd,
  split,
  stack,
  sub,
  sum,
  tensor,
  unsqueeze,
  zeros,
  add,
  type Tensor,
} from '../index.js';
import { assertClose, assertThrows, assert, fmtShape } from './assert.js';
import { type CaseDef, f32, i32, bool } from './case-helpers.js';

export const LAYOUT_CASES: CaseDef[] = [
  // ------------------------------------------------------------ views and layout
  [
    'layout: reshape with -1 (and method varargs form)',
    async () => {
      const x = arange(12);
      await assertClose(reshape(x, [3, -1]), [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]], i32);
      await assertClose(x.reshape(2, -1, 3), [[[0, 1, 2], [3, 4, 5]], [[6, 7, 8], [9, 10, 11]]], i32);
      await assertClose(x.reshape(3, 4).reshape(-1), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], i32);
      await assertClose(tensor([5]).reshape([]), 5, f32);
    },
  ],
  [
    'layout: view works on contiguous tensors (incl. offset slices), throws on non-contiguous; reshape copies',
    async () => {
      const t = arange(6).reshape(2, 3).transpose(0, 1); // [[0,3],[1,4],[2,5]]
      assertThrows(() => t.view(6), /view: tensor \[3,2\] is not contiguous/);
      await assertClose(t.reshape(6), [0, 3, 1, 4, 2, 5], i32);
      await assertClose(t.contiguous().view(2, 3), [[0, 3, 1], [4, 2, 5]], i32);
      const rows = arange(12).reshape(3, 4).narrow(0, 1, 2); // rows 1..2, offset 4
      await assertClose(rows.view(8), [4, 5, 6, 7, 8, 9, 10, 11], i32);
    },
  ],
  [
    'layout: flatten (all, from a start dim, a dim range)',
    async () => {
      const x = arange(24).reshape(2, 3, 4);
      const f = x.flatten();
      assert(f.shape.join() === '24', `flatten() gave ${fmtShape(f.shape)}`);
      await assertClose(x.flatten(1).select(1, 5), [5, 17], i32);
      const g = x.flatten(0, 1);
      assert(g.shape.join() === '6,4', `flatten(0, 1) gave ${fmtShape(g.shape)}`);
      await assertClose(g.select(0, 4), [16, 17, 18, 19], i32);
      await assertClose(scalar(2).flatten(), [2], f32);
      await assertClose(x.transpose(0, 2).flatten(), [0, 12, 4, 16, 8, 20, 1, 13, 5, 17, 9, 21, 2, 14, 6, 18, 10, 22, 3, 15, 7, 19, 11, 23], i32);
    },
  ],
  [
    // by hand: x = arange(24).reshape(2,3,4); x.permute(2,0,1)[k][i][j] = 12i + 4j + k
    'layout: transpose / permute / T, then contiguous',
    async () => {
      const x = arange(24).reshape(2, 3, 4);
      const p = x.permute(2, 0, 1);
      const expected = [
        [[0, 4, 8], [12, 16, 20]],
        [[1, 5, 9], [13, 17, 21]],
        [[2, 6, 10], [14, 18, 22]],
        [[3, 7, 11], [15, 19, 23]],
      ];
      await assertClose(p, expected, i32);
      const c = p.contiguous();
      assert(c.isContiguous, 'contiguous() result is not contiguous');
      await assertClose(c, expected, i32);
      const m = tensor([[1, 2, 3], [4, 5, 6]]);
      await assertClose(m.transpose(0, 1), [[1, 4], [2, 5], [3, 6]], f32);
      await assertClose(m.T, [[1, 4], [2, 5], [3, 6]], f32);
      await assertClose(x.transpose(-1, 0).contiguous().select(0, 1), [[1, 13], [5, 17], [9, 21]], i32);
    },
  ],
  [
    'layout: expand (new leading dims, -1, size-1 dims) and its error',
    async () => {
      const c = tensor([[1], [2]]);
      await assertClose(c.expand(2, 3), [[1, 1, 1], [2, 2, 2]], f32);
      await assertClose(c.expand([3, -1, 2]), [[[1, 1], [2, 2]], [[1, 1], [2, 2]], [[1, 1], [2, 2]]], f32);
      await assertClose(c.expand(2, 3).contiguous(), [[1, 1, 1], [2, 2, 2]], f32);
      await assertClose(sum(tensor([1, 2, 3]).expand(4, 3), 0), [4, 8, 12], f32);
      assertThrows(() => c.expand(3, 3), /expand: cannot expand \[2,1\] to \[3,3\]/);
    },
  ],
  [
    'layout: squeeze and unsqueeze',
    async () => {
      const x = arange(6).reshape(1, 3, 1, 2);
      const shapeOf = (t: Tensor) => fmtShape(t.shape);
      assert(shapeOf(x.squeeze()) === '[3,2]', `squeeze() gave ${shapeOf(x.squeeze())}`);
      assert(shapeOf(x.squeeze(0)) === '[3,1,2]', `squeeze(0) gave ${shapeOf(x.squeeze(0))}`);
      assert(shapeOf(x.squeeze(-2)) === '[1,3,2]', `squeeze(-2) gave ${shapeOf(x.squeeze(-2))}`);
      assert(shapeOf(x.squeeze(1)) === '[1,3,1,2]', `squeeze(1) of a size-3 dim gave ${shapeOf(x.squeeze(1))}`);
      await assertClose(x.squeeze(), [[0, 1], [2, 3], [4, 5]], i32);
      const v = tensor([1, 2, 3]);
      await assertClose(v.unsqueeze(0), [[1, 2, 3]], f32);
      await assertClose(unsqueeze(v, -1), [[1], [2], [3]], f32);
      await assertClose(scalar(4).unsqueeze(0), [4], f32);
      await assertClose(tensor([[1, 2], [3, 4]]).T.unsqueeze(1), [[[1, 3]], [[2, 4]]], f32);
    },
  ],
  [
    // by hand: x = arange(12).reshape(3,4)
    'layout: narrow and select (negative start / index)',
    async () => {
      const x = arange(12).reshape(3, 4);
      await assertClose(x.narrow(1, 1, 2), [[1, 2], [5, 6], [9, 10]], i32);
      await assertClose(x.narrow(0, -2, 2), [[4, 5, 6, 7], [8, 9, 10, 11]], i32);
      await assertClose(x.select(0, -1), [8, 9, 10, 11], i32);
      await assertClose(x.select(1, 2), [2, 6, 10], i32);
      await assertClose(x.narrow(1, 1, 0), [], { shape: [3, 0], dtype: 'int32' });
      assertThrows(() => x.select(0, 3), /select: index 3 is out of range/);
      assertThrows(() => x.narrow(1, 3, 2), /narrow: start 3 with length 2 is out of range/);
    },
  ],
  [
    // by hand: x = arange(20).reshape(4,5) (numpy x[1:4:2], x[:, ::2], x[-1, 1:-1], x[::3, 4:5])
    'layout: index with slices, steps and negative indices',
    async () => {
      const x = arange(20).reshape(4, 5);
      await assertClose(x.index([1, 4, 2]), [[5, 6, 7, 8, 9], [15, 16, 17, 18, 19]], i32);
      await assertClose(x.index(null, [undefined, undefined, 2]), [[0, 2, 4], [5, 7, 9], [10, 12, 14], [15, 17, 19]], i32);
      await assertClose(x.index(-1, [1, -1]), [16, 17, 18], i32);
      await assertClose(x.index([undefined, undefined, 3], [4, 5]), [[4], [19]], i32);
      await assertClose(x.index([1, 4, 2]).index(null, [0, 5, 2]), [[5, 7, 9], [15, 17, 19]], i32);
      await assertClose(x.index(2, 3), 13, i32);
      await assertClose(x.index([3, 1]), [], { shape: [0, 5], dtype: 'int32' });
      await assertClose(add(x.index([0, 4, 3], [1, 5, 3]), 100), [[101, 104], [116, 119]], i32);
    },
  ],
  [
    // by hand: x = arange(24).reshape(4,6).T → T[r][c] = 6c + r; rows 1,3,5; then columns 1..2
    'layout: chained views (slice of a transpose of a reshape) feed ops correctly',
    async () => {
      const t = arange(24, undefined, 1, f32).reshape(4, 6).T.index([1, 6, 2]);
      await assertClose(t, [[1, 7, 13, 19], [3, 9, 15, 21], [5, 11, 17, 23]], f32);
      const n = t.narrow(1, 1, 2);
      await assertClose(n, [[7, 13], [9, 15], [11, 17]], f32);
      await assertClose(sum(mul(n, 2), -1), [40, 48, 56], f32);
      await assertClose(exp(sub(n, n)), [[1, 1], [1, 1], [1, 1]], f32);
    },
  ],
  [
    'layout: concat along dims 0, 1 and -1 (incl. non-contiguous inputs)',
    async () => {
      const a = tensor([[1, 2]]);
      const b = tensor([[3, 4], [5, 6]]);
      await assertClose(concat([a, b]), [[1, 2], [3, 4], [5, 6]], f32);
      await assertClose(concat([tensor([[1], [2]]), b], 1), [[1, 3, 4], [2, 5, 6]], f32);
      await assertClose(concat([b.T, b], -1), [[3, 5, 3, 4], [4, 6, 5, 6]], f32);
      await assertClose(concat([tensor([1], i32), tensor([2, 3], i32), tensor([], i32)]), [1, 2, 3], i32);
      await assertClose(concat([b]), [[3, 4], [5, 6]], f32);
      assertThrows(() => concat([a, tensor([[1, 2, 3]])]), /concat: shapes \[1,2\] and \[1,3\] differ outside dim 0/);
    },
  ],
  [
    'layout: stack along a new dim (0, 1, -1)',
    async () => {
      const a = tensor([1, 2]);
      const b = tensor([3, 4]);
      await assertClose(stack([a, b]), [[1, 2], [3, 4]], f32);
      await assertClose(stack([a, b], 1), [[1, 3], [2, 4]], f32);
      await assertClose(stack([a, b, a], -1), [[1, 3, 1], [2, 4, 2]], f32);
      await assertClose(stack([scalar(1), scalar(2)]), [1, 2], f32);
      assertThrows(() => stack([a, tensor([1, 2, 3])]), /stack: shapes \[2\] and \[3\] differ/);
    },
  ],
  [
    'layout: split and chunk',
    async () => {
      const x = arange(7);
      const parts = split(x, 3);
      assert(parts.length === 3, `split(3) of 7 gave ${parts.length} parts`);
      await assertClose(parts[0], [0, 1, 2], i32);
      await assertClose(parts[2], [6], i32);
      const [p, q] = x.split([2, 5]);
      await assertClose(p, [0, 1], i32);
      await assertClose(q, [2, 3, 4, 5, 6], i32);
      const ch = chunk(x, 3);
      assert(ch.length === 3, `chunk(3) of 7 gave ${ch.length} chunks`);
      await assertClose(ch[1], [3, 4, 5], i32);
      const [l, r] = arange(6).reshape(2, 3).split([1, 2], 1);
      await assertClose(l, [[0], [3]], i32);
      await assertClose(r, [[1, 2], [4, 5]], i32);
      assert(chunk(arange(6), 4).length === 3, 'chunk(4) of 6 should give 3 chunks of 2 (like torch)');
      assertThrows(() => x.split([3, 3]), /split: sizes \[3,3\] sum to 6/);
    },
  ],
  [
    // by hand: x = [[1,2,3],[4,5,6]]; F.pad order: [left, right, top, bottom]
    'layout: pad with constants; negative pads crop',
    async () => {
      const x = tensor([[1, 2, 3], [4, 5, 6]]);
      await assertClose(pad(x, [1, 2]), [[0, 1, 2, 3, 0, 0], [0, 4, 5, 6, 0, 0]], f32);
      await assertClose(pad(x, [0, 0, 1, 0], -1), [[-1, -1, -1], [1, 2, 3], [4, 5, 6]], f32);
      await assertClose(pad(x, [-1, 1, 1, -1], 9), [[9, 9, 9], [2, 3, 9]], f32);
      await assertClose(pad(x, [-1, -1]), [[2], [5]], f32);
      await assertClose(pad(x.T, [1, 0]), [[0, 1, 4], [0, 2, 5], [0, 3, 6]], f32);
      await assertClose(pad(tensor([1, 2], i32), [2, 0], 7), [7, 7, 1, 2], i32);
      assertThrows(() => pad(x, [-2, -2]), /pad: pads \[-2,-2\] crop more than tensor \[2,3\] has/);
    },
  ],

  // ------------------------------------------------------------ indexing
  [
    // by hand: x = [[1,2,3],[4,5,6]]; gather(1, [[2,0],[1,1]]) = [[3,1],[5,5]]; gather(0, [[1,0,1]]) = [[4,2,6]]
    'indexing: gather along dim 1 and dim 0',
    async () => {
      const x = tensor([[1, 2, 3], [4, 5, 6]]);
      await assertClose(gather(x, 1, tensor([[2, 0], [1, 1]], i32)), [[3, 1], [5, 5]], f32);
      await assertClose(x.gather(0, tensor([[1, 0, 1]], i32)), [[4, 2, 6]], f32);
      await assertClose(gather(x.T, 1, tensor([[1], [0], [1]], i32)), [[4], [2], [6]], f32);
      await assertClose(gather(tensor([10, 20, 30], i32), 0, tensor([2, 2, 0], i32)), [30, 30, 10], i32);
      assertThrows(() => gather(x, 1, tensor([[0]])), /gather: index must be int32/);
    },
  ],
  [
    // by hand: 1-D: zeros(3) + at [0,2,0,1] of [1,2,3,4] → [1+3, 4, 2];
    //          2-D: ones(2,4), dim 1, index [[0,0,3],[1,2,1]], src [[1,2,3],[4,5,6]] → [[4,1,1,4],[1,11,6,1]]
    'indexing: scatterAdd accumulates duplicate indices',
    async () => {
      await assertClose(scatterAdd(zeros([3]), 0, tensor([0, 2, 0, 1], i32), tensor([1, 2, 3, 4])), [4, 4, 2], f32);
      const base = ones([2, 4]);
      const out = scatterAdd(base, 1, tensor([[0, 0, 3], [1, 2, 1]], i32), tensor([[1, 2, 3], [4, 5, 6]]));
      await assertClose(out, [[4, 1, 1, 4], [1, 11, 6, 1]], f32);
      await assertClose(base, [[1, 1, 1, 1], [1, 1, 1, 1]], { ...f32, label: 'base is not modified' });
      await assertClose(scatterAdd(zeros([2, 2]), 0, tensor([[1, 1]], i32), tensor([[5, 6]])), [[0, 0], [5, 6]], f32);
    },
  ],
  [
    // by hand: x = arange(12).reshape(3,4)
    'indexing: indexSelect along dims 0 and 1 (repeats allowed)',
    async () => {
      const x = arange(12, undefined, 1, f32).reshape(3, 4);
      await assertClose(indexSelect(x, 0, tensor([2, 0, 2], i32)), [[8, 9, 10, 11], [0, 1, 2, 3], [8, 9, 10, 11]], f32);
      await assertClose(x.indexSelect(1, tensor([3, 1], i32)), [[3, 1], [7, 5], [11, 9]], f32);
      await assertClose(indexSelect(x.T, 0, tensor([1], i32)), [[1, 5, 9]], f32);
      await assertClose(indexSelect(x, 0, tensor([], i32)), [], { shape: [0, 4], dtype: 'float32' });
    },
  ],
  [
    'indexing: oneHot (float32 default, extra dims, int32 dtype)',
    async () => {
      await assertClose(oneHot(tensor([0, 2, 1], i32), 3), [[1, 0, 0], [0, 0, 1], [0, 1, 0]], f32);
      await assertClose(oneHot(tensor([[1], [0]], i32), 2), [[[0, 1]], [[1, 0]]], f32);
      await assertClose(oneHot(tensor([3], i32), 4, 'int32'), [[0, 0, 0, 1]], i32);
    },
  ],
  [
    'indexing: maskedFill (broadcast mask, -inf fill)',
    async () => {
      const x = tensor([[1, 2], [3, 4]]);
      await assertClose(maskedFill(x, tensor([[true, false], [false, true]]), -1), [[-1, 2], [3, -1]], f32);
      await assertClose(x.maskedFill(tensor([false, true]), 0), [[1, 0], [3, 0]], f32);
      await assertClose(maskedFill(x, tensor([[true], [false]]), -Infinity), [[-Infinity, -Infinity], [3, 4]], f32);
      await assertClose(maskedFill(tensor([1, 2], i32), tensor([true, false]), 9), [9, 2], i32);
    },
  ],
  [
    'indexing: maskedSelect (async) returns the selected elements in row-major order',
    async () => {
      const x = tensor([[1, 2, 3], [4, 5, 6]]);
      await assertClose(await maskedSelect(x, gt(x, 3)), [4, 5, 6], f32);
      await assertClose(await maskedSelect(x, tensor([true, false, true])), [1, 3, 4, 6], f32);
      await assertClose(await maskedSelect(x, zeros([2, 3], bool)), [], { shape: [0], dtype: 'float32' });
      await assertClose(await maskedSelect(x.T, tensor([[true, false], [false, false], [false, true]])), [1, 6], f32);
    },
  ],
];
