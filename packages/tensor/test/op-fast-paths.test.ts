import { describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import { HostAllocator } from '../src/backend-api.js';

// The per-op fast paths (two tensors of one shape, a tensor and a scalar, a shape shared
// with an operand, the flat contiguous loop) must give what the general path gives. The
// expected numbers are computed here element by element, in float64 rounded to float32
// where the result is float32 (exact for + − × ÷: float64 holds the float32 result).

const f32 = Math.fround;
/** Deterministic, varied values (no RNG): integers and fractions of both signs. */
const values = (n: number, k: number): number[] => Array.from({ length: n }, (_, i) => (((i * 37 + k * 11) % 23) - 11) / (k % 2 === 0 ? 4 : 1));
const flat = (t: T.Tensor): number[] => Array.from(t.dataSync());
const shaped = (xs: number[], shape: number[]): T.Tensor => T.tensor(xs).reshape(shape);
const OPS = { add: (x: number, y: number) => x + y, sub: (x: number, y: number) => x - y, mul: (x: number, y: number) => x * y, div: (x: number, y: number) => x / y };
type OpName = keyof typeof OPS;
const opFn = (op: OpName) => ({ add: T.add, sub: T.sub, mul: T.mul, div: T.div })[op];

describe('binary ops on two tensors of one shape', () => {
  it('equal the per-element results for float32, both operands contiguous (19 elements: the unrolled loop and its tail)', () => {
    const [av, bv] = [values(19, 1), values(19, 2).map((v) => (v === 0 ? 0.5 : v))];
    const a = T.tensor(av);
    const b = T.tensor(bv);
    for (const op of Object.keys(OPS) as OpName[]) {
      expect(flat(opFn(op)(a, b)), op).toEqual(av.map((x, i) => f32(OPS[op](f32(x), f32(bv[i])))));
    }
  });

  it('read views at an offset (a narrowed batch) and strided views (a transpose) like copies', () => {
    const base = shaped(values(24, 3), [4, 6]);
    const bv = values(12, 4);
    const b = shaped(bv, [2, 6]);
    const narrowed = base.narrow(0, 2, 2); // contiguous, offset 12
    expect(narrowed.isContiguous).toBe(true);
    expect(flat(T.add(narrowed, b))).toEqual(values(24, 3).slice(12).map((x, i) => f32(f32(x) + f32(bv[i]))));
    const tr = base.narrow(1, 0, 4).transpose(0, 1); // [4,4], not contiguous
    expect(tr.isContiguous).toBe(false);
    const sq = shaped(values(16, 5), [4, 4]);
    const trValues = [0, 1, 2, 3].flatMap((i) => [0, 1, 2, 3].map((j) => f32(values(24, 3)[j * 6 + i])));
    expect(flat(T.mul(tr, sq))).toEqual(trValues.map((x, k) => f32(x * f32(values(16, 5)[k]))));
    expect(flat(T.sub(sq, tr))).toEqual(trValues.map((x, k) => f32(f32(values(16, 5)[k]) - x)));
  });

  it('int32 stays int32 (wrapping like Int32Array), bool arithmetic counts in int32, comparisons give bool', () => {
    const a = T.tensor([2147483647, -5, 7, 0], { dtype: 'int32' });
    const b = T.tensor([1, 3, -2, 0], { dtype: 'int32' });
    const sum = T.add(a, b);
    expect(sum.dtype).toBe('int32');
    expect(flat(sum)).toEqual([-2147483648, -2, 5, 0]);
    expect(flat(T.mul(a, b))).toEqual([2147483647, -15, -14, 0]);
    const div = T.div(a, b); // true division: float32
    expect(div.dtype).toBe('float32');
    expect(flat(div).slice(0, 3)).toEqual([f32(2147483647), f32(-5 / 3), -3.5]);
    const p = T.tensor([true, false, true]);
    const q = T.tensor([true, true, false]);
    const both = T.add(p, q);
    expect(both.dtype).toBe('int32');
    expect(flat(both)).toEqual([2, 1, 1]);
    const gt = T.gt(a, b);
    expect(gt.dtype).toBe('bool');
    expect(flat(gt)).toEqual([1, 0, 1, 0]);
  });

  it('mixed dtypes promote as before (int32 + float32 → float32, float32 + float64 → float64)', () => {
    const i = T.tensor([1, 2, 3], { dtype: 'int32' });
    const f = T.tensor([0.5, 0.25, -1]);
    const d = T.tensor([0.1, 0.2, 0.3], { dtype: 'float64' });
    expect(T.add(i, f).dtype).toBe('float32');
    expect(flat(T.add(i, f))).toEqual([1.5, 2.25, 2]);
    const fd = T.add(f, d);
    expect(fd.dtype).toBe('float64');
    expect(flat(fd)).toEqual([0.5 + 0.1, 0.25 + 0.2, -1 + 0.3]);
  });

  it('promoteTypes follows bool < int32 < float32 < float64 for every pair', () => {
    const order = ['bool', 'int32', 'float32', 'float64'] as const;
    for (const a of order) for (const b of order) expect(T.promoteTypes(a, b), `${a}, ${b}`).toBe(order[Math.max(order.indexOf(a), order.indexOf(b))]);
  });
});

describe('binary ops with a scalar operand', () => {
  const xv = [1.5, -2, 0.25, 8, -0.5, 3];
  const x = () => shaped(xv, [2, 3]);

  it('on either side, in the order written (2 − x is not x − 2)', () => {
    expect(flat(T.sub(2, x()))).toEqual(xv.map((v) => f32(2 - v)));
    expect(flat(T.sub(x(), 2))).toEqual(xv.map((v) => f32(v - 2)));
    expect(flat(T.div(1, x()))).toEqual(xv.map((v) => f32(1 / v)));
    expect(flat(T.mul(x(), 0.1))).toEqual(xv.map((v) => f32(v * f32(0.1))));
    const y = T.add(3, x());
    expect(y.shape).toEqual([2, 3]);
    expect(flat(y)).toEqual(xv.map((v) => v + 3));
  });

  it('keep the weak-scalar dtype rules: float64 stays float64, an int tensor with a fraction becomes float32, a bool scalar counts as 1', () => {
    const d = T.tensor([0.1, 0.2], { dtype: 'float64' });
    const dd = T.mul(d, 0.1);
    expect(dd.dtype).toBe('float64');
    expect(flat(dd)).toEqual([0.1 * 0.1, 0.2 * 0.1]);
    const i = T.tensor([1, 2, 3], { dtype: 'int32' });
    const half = T.add(i, 0.5);
    expect(half.dtype).toBe('float32');
    expect(flat(half)).toEqual([1.5, 2.5, 3.5]);
    const two = T.mul(i, 2);
    expect(two.dtype).toBe('int32');
    expect(flat(two)).toEqual([2, 4, 6]);
    expect(flat(T.add(x(), true))).toEqual(xv.map((v) => v + 1));
    expect(flat(T.lt(x(), 1))).toEqual(xv.map((v) => +(v < 1)));
  });

  it('read the tensor at its offset, keep int32 arithmetic, and treat a broadcast one-element tensor like a scalar', () => {
    const base = shaped(values(12, 7), [3, 4]);
    const rows = base.narrow(0, 1, 2); // contiguous from element 4
    for (const op of Object.keys(OPS) as OpName[]) {
      expect(flat(opFn(op)(rows, 3)), `${op}(x, 3)`).toEqual(values(12, 7).slice(4).map((v) => f32(OPS[op](f32(v), 3))));
      expect(flat(opFn(op)(3, rows)), `${op}(3, x)`).toEqual(values(12, 7).slice(4).map((v) => f32(OPS[op](3, f32(v)))));
    }
    const iv = [7, -3, 0, 12];
    const i = T.tensor(iv, { dtype: 'int32' });
    expect(flat(T.sub(10, i))).toEqual(iv.map((v) => 10 - v));
    expect(flat(T.mul(i, -2))).toEqual(iv.map((v) => (-2 * v) | 0)); // an int32 0, never −0
    const one = T.tensor([2.5]).expand([3, 4]); // zero strides, like a scalar
    expect(flat(T.sub(one, base))).toEqual(values(12, 7).map((v) => f32(2.5 - f32(v))));
    expect(flat(T.div(base, one))).toEqual(values(12, 7).map((v) => f32(f32(v) / 2.5)));
  });

  it('a 0-d tensor with a scalar gives a 0-d tensor', () => {
    const s = T.mul(T.scalar(3), 4);
    expect(s.shape).toEqual([]);
    expect(s.item()).toBe(12);
  });

  it('leave no tensor and no byte behind inside tidy', () => {
    const a = x();
    const before = T.memory();
    T.tidy(() => {
      for (let k = 0; k < 10; k++) T.add(T.mul(a, 2), 1).sub(a).div(0.5);
    });
    const after = T.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
    a.dispose();
  });
});

describe('broadcasting and shapes', () => {
  it('broadcasts [3,1] with [1,4] to [3,4] and a bias row over a batch, as element-by-element sums', () => {
    const col = [1, 2, 3];
    const row = [10, 20, 30, 40];
    const out = T.add(shaped(col, [3, 1]), shaped(row, [1, 4]));
    expect(out.shape).toEqual([3, 4]);
    expect(flat(out)).toEqual(col.flatMap((c) => row.map((r) => c + r)));
    const batch = shaped(values(8, 6), [2, 4]);
    const biased = T.add(batch, T.tensor(row));
    expect(flat(biased)).toEqual(values(8, 6).map((v, i) => f32(f32(v) + row[i % 4])));
  });

  it('an output shares the shape of the operand it has the shape of (frozen, so nothing can change it)', () => {
    const batch = T.zeros([2, 4]);
    const bias = T.ones([4]);
    expect(T.add(batch, bias).shape).toBe(batch.shape);
    expect(T.add(bias, batch).shape).toBe(batch.shape);
    expect(T.mul(batch, 2).shape).toBe(batch.shape);
    expect(T.mul(batch, batch).shape).toBe(batch.shape);
    expect(Object.isFrozen(batch.shape) && Object.isFrozen(batch.strides)).toBe(true);
    expect(() => (batch.shape as number[]).push(1)).toThrow(TypeError);
  });

  it('a shape array the caller still owns is copied, not kept', () => {
    const shape = [2, 3];
    const t = T.zeros(shape);
    shape[0] = 5;
    expect(t.shape).toEqual([2, 3]);
    expect(t.strides).toEqual([3, 1]);
  });

  it('tensors of different shapes get their own row-major strides (one cache, many shapes)', () => {
    const shapes = [[2, 3], [3, 2], [4], [], [2, 3, 4], [2, 3]];
    for (const s of shapes) {
      const want = s.map((_, i) => s.slice(i + 1).reduce((p, d) => p * d, 1));
      expect(T.zeros(s).strides, `[${s}]`).toEqual(want);
      expect(T.add(T.zeros(s), 1).strides, `[${s}] + 1`).toEqual(want);
    }
  });
});

describe('a tensor used as an operand again', () => {
  it('reads its new values after assign (a parameter update), also from a strided source', () => {
    const p = T.tensor([1, 2, 3, 4]);
    expect(flat(T.add(p, p))).toEqual([2, 4, 6, 8]);
    p.assign(T.tensor([5, 6, 7, 8]));
    expect(flat(T.add(p, 1))).toEqual([6, 7, 8, 9]);
    const m = shaped([10, 20, 30, 40], [2, 2]);
    expect(flat(T.mul(m, 2))).toEqual([20, 40, 60, 80]);
    const strided = shaped([1, 2, 3, 4], [2, 2]).transpose(0, 1);
    expect(strided.isContiguous).toBe(false);
    m.assign(strided);
    expect(flat(T.mul(m, 2))).toEqual([2, 6, 4, 8]);
    expect(flat(T.sub(m, p.reshape([2, 2])))).toEqual([1 - 5, 3 - 6, 2 - 7, 4 - 8]);
  });
});

describe('errors on the fast paths name the op and what is wrong', () => {
  it('incompatible shapes name the op and both shapes', () => {
    expect(() => T.add(T.zeros([2, 3]), T.zeros([3, 2]))).toThrow('add: shapes [2,3] and [3,2] cannot be broadcast — dim -2 is 2 vs 3');
  });

  it('a disposed operand is an error for tensor ⊙ tensor and tensor ⊙ scalar alike', () => {
    const a = T.zeros([2, 2]);
    const b = T.zeros([2, 2]);
    a.dispose();
    expect(() => T.mul(a, b)).toThrow('mul: tensor [2,2] (float32) was already disposed');
    expect(() => T.mul(b, a)).toThrow('mul: tensor [2,2] (float32) was already disposed');
    expect(() => T.mul(a, 2)).toThrow('mul: tensor [2,2] (float32) was already disposed');
    expect(() => T.sub(2, a)).toThrow('sub: tensor [2,2] (float32) was already disposed');
  });

  it('an operand that is no tensor and no number says what it is', () => {
    const a = T.zeros([2]);
    expect(() => T.add(a, [1, 2] as unknown as number)).toThrow('add: an operand must be a tensor, a number or a boolean, got an array');
    expect(() => T.add(null as unknown as number, a)).toThrow('add: an operand must be a tensor, a number or a boolean, got null');
  });
});

describe('tidy', () => {
  it('disposes what the function made, newest first, and keeps what it returns', () => {
    const order: number[] = [];
    let kept: T.Tensor | null = null;
    const made: T.Tensor[] = [];
    const result = T.tidy(() => {
      for (let i = 0; i < 4; i++) made.push(T.scalar(i));
      for (const t of made) {
        const dispose = t.dispose.bind(t);
        t.dispose = () => {
          order.push(made.indexOf(t));
          dispose();
        };
      }
      kept = made[1];
      return kept;
    });
    expect(result).toBe(kept);
    expect(order).toEqual([3, 2, 0]);
    expect(made.map((t) => t.isDisposed)).toEqual([true, false, true, true]);
    result.dispose();
  });
});

describe('HostAllocator', () => {
  it('hands a given-back array only to a request of its own dtype and length', () => {
    const alloc = new HostAllocator({ minLength: 4 });
    const f = new Float32Array(8);
    alloc.recycle(f);
    expect(alloc.array('int32', 8)).not.toBe(f);
    expect(alloc.array('float32', 4)).not.toBe(f);
    expect(alloc.array('float64', 2)).not.toBe(f); // the same bytes, another dtype
    expect(alloc.array('float32', 8)).toBe(f);
    const i = new Int32Array(8);
    alloc.recycle(i);
    expect(alloc.array('float32', 8)).not.toBe(i);
    expect(alloc.array('int32', 8)).toBe(i);
    expect(alloc.pooledBytes).toBe(0);
  });
});
