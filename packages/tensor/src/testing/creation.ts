/** Conformance cases: tensor creation and random fills. */
import {
  arange,
  eye,
  fromArray,
  full,
  fullLike,
  linspace,
  manualSeed,
  ones,
  onesLike,
  dropoutMask,
  rand,
  randint,
  randLike,
  randn,
  scalar,
  tensor,
  uniform,
  zeros,
  zerosLike,
} from '../index.js';
import { assertClose, assertThrows, assert, fmtShape } from './assert.js';
import {
  type CaseDef,
  f32,
  i32,
  f64,
  bool,
  float64Here,
  ifFloat64,
} from './case-helpers.js';

export const CREATION_CASES: CaseDef[] = [
  // ------------------------------------------------------------ creation
  [
    'creation: tensor() from nested arrays, numbers and booleans',
    async () => {
      await assertClose(tensor([[1, 2, 3], [4, 5, 6]]), [[1, 2, 3], [4, 5, 6]], f32);
      await assertClose(tensor([true, false, true]), [true, false, true], bool);
      await assertClose(tensor([[1, 2]], i32), [[1, 2]], i32);
      await assertClose(tensor(7.5), 7.5, f32);
      await assertClose(scalar(3, i32), 3, i32);
      await assertClose(tensor([]), [], { shape: [0], dtype: 'float32' });
      // int32 from fractional numbers truncates toward zero
      await assertClose(tensor([1.7, -1.7], i32), [1, -1], i32);
      const arr = await tensor([[true], [false]]).array();
      assert(JSON.stringify(arr) === '[[true],[false]]', `array() of a bool tensor gave ${JSON.stringify(arr)}`);
      const s = await tensor(2.5).array();
      assert(s === 2.5, `array() of a 0-d tensor gave ${JSON.stringify(s)}`);
    },
  ],
  [
    'creation: tensor()/fromArray() from typed arrays infer the dtype',
    async () => {
      await ifFloat64(() => assertClose(tensor(new Float64Array([0.1, 0.2])), [0.1, 0.2], { ...f64, atol: 1e-15, rtol: 1e-15 }));
      await assertClose(tensor(new Int32Array([3, -4])), [3, -4], i32);
      await assertClose(tensor(new Uint8Array([1, 0])), [true, false], bool);
      await assertClose(tensor(new Float32Array([1.5])), [1.5], f32);
      await assertClose(fromArray([1, 2, 3, 4, 5, 6], [2, 3]), [[1, 2, 3], [4, 5, 6]], f32);
      await assertClose(fromArray(new Int32Array([1, 2, 3, 4]), [2, 2]), [[1, 2], [3, 4]], i32);
      assertThrows(() => fromArray([1, 2, 3, 4, 5], [2, 3]), /fromArray: 5 values do not fill shape \[2,3\]/);
    },
  ],
  [
    'creation: zeros, ones, full',
    async () => {
      await assertClose(zeros([2, 3]), [[0, 0, 0], [0, 0, 0]], f32);
      await assertClose(ones([2], i32), [1, 1], i32);
      await assertClose(full([2, 2], 7.5), [[7.5, 7.5], [7.5, 7.5]], f32);
      await assertClose(full([3], true), [true, true, true], bool);
      await assertClose(full([2], -3, i32), [-3, -3], i32);
      await assertClose(full([], 2), 2, f32);
      await assertClose(zeros([0, 4]), [], { shape: [0, 4], dtype: 'float32' });
      await ifFloat64(() => assertClose(ones([2, 1, 2], f64), [[[1, 1]], [[1, 1]]], f64));
    },
  ],
  [
    'creation: arange (int32 for integer args, float32 otherwise, negative step)',
    async () => {
      await assertClose(arange(5), [0, 1, 2, 3, 4], i32);
      await assertClose(arange(2, 8, 3), [2, 5], i32);
      await assertClose(arange(0, 1, 0.25), [0, 0.25, 0.5, 0.75], f32);
      await assertClose(arange(5, 0, -2), [5, 3, 1], i32);
      await assertClose(arange(3, 3), [], { shape: [0], dtype: 'int32' });
      await assertClose(arange(0, 3, 1, f32), [0, 1, 2], f32);
      // numpy: np.arange(1, 2.5, 0.5) -> [1. , 1.5, 2. ]
      await assertClose(arange(1, 2.5, 0.5), [1, 1.5, 2], f32);
    },
  ],
  [
    'creation: linspace (inclusive end, 1 and 0 steps)',
    async () => {
      await assertClose(linspace(0, 1, 5), [0, 0.25, 0.5, 0.75, 1], f32);
      await assertClose(linspace(-1, 1, 3), [-1, 0, 1], f32);
      await assertClose(linspace(2, 5, 1), [2], f32);
      await assertClose(linspace(2, 3, 0), [], { shape: [0], dtype: 'float32' });
      // numpy: np.linspace(0, 1, 4) -> [0, 1/3, 2/3, 1]
      await ifFloat64(() => assertClose(linspace(0, 1, 4, f64), [0, 1 / 3, 2 / 3, 1], { ...f64, atol: 1e-12 }));
    },
  ],
  [
    'creation: eye (square and rectangular)',
    async () => {
      await assertClose(eye(3), [[1, 0, 0], [0, 1, 0], [0, 0, 1]], f32);
      await assertClose(eye(2, 3), [[1, 0, 0], [0, 1, 0]], f32);
      await assertClose(eye(3, 2, i32), [[1, 0], [0, 1], [0, 0]], i32);
    },
  ],
  [
    'creation: zerosLike/onesLike/fullLike/randLike keep shape and dtype',
    async () => {
      const x = tensor([[1, 2, 3], [4, 5, 6]], i32);
      await assertClose(zerosLike(x), [[0, 0, 0], [0, 0, 0]], i32);
      await assertClose(onesLike(x), [[1, 1, 1], [1, 1, 1]], i32);
      await assertClose(fullLike(x, 7), [[7, 7, 7], [7, 7, 7]], i32);
      await assertClose(fullLike(x, 0.5, f32), [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]], f32);
      await ifFloat64(async () => {
        const r = randLike(tensor([[1], [2]], f64));
        assert(r.dtype === 'float64' && r.shape.join() === '2,1', `randLike gave ${r.dtype} ${fmtShape(r.shape)}`);
      });
      const r = randLike(tensor([[1], [2]]));
      assert(r.dtype === 'float32' && r.shape.join() === '2,1', `randLike gave ${r.dtype} ${fmtShape(r.shape)}`);
      await assertClose(zerosLike(tensor([true])), [false], bool);
    },
  ],
  [
    'creation: rand is in [0, 1) and manualSeed makes it reproducible',
    async () => {
      manualSeed(1234);
      const a = await rand([2000]).data();
      let s = 0;
      for (let i = 0; i < a.length; i++) {
        assert(a[i] >= 0 && a[i] < 1, `rand value ${a[i]} at ${i} is outside [0, 1)`);
        s += a[i];
      }
      assert(Math.abs(s / a.length - 0.5) < 0.05, `rand mean ${s / a.length} is far from 0.5`);
      manualSeed(1234);
      const b = await rand([2000]).data();
      for (let i = 0; i < a.length; i++) assert(a[i] === b[i], `same seed gave ${a[i]} vs ${b[i]} at ${i}`);
      manualSeed(4321);
      const c = await rand([2000]).data();
      assert(c.some((v, i) => v !== a[i]), 'a different seed gave identical values');
      const t = rand([4, 5]);
      assert(t.dtype === 'float32' && t.shape.join() === '4,5', `rand([4,5]) gave ${t.dtype} ${fmtShape(t.shape)}`);
    },
  ],
  [
    'creation: randn, uniform and randint are seeded, shaped and in range',
    async () => {
      manualSeed(7);
      const n1 = await randn([4000]).data();
      manualSeed(7);
      const n2 = await randn([4000]).data();
      let s = 0;
      let s2 = 0;
      for (let i = 0; i < n1.length; i++) {
        assert(n1[i] === n2[i], `randn with the same seed differs at ${i}`);
        s += n1[i];
        s2 += n1[i] * n1[i];
      }
      const m = s / n1.length;
      const sd = Math.sqrt(s2 / n1.length - m * m);
      assert(Math.abs(m) < 0.1 && Math.abs(sd - 1) < 0.1, `randn mean ${m}, std ${sd}`);
      manualSeed(8);
      const u = await uniform([1000], -2, 3).data();
      assert(u.every((v) => v >= -2 && v < 3), 'uniform(-2, 3) value out of range');
      const ri = randint(0, 5, [1000]);
      assert(ri.dtype === 'int32', `randint dtype ${ri.dtype}`);
      const rv = await ri.data();
      assert(rv.every((v) => Number.isInteger(v) && v >= 0 && v < 5), 'randint value out of [0, 5)');
      assert(new Set(rv).size === 5, 'randint(0, 5) over 1000 draws should hit every value');
    },
  ],
  [
    'creation: rand over many chunks rounds the float64 draws, and dropoutMask keeps where rand(shape) ≥ p',
    async () => {
      const n = 9001; // the generator fills in chunks of 4096 draws
      // the float64 references are drawn on the cpu backend (the generator is shared), so
      // backends without float64 run the float32 checks too
      const cpu = { dtype: 'float64', backend: 'cpu' } as const;
      manualSeed(99);
      const u64 = await rand([n], cpu).data();
      manualSeed(99);
      const u32 = await rand([n]).data();
      for (let i = 0; i < n; i++) assert(u32[i] === Math.fround(u64[i]), `rand float32 ${u32[i]} at ${i} is not the float64 draw ${u64[i]} rounded`);
      // a cut equal to a float32 draw that rounded up: compared as stored, that draw is kept
      const k = u64.findIndex((v) => Math.fround(v) > v && v > 0.2 && v < 0.8);
      assert(k >= 0, 'no float32 draw rounded up');
      for (const dtype of float64Here() ? (['float32', 'float64'] as const) : (['float32'] as const)) {
        const u = dtype === 'float32' ? u32 : u64;
        for (const p of [0.5, 0.3, Math.fround(u64[k]), 0, 1, 1.5, -0.25, Number.NaN]) {
          manualSeed(99);
          const scale = p === 0.5 ? 2 : 2.5; // an integer scale too (engines treat small integers apart)
          const m = dropoutMask([n], p, scale, { dtype });
          assert(m.dtype === dtype && m.shape.join() === String(n), `dropoutMask gave ${m.dtype} ${fmtShape(m.shape)}`);
          const mv = await m.data();
          const cut = dtype === 'float32' ? Math.fround(p) : p;
          for (let i = 0; i < n; i++) {
            const want = u[i] >= cut ? scale : 0;
            assert(mv[i] === want, `dropoutMask(p=${p}, ${dtype}) at ${i}: ${mv[i]}, want ${want} (draw ${u[i]})`);
          }
        }
        manualSeed(99);
        dropoutMask([n], 0.5, 2, { dtype });
        const next = await rand([3], cpu).data();
        manualSeed(99);
        rand([n], cpu);
        const afterRand = await rand([3], cpu).data();
        assert(next.every((v, i) => v === afterRand[i]), 'dropoutMask should move the generator on by one draw per element');
      }
    },
  ],
];
