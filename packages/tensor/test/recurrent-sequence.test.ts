// lstmSequence, gruSequence, rnnSequence and their backward ops: the host kernels (on a cpu
// backend counting the calls that ran them) and the composites against plain-JavaScript
// recurrences written from the equations (float64), the backward ops against central
// differences of those, strided operands, declines, and shape errors.
import { describe, expect, it } from 'vitest';
import type { DataId, RnnSequenceAttrs, SaveForBackward, SequenceAttrs, View } from '../src/backend.js';
import { CpuBackend } from '../src/backends/cpu.js';
import type { DType } from '../src/dtype.js';
import { registerBackend } from '../src/engine.js';
import {
  fromArray, gruSequence, gruSequenceBackward, lstmSequence, lstmSequenceBackward, manualSeed, narrow, randn, rnnSequence, rnnSequenceBackward, transpose, zeros, type Tensor,
} from '../src/index.js';
import { registerCompositeBackend } from '../src/testing/index.js';

type Method = 'lstmSequence' | 'lstmSequenceBackward' | 'gruSequence' | 'gruSequenceBackward' | 'rnnSequence' | 'rnnSequenceBackward';

/** The cpu backend, counting the sequence kernels that ran (returned a result) and the buffers kept. */
class Counting extends CpuBackend {
  override readonly name = 'cpu-sequence-test';
  readonly calls: Record<Method, number> = { lstmSequence: 0, lstmSequenceBackward: 0, gruSequence: 0, gruSequenceBackward: 0, rnnSequence: 0, rnnSequenceBackward: 0 };
  readonly saves: number[][] = [];
  #count(m: Method, out: DataId | null): DataId | null {
    if (out !== null) this.calls[m]++;
    return out;
  }
  #saving(save: SaveForBackward): SaveForBackward {
    return save === null ? null : (d, shape, dtype) => (this.saves.push([...shape]), save(d, shape, dtype));
  }
  override lstmSequence(xw: View, h0: View, c0: View, whh: View, o: SequenceAttrs, save: SaveForBackward): DataId | null {
    return this.#count('lstmSequence', super.lstmSequence(xw, h0, c0, whh, o, this.#saving(save)));
  }
  override lstmSequenceBackward(xw: View, h0: View, c0: View, whh: View, y: View, dy: View, o: SequenceAttrs, saved: readonly View[]): DataId | null {
    return this.#count('lstmSequenceBackward', super.lstmSequenceBackward(xw, h0, c0, whh, y, dy, o, saved));
  }
  override gruSequence(xp: View, h0: View, whh: View, bhh: View | null, o: SequenceAttrs, save: SaveForBackward): DataId | null {
    return this.#count('gruSequence', super.gruSequence(xp, h0, whh, bhh, o, this.#saving(save)));
  }
  override gruSequenceBackward(xp: View, h0: View, whh: View, bhh: View | null, y: View, dy: View, o: SequenceAttrs, saved: readonly View[]): DataId | null {
    return this.#count('gruSequenceBackward', super.gruSequenceBackward(xp, h0, whh, bhh, y, dy, o, saved));
  }
  override rnnSequence(xp: View, h0: View, whh: View, o: RnnSequenceAttrs): DataId | null {
    return this.#count('rnnSequence', super.rnnSequence(xp, h0, whh, o));
  }
  override rnnSequenceBackward(xp: View, h0: View, whh: View, y: View, dy: View, o: RnnSequenceAttrs): DataId | null {
    return this.#count('rnnSequenceBackward', super.rnnSequenceBackward(xp, h0, whh, y, dy, o));
  }
}
const K = new Counting();
registerBackend(K);
const KERNEL = K.name;

/** Every recurrent kernel declined: the sequence ops run their composites down to the primitives. */
const COMPOSITE = registerCompositeBackend('cpu-sequence-composite', [
  'lstmCell', 'lstmCellBackward', 'lstmSequence', 'lstmSequenceBackward', 'gruSequence', 'gruSequenceBackward', 'rnnSequence', 'rnnSequenceBackward',
]).name;

// ---- the references: the recurrences on plain arrays, from the equations

const sig = (a: number) => 1 / (1 + Math.exp(-a));

/** Operands as flat row-major arrays; `shift` [L, B, G·H] is added to h W_hhᵀ (+ b_hh) at every step (to differentiate by it). */
interface Operands {
  x: number[];
  h0: number[];
  c0: number[];
  whh: number[];
  bhh: number[];
  shift: number[];
}

/** The sequence ops as kinds of one test: operands, the op, its backward op and the reference. */
interface Kind {
  name: string;
  /** gates per hidden unit (x is [L, B, G·H]) */
  G: number;
  /** output width per hidden unit, and the backward op's slot width (its slots: L + 1, or 2L + 1 for the GRU) */
  out: number;
  back: number;
  hasC: boolean;
  hasBias: boolean;
  forward(t: Tensor[], reverse: boolean): Tensor;
  backward(t: Tensor[], y: Tensor, dy: Tensor, reverse: boolean): Tensor;
  /** output [L, B, out·H], in time order */
  ref(v: Operands, L: number, B: number, H: number, reverse: boolean): number[];
}

/** Run `step(t, b, a)` over the steps in order, a = h_{t−1} W_hhᵀ + b_hh + shift_t for sample b (G·H values). */
function recurrence(v: Operands, L: number, B: number, H: number, G: number, reverse: boolean, step: (t: number, b: number, a: number[], h: number[]) => number[]): void {
  let h = Array.from({ length: B }, (_, b) => v.h0.slice(b * H, (b + 1) * H));
  for (let s = 0; s < L; s++) {
    const t = reverse ? L - 1 - s : s;
    h = h.map((hb, b) => {
      const a = Array.from({ length: G * H }, (_, r) => {
        let acc = (v.bhh[r] ?? 0) + (v.shift[(t * B + b) * G * H + r] ?? 0);
        for (let m = 0; m < H; m++) acc += hb[m] * v.whh[r * H + m];
        return acc;
      });
      return step(t, b, a, hb);
    });
  }
}

function refLstm(v: Operands, L: number, B: number, H: number, reverse: boolean): number[] {
  const out = new Array<number>(L * B * 2 * H);
  const c = Array.from({ length: B }, (_, b) => v.c0.slice(b * H, (b + 1) * H));
  recurrence(v, L, B, H, 4, reverse, (t, b, a) => {
    const x = (k: number, j: number) => v.x[(t * B + b) * 4 * H + k * H + j] + a[k * H + j];
    const h = new Array<number>(H);
    for (let j = 0; j < H; j++) {
      c[b][j] = sig(x(1, j)) * c[b][j] + sig(x(0, j)) * Math.tanh(x(2, j));
      h[j] = sig(x(3, j)) * Math.tanh(c[b][j]);
      out[(t * B + b) * 2 * H + j] = h[j];
      out[(t * B + b) * 2 * H + H + j] = c[b][j];
    }
    return h;
  });
  return out;
}

function refGru(v: Operands, L: number, B: number, H: number, reverse: boolean): number[] {
  const out = new Array<number>(L * B * H);
  recurrence(v, L, B, H, 3, reverse, (t, b, a, hPrev) =>
    hPrev.map((hj, j) => {
      const x = (k: number) => v.x[(t * B + b) * 3 * H + k * H + j];
      const r = sig(x(0) + a[j]);
      const z = sig(x(1) + a[H + j]);
      const n = Math.tanh(x(2) + r * a[2 * H + j]);
      return (out[(t * B + b) * H + j] = (1 - z) * n + z * hj);
    }),
  );
  return out;
}

function refRnn(act: 'tanh' | 'relu') {
  return (v: Operands, L: number, B: number, H: number, reverse: boolean): number[] => {
    const out = new Array<number>(L * B * H);
    recurrence(v, L, B, H, 1, reverse, (t, b, a) =>
      a.map((aj, j) => {
        const pre = v.x[(t * B + b) * H + j] + aj;
        return (out[(t * B + b) * H + j] = act === 'tanh' ? Math.tanh(pre) : Math.max(pre, 0));
      }),
    );
    return out;
  };
}

const KINDS: Kind[] = [
  {
    name: 'lstmSequence', G: 4, out: 2, back: 4, hasC: true, hasBias: false, ref: refLstm,
    forward: ([x, h0, c0, w], reverse) => lstmSequence(x, h0, c0, w, { reverse }),
    backward: ([x, h0, c0, w], y, dy, reverse) => lstmSequenceBackward(x, h0, c0, w, y, dy, { reverse }),
  },
  {
    name: 'gruSequence', G: 3, out: 1, back: 3, hasC: false, hasBias: true, ref: refGru,
    forward: ([x, h0, w, b], reverse) => gruSequence(x, h0, w, b, { reverse }),
    backward: ([x, h0, w, b], y, dy, reverse) => gruSequenceBackward(x, h0, w, b, y, dy, { reverse }),
  },
  {
    name: 'gruSequence without bhh', G: 3, out: 1, back: 3, hasC: false, hasBias: false, ref: refGru,
    forward: ([x, h0, w], reverse) => gruSequence(x, h0, w, null, { reverse }),
    backward: ([x, h0, w], y, dy, reverse) => gruSequenceBackward(x, h0, w, null, y, dy, { reverse }),
  },
  {
    name: 'rnnSequence (tanh)', G: 1, out: 1, back: 1, hasC: false, hasBias: false, ref: refRnn('tanh'),
    forward: ([x, h0, w], reverse) => rnnSequence(x, h0, w, { reverse }),
    backward: ([x, h0, w], y, dy, reverse) => rnnSequenceBackward(x, h0, w, y, dy, { reverse }),
  },
  {
    name: 'rnnSequence (relu)', G: 1, out: 1, back: 1, hasC: false, hasBias: false, ref: refRnn('relu'),
    forward: ([x, h0, w], reverse) => rnnSequence(x, h0, w, { reverse, nonlinearity: 'relu' }),
    backward: ([x, h0, w], y, dy, reverse) => rnnSequenceBackward(x, h0, w, y, dy, { reverse, nonlinearity: 'relu' }),
  },
];

const values = (t: Tensor) => Array.from(t.dataSync());
const on = (t: Tensor, backend: string) => fromArray(t.dataSync(), t.shape, { dtype: t.dtype, backend });

/** Random operands [x, h0, (c0,) whh, (bhh)] for a kind (h0 and c0 zero when `zeroState`), as tensors and arrays. */
function operands(k: Kind, L: number, B: number, H: number, zeroState: boolean, dtype: DType = 'float64'): { t: Tensor[]; v: Operands } {
  const o = { dtype, backend: COMPOSITE };
  const state = () => (zeroState ? zeros([B, H], o) : randn([B, H], o));
  const t = [randn([L, B, k.G * H], o), state(), ...(k.hasC ? [state()] : []), randn([k.G * H, H], o).mul(0.6), ...(k.hasBias ? [randn([k.G * H], o)] : [])];
  const [x, h0] = t.map(values);
  const v: Operands = { x, h0, c0: k.hasC ? values(t[2]) : [], whh: values(t[k.hasC ? 3 : 2]), bhh: k.hasBias ? values(t[3]) : [], shift: [] };
  return { t, v };
}

/**
 * The backward op's expected result by central differences of Σ dy ∘ ref: per step the
 * gradient at x, then ∂h0 (and ∂c0), zero-padded to the slot width; for the GRU
 * [2L + 1, B, 3H]: ∂x for every step, ∂shift for every step, then [∂h0 | 0 | 0].
 */
function referenceBackward(k: Kind, v: Operands, dy: number[], L: number, B: number, H: number, reverse: boolean): number[] {
  const loss = (w: Operands) => k.ref(w, L, B, H, reverse).reduce((acc, y, q) => acc + y * dy[q], 0);
  const eps = 1e-6;
  const GH = k.G * H;
  const diff = (key: keyof Operands, q: number) => {
    const bump = (e: number) => ({ ...v, [key]: (v[key].length ? v[key] : new Array<number>(L * B * GH).fill(0)).map((a, r) => (r === q ? a + e : a)) });
    return (loss(bump(eps)) - loss(bump(-eps))) / (2 * eps);
  };
  const W = k.back * H;
  const gru = k.G === 3;
  const out = new Array<number>(((gru ? 2 : 1) * L + 1) * B * W).fill(0);
  for (let q = 0; q < L * B * GH; q++) {
    const [row, col] = [Math.floor(q / GH), q % GH];
    out[row * W + col] = diff('x', q);
    if (gru) out[L * B * W + q] = diff('shift', q);
  }
  const last = (gru ? 2 : 1) * L * B * W;
  for (let q = 0; q < B * H; q++) {
    const [b, j] = [Math.floor(q / H), q % H];
    out[last + b * W + j] = diff('h0', q);
    if (k.hasC) out[last + b * W + H + j] = diff('c0', q);
  }
  return out;
}

function expectClose(actual: number[], expected: number[], tol: number, label = ''): void {
  expect(actual.length, label).toBe(expected.length);
  const worst = Math.max(0, ...actual.map((a, i) => Math.abs(a - expected[i]) / (1 + Math.abs(expected[i]))));
  expect(worst, label).toBeLessThan(tol);
}

// [L, B, H, reverse, zero initial state]
const SHAPES: [number, number, number, boolean, boolean][] = [
  [1, 1, 1, false, false], [1, 3, 2, true, true], [3, 1, 5, false, true], [4, 3, 3, true, false], [5, 2, 4, false, false], [2, 4, 7, true, false],
];

describe.each(KINDS)('$name: one op for a whole layer-direction', (k) => {
  const fwd = k.name.split(' ')[0] as Method;
  const bwd = `${fwd}Backward` as Method;

  it.each(SHAPES)('L=%i, B=%i, H=%i, reverse=%s, zero state=%s: kernel and composite equal the recurrence (float64)', (L, B, H, reverse, zero) => {
    manualSeed(L * 1000 + B * 100 + H);
    const { t, v } = operands(k, L, B, H, zero);
    const want = k.ref(v, L, B, H, reverse);
    expectClose(values(k.forward(t, reverse)), want, 1e-13, 'composite');
    const before = K.calls[fwd];
    const y = k.forward(t.map((x) => on(x, KERNEL)), reverse);
    expect(K.calls[fwd]).toBe(before + 1);
    expect(y.shape).toEqual([L, B, k.out * H]);
    expectClose(values(y), want, 1e-13, 'kernel');
  });

  it.each(SHAPES)('L=%i, B=%i, H=%i, reverse=%s, zero state=%s: the backward op, kernel and composite, equals central differences', (L, B, H, reverse, zero) => {
    manualSeed(L * 1000 + B * 100 + H + 7);
    const { t, v } = operands(k, L, B, H, zero);
    const dy = randn([L, B, k.out * H], { dtype: 'float64', backend: COMPOSITE });
    const want = referenceBackward(k, v, values(dy), L, B, H, reverse);
    const y = k.forward(t, reverse);
    const composite = values(k.backward(t, y, dy, reverse));
    expectClose(composite, want, 1e-7, 'composite');
    const kt = t.map((x) => on(x, KERNEL));
    const before = K.calls[bwd];
    const kernel = values(k.backward(kt, on(y, KERNEL), on(dy, KERNEL), reverse)); // no saved activations: recomputed
    expect(K.calls[bwd]).toBe(before + 1);
    expectClose(kernel, composite, 1e-13, 'kernel');
  });

  it('reads strided operands: x a narrow and a batch-first transpose, h0 (c0) with a row stride, whh transposed', () => {
    manualSeed(41);
    const [L, B, H] = [3, 2, 3];
    const { t, v } = operands(k, L, B, H, false);
    const want = k.ref(v, L, B, H, true);
    const o = { dtype: 'float64' as const, backend: KERNEL };
    // x inside a wider tensor, as its batch-first transpose: [B, L, G·H + 2] narrowed, then [L, B, G·H]
    const xWide = fromArray(Array.from({ length: B * L * (k.G * H + 2) }, (_, q) => {
      const [b, rest] = [Math.floor(q / (L * (k.G * H + 2))), q % (L * (k.G * H + 2))];
      const [s, c] = [Math.floor(rest / (k.G * H + 2)), rest % (k.G * H + 2)];
      return c === 0 || c > k.G * H ? 99 : v.x[(s * B + b) * k.G * H + c - 1];
    }), [B, L, k.G * H + 2], o);
    const x = transpose(narrow(xWide, 2, 1, k.G * H), 0, 1);
    const rowStrided = (vals: number[]) => narrow(fromArray(Array.from({ length: B * 2 * H }, (_, q) => (q % (2 * H) < H ? vals[Math.floor(q / (2 * H)) * H + (q % (2 * H))] : -5)), [B, 2 * H], o), 1, 0, H);
    const wT = transpose(fromArray(Array.from({ length: k.G * H * H }, (_, q) => v.whh[(q % (k.G * H)) * H + Math.floor(q / (k.G * H))]), [H, k.G * H], o), 0, 1);
    const operandsK = [x, rowStrided(v.h0), ...(k.hasC ? [rowStrided(v.c0)] : []), wT, ...(k.hasBias ? [on(t[3], KERNEL)] : [])];
    const before = K.calls[fwd];
    const y = k.forward(operandsK, true);
    expect(K.calls[fwd]).toBe(before + 1);
    expectClose(values(y), want, 1e-13);
    // the backward op on the same strided operands and a strided dy
    const dyWide = randn([L, B, k.out * H + 1], o);
    const dy = narrow(dyWide, 2, 1, k.out * H);
    const beforeB = K.calls[bwd];
    const kernel = values(k.backward(operandsK, y, dy, true));
    expect(K.calls[bwd]).toBe(beforeB + 1);
    expectClose(kernel, values(k.backward(t, on(y, COMPOSITE), on(dy.contiguous(), COMPOSITE), true)), 1e-13);
  });

  it('declines an x whose rows are not contiguous (the composite runs) and float32 agrees with the composite', () => {
    manualSeed(43);
    const [L, B, H] = [2, 3, 2];
    const { t, v } = operands(k, L, B, H, false);
    const xCols = transpose(fromArray(Array.from({ length: L * B * k.G * H }, (_, q) => v.x[(q % (L * B)) * k.G * H + Math.floor(q / (L * B))]), [k.G * H, L * B], { dtype: 'float64', backend: KERNEL }), 0, 1).reshape([L, B, k.G * H]);
    expect(xCols.strides[2]).not.toBe(1);
    const before = K.calls[fwd];
    expectClose(values(k.forward([xCols, ...t.slice(1).map((x) => on(x, KERNEL))], false)), k.ref(v, L, B, H, false), 1e-13);
    expect(K.calls[fwd]).toBe(before);

    const { t: t32 } = operands(k, 6, 4, 9, false, 'float32');
    const composite = values(k.forward(t32, false));
    expectClose(values(k.forward(t32.map((x) => on(x, KERNEL)), false)), composite, 3e-6, 'float32');
  });
});

describe('what the forward kernels save, and the backward kernels from saved activations', () => {
  it.each([
    ['lstmSequence', 0, 5],
    ['gruSequence', 1, 4],
  ] as const)('%s saves one [L, B, %i·H]-like buffer only when a gradient will be asked for; the backward kernel from it equals the recomputing one', (name, i, width) => {
    const k = KINDS[i];
    manualSeed(51);
    const [L, B, H] = [4, 2, 3];
    const kt = operands(k, L, B, H, false).t.map((x) => on(x, KERNEL));
    const v = (x: Tensor) => x.view_();
    const kept: Tensor[] = [];
    const n = K.saves.length;
    const o = { reverse: false };
    const y = name === 'lstmSequence'
      ? K.lstmSequence(v(kt[0]), v(kt[1]), v(kt[2]), v(kt[3]), o, (d, shape, dtype) => void kept.push(fromData(d, shape, dtype)))
      : K.gruSequence(v(kt[0]), v(kt[1]), v(kt[2]), v(kt[3]), o, (d, shape, dtype) => void kept.push(fromData(d, shape, dtype)));
    expect(K.saves.slice(n)).toEqual([[L, B, width * H]]);
    expect(y).not.toBeNull();
    const yT = fromData(y!, [L, B, k.out * H], 'float64');
    const dy = randn([L, B, k.out * H], { dtype: 'float64', backend: KERNEL });
    const fromSaved = name === 'lstmSequence'
      ? lstmSequenceBackward(kt[0], kt[1], kt[2], kt[3], yT, dy, o, kept)
      : gruSequenceBackward(kt[0], kt[1], kt[2], kt[3], yT, dy, o, kept);
    expectClose(values(fromSaved), values(k.backward(kt, yT, dy, false)), 1e-13);
    const m = K.saves.length;
    k.forward(kt, false); // no gradient asked for: nothing saved
    expect(K.saves.length).toBe(m);
  });
});

function fromData(d: DataId, shape: readonly number[], dtype: DType): Tensor {
  return fromArray(K.hostArray(d).slice(), shape, { dtype, backend: KERNEL });
}

describe('argument checks name the operands', () => {
  const f = (shape: number[], dtype: DType = 'float32') => randn(shape, { dtype });
  it('shapes, dtypes and an empty sequence', () => {
    expect(() => lstmSequence(f([3, 2, 12]), f([2, 3]), f([2, 3]), f([12, 4]))).toThrow(/lstmSequence: whh must be \[12,3\] for h0 \[2,3\]/);
    expect(() => lstmSequence(f([3, 2, 8]), f([2, 3]), f([2, 3]), f([12, 3]))).toThrow(/lstmSequence: x must be \[3,2,12\]/);
    expect(() => lstmSequence(f([3, 2, 12]), f([2, 3]), f([1, 3]), f([12, 3]))).toThrow(/c0 must be \[2,3\]/);
    expect(() => gruSequence(f([3, 2, 9]), f([2, 3]), f([9, 3]), f([6]))).toThrow(/gruSequence: bhh must be \[9\]/);
    expect(() => rnnSequence(f([3, 2, 3]), f([2, 3], 'float64'), f([3, 3]))).toThrow(/rnnSequence: h0 is float64 but x is float32/);
    expect(() => rnnSequence(f([0, 2, 3]), f([2, 3]), f([3, 3]))).toThrow(/empty sequence/);
    expect(() => rnnSequenceBackward(f([3, 2, 3]), f([2, 3]), f([3, 3]), f([3, 2, 3]), f([3, 2, 4]))).toThrow(/dy must be \[3,2,3\]/);
    expect(() => rnnSequence(f([3, 2, 3]), f([2, 3]), f([3, 3]), { nonlinearity: 'gelu' as 'relu' })).toThrow(/nonlinearity must be 'tanh' or 'relu'/);
  });
});
