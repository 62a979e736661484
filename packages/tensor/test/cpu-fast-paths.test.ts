import { describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import { hostData } from '../src/backend-api.js';

// The CPU backend's branch-free loops (bit-level relu and select, flat comparisons) must
// keep the exact IEEE semantics of the plain ones, edge values included.
const edge = [-0, 0, -Infinity, Infinity, NaN, -3.5, 2.25, -1e-40, 1e-40, -Number.MAX_VALUE];
const f32 = (xs: number[]) => Array.from(Float32Array.from(xs));

describe('CPU fast paths keep IEEE semantics', () => {
  it('relu on float32 and float64: negatives (−0, −∞, subnormals) → +0, NaN propagates', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const y = Array.from(T.relu(T.tensor(edge, { dtype })).dataSync());
      const want = edge.map((v) => (Number.isNaN(v) ? NaN : v > 0 ? v : 0));
      expect(y.map((v) => (Number.isNaN(v) ? 'NaN' : v === 0 ? 0 : v))).toEqual((dtype === 'float32' ? f32(want) : want).map((v) => (Number.isNaN(v) ? 'NaN' : v)));
      for (const [i, v] of y.entries()) if (v === 0) expect(Object.is(v, -0), `relu(${edge[i]})`).toBe(false);
    }
  });

  it('binary ops row by row: evenly spaced rows (no row map) and uneven ones give the flat results', () => {
    T.manualSeed(3);
    const a = T.randn([4, 3, 8]);
    const bias = T.randn([8]);
    const views: [string, T.Tensor, T.Tensor][] = [
      ['[4,3,8] + [8] (a bias row)', a, bias],
      ['two slices of one batch (rows every 24 floats, in runs)', a.narrow(1, 1, 2), a.narrow(1, 0, 2)],
      ['batch axes swapped (uneven rows)', a.transpose(0, 1), bias],
      ['a row broadcast over the middle axis (uneven rows)', a, a.narrow(1, 2, 1)],
      ['[3,8] rows every other row of a [6,8]', a.reshape([12, 8]).narrow(0, 0, 6).reshape([3, 2, 8]).narrow(1, 0, 1), bias],
    ];
    for (const [what, x, y] of views) {
      for (const op of [T.add, T.sub, T.mul, T.div]) {
        const got = Array.from(op(x, y).dataSync());
        const want = Array.from(op(x.contiguous(), y.expand(T.broadcastShapes('test', x.shape, y.shape)).contiguous()).dataSync());
        expect(got, what).toEqual(want);
      }
    }
  });

  it('where(cond, x, scalar) selects exact values (NaN, ±∞ and −0 pass through untouched)', () => {
    const x = T.tensor(edge);
    const cond = T.tensor(edge.map((_, i) => i % 3 !== 1));
    const y = Array.from(T.where(cond, x, -0).dataSync());
    f32(edge).forEach((v, i) => expect(Object.is(y[i], i % 3 !== 1 ? v : -0), `element ${i}`).toBe(true));
    const z = Array.from(T.where(cond, x, NaN).dataSync());
    z.forEach((v, i) => (i % 3 !== 1 ? expect(Object.is(v, f32(edge)[i])).toBe(true) : expect(v).toBeNaN()));
  });

  it('flat comparisons against a scalar and elementwise equal the per-element definition', () => {
    const a = T.tensor(edge);
    const b = T.tensor([...edge].reverse());
    const av = f32(edge);
    const bv = f32([...edge].reverse());
    expect(Array.from(T.gt(a, 0).dataSync())).toEqual(av.map((v) => +(v > 0)));
    expect(Array.from(T.ge(a, b).dataSync())).toEqual(av.map((v, i) => +(v >= bv[i])));
    expect(Array.from(T.lt(a, b).dataSync())).toEqual(av.map((v, i) => +(v < bv[i])));
    expect(Array.from(T.eq(a, b).dataSync())).toEqual(av.map((v, i) => +(v === bv[i])));
  });

  it('a broadcast single value made contiguous (a gradient seed) is that value everywhere, −0 and NaN kept, cast too', () => {
    for (const v of [3.5, -0, NaN, -7]) {
      for (const dtype of ['float32', 'float64', 'int32'] as const) {
        const t = T.full([], v, { dtype }).reshape(1, 1).expand(3, 5);
        const show = (xs: ArrayLike<number>) => Array.from(xs, (x) => (Object.is(x, -0) ? '-0' : String(x)));
        const one = dtype === 'int32' ? (Number.isNaN(v) ? 0 : Math.trunc(v) || 0) : v; // what an element holds
        expect(show(t.contiguous().dataSync())).toEqual(show(new Array<number>(15).fill(one)));
        expect(show(t.cast('float64').dataSync())).toEqual(show(new Array<number>(15).fill(one)));
      }
    }
  });

  it('reductions over leading and trailing axes (a conv bias gradient) equal the general loop, NaN included', () => {
    T.manualSeed(4);
    for (const dtype of ['float32', 'float64', 'int32'] as const) {
      const x = T.randn([3, 4, 2, 5]).mul(dtype === 'int32' ? 10 : 1).cast(dtype);
      const strided = x.transpose(0, 1).contiguous().transpose(0, 1); // same values, not contiguous: the general loop
      const withNaN = dtype === 'int32' ? x : T.where(T.logicalAnd(T.tensor([0, 1, 0, 0]).reshape(1, 4, 1, 1).eq(1), T.tensor([0, 0, 0, 1, 0]).eq(1)), NaN, x);
      const stridedNaN = withNaN.transpose(0, 1).contiguous().transpose(0, 1);
      for (const axes of [[0, 2, 3], [0, 3], [0, 1, 3], [0, 2]]) {
        for (const op of ['sum', 'max', 'min', 'prod'] as const) {
          const f = (t: T.Tensor) => Array.from((op === 'sum' ? T.sum(t, axes) : op === 'max' ? T.max(t, axes) : op === 'min' ? T.min(t, axes) : T.prod(t, axes)).dataSync());
          expect(f(x), `${dtype} ${op} ${axes}`).toEqual(f(strided));
          expect(f(withNaN).map(String), `${dtype} ${op} ${axes} with NaN`).toEqual(f(stridedNaN).map(String));
        }
      }
    }
  });

  it('indexSelect copies whole blocks along any axis, negative indices included; bad ones name the op', () => {
    const x = T.arange(2 * 3 * 70, undefined, 1, { dtype: 'float32' }).reshape(2, 3, 70); // rows of 70: block copies
    const idx = T.tensor([2, -3, 2], { dtype: 'int32' });
    for (const dim of [0, 1, 2]) {
      const size = x.shape[dim];
      const picked = [2, -3, 2].map((j) => (j < 0 ? j + size : j));
      if (picked.some((j) => j >= size || j < 0)) continue;
      const got = T.indexSelect(x, dim, idx).arraySync() as number[][][];
      const want = x.arraySync() as number[][][];
      const ref = (a: number, b: number, c: number) => [a, b, c].map((v, d) => (d === dim ? picked[v] : v)) as [number, number, number];
      got.forEach((pa, a) => pa.forEach((pb, b) => pb.forEach((v, c) => {
        const [i, j, k] = ref(a, b, c);
        expect(v).toBe(want[i][j][k]);
      })));
    }
    expect(() => T.indexSelect(x, 1, T.tensor([3], { dtype: 'int32' }))).toThrow(/gather: index 3 is out of range for dim 1 of size 3/);
    // a gather whose index varies along other axes takes the general path
    expect(T.gather(T.tensor([[1, 2], [3, 4]]), 1, T.tensor([[1, 0], [0, 0]], { dtype: 'int32' })).arraySync()).toEqual([[2, 1], [3, 3]]);
  });

  it('the gradient helpers reject operands of the wrong shape, naming the op and both shapes', () => {
    const p = { kernel: [3, 3], stride: [1, 1], dilation: [1, 1], pad: [0, 0, 0, 0], padValue: 0 } as const;
    const w = T.ones([4, 2, 3, 3]);
    expect(() => T.conv2dBackwardInput(T.ones([1, 4, 5, 5]), w, [1, 2, 6, 6], p)).toThrow(/conv2dBackwardInput: dy must be \[1,4,4,4\], got \[1,4,5,5\]/);
    expect(() => T.conv2dBackwardInput(T.ones([1, 4, 4, 4]), w, [1, 3, 6, 6], p)).toThrow(/conv2dBackwardInput: weight must be \[4,3,3,3\], got \[4,2,3,3\]/);
    expect(() => T.conv2dBackwardWeight(T.ones([2, 4, 4, 4]), T.ones([1, 2, 6, 6]), [4, 2, 3, 3], p)).toThrow(/conv2dBackwardWeight: dy must be \[1,4,4,4\], got \[2,4,4,4\]/);
    expect(() => T.conv2dBackwardWeight(T.ones([1, 4, 4, 4]), T.ones([1, 3, 6, 6]), [4, 2, 3, 3], p)).toThrow(/conv2dBackwardWeight: x must be \[1,2,6,6\], got \[1,3,6,6\]/);
    const pool = { kernel: [2, 2], stride: [2, 2], dilation: [1, 1], pad: [0, 0, 0, 0], padValue: -Infinity } as const;
    const x = T.ones([1, 1, 4, 4]);
    expect(() => T.maxPool2dBackward(x, T.ones([1, 1, 2, 2]), T.ones([1, 1, 3, 2]), pool)).toThrow(/maxPool2dBackward: dy must be \[1,1,2,2\], got \[1,1,3,2\]/);
    expect(() => T.reluBackward(T.ones([2, 3]), T.ones([3, 2]))).toThrow(/reluBackward: dy must have x's shape \[2,3\], got \[3,2\]/);
  });

  it('hostData is the live buffer of a contiguous tensor, null for a strided view', () => {
    const x = T.arange(6, undefined, 1, { dtype: 'float32' }).reshape(2, 3);
    const h = hostData(x)!;
    h[4] = 40;
    expect(x.arraySync()).toEqual([[0, 1, 2], [3, 40, 5]]);
    expect(Array.from(hostData(x.index([1]))!)).toEqual([3, 40, 5]); // a contiguous row
    expect(hostData(x.transpose(0, 1))).toBeNull();
    x.dispose();
    expect(() => hostData(x)).toThrow(/disposed/);
  });
});

describe('the fused log-softmax kernel', () => {
  it('equals the composite x − logsumexp(x) bit for bit (±∞, NaN and huge rows included), float32 and float64', () => {
    const rows = [[1, 2, 3, 4], [1000, -1000, 0, 999], [-Infinity, 0, 1, 2], [Infinity, 1, 2, 3], [NaN, 1, 2, 3], [-Infinity, -Infinity, -Infinity, -Infinity], [-0, 0, 1e-30, -1e-30]];
    T.manualSeed(8);
    for (const dtype of ['float32', 'float64'] as const) {
      for (const x of [T.tensor(rows, { dtype }), T.randn([50, 40, 17]).mul(30).cast(dtype)]) {
        const fused = Array.from(T.logSoftmax(x, -1).dataSync()).map(String);
        const composite = Array.from(T.sub(x, T.logsumexp(x, -1, true)).dataSync()).map(String);
        expect(fused).toEqual(composite);
        // another axis, or a strided view: the composite runs, with the same values
        expect(Array.from(T.logSoftmax(x.transpose(0, 1), 0).dataSync()).map(String)).toEqual(Array.from(T.sub(x.transpose(0, 1), T.logsumexp(x.transpose(0, 1), 0, true)).dataSync()).map(String));
      }
    }
  });
});

describe('the seeded generator', () => {
  it('uniform and rand fill from the generator in the same order as draw-by-draw (same seed, same values)', async () => {
    const { rng } = await import('../src/random.js');
    // a float32 range whose top quarter-ulp rounds up to the float32 just above `high`: about
    // one draw in fifteen is redrawn there
    const ulp = 2 ** -33;
    const top = Math.fround(1e-3);
    for (const [low, high, dtype] of [[0, 1, 'float32'], [-2, 3, 'float64'], [top - 4 * ulp, top - ulp / 4, 'float32']] as const) {
      T.manualSeed(11);
      const got = Array.from(T.uniform([9000], low, high, { dtype }).dataSync()); // chunks of 4096 draws
      T.manualSeed(11);
      const g = rng();
      let redrawn = 0;
      const want = got.map(() => {
        let v = low + (high - low) * g.nextFloat();
        while (dtype === 'float32' && Math.fround(v) >= high) {
          v = low + (high - low) * g.nextFloat();
          redrawn++;
        }
        return dtype === 'float32' ? Math.fround(v) : v;
      });
      if (low > 0) expect(redrawn).toBeGreaterThan(300);
      expect(got).toEqual(want);
      expect(got.every((v) => v >= low && v < high)).toBe(true);
      expect(g.nextU32()).toBe((T.manualSeed(11), T.uniform([9000], low, high, { dtype }), rng().nextU32())); // the state moved on alike
    }
  });
});
