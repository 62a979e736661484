// The whole-sequence recurrent kernels (lstmSequence, gruSequence, rnnSequence and their
// backward passes) through @ml/tensor's ops and @ml/autograd on webgpu: the output and the
// gradient of Σ y·w for every input against float64 loops of the cell equations (gradients
// by central differences) and against the cpu backend, over batch × hidden sizes below and
// across the 64-invocation workgroup, L = 1, reverse, zero and given states, a batch-first
// (strided) input; spies fail a case where a kernel declined and the composite ran.
import '@ml/autograd';
import { getBackend, gruSequence, gruSequenceBackward, lstmSequence, lstmSequenceBackward, mul, reshape, rnnSequence, setBackend, sum, tensor, transpose, type Tensor } from '@ml/tensor';
import { GRADIENT_FLUSH_BELOW } from '@ml/tensor/backend';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { gpu as found } from './gpu.js';
import { expectClose, values } from './reference.js';
import { gatesOf, sequenceGradRef, sequenceRef, type SeqInputs } from './sequence-reference.js';

const maybe = found === null ? describe.skip : describe;

interface Case {
  kind: SeqInputs['kind'];
  L: number;
  B: number;
  H: number;
  reverse: boolean;
  /** h0 (and c0) all zeros */
  zeroState: boolean;
  /** the input projection stored batch-first [B, L, G·H] and transposed (a strided view) */
  batchFirst: boolean;
  /** GRU: with b_hh */
  bias: boolean;
}

const CASES: Case[] = [
  { kind: 'lstm', L: 3, B: 3, H: 5, reverse: false, zeroState: false, batchFirst: false, bias: false },
  { kind: 'lstm', L: 1, B: 1, H: 7, reverse: true, zeroState: true, batchFirst: false, bias: false },
  { kind: 'lstm', L: 4, B: 5, H: 17, reverse: true, zeroState: false, batchFirst: true, bias: false },
  { kind: 'gru', L: 3, B: 3, H: 5, reverse: false, zeroState: false, batchFirst: false, bias: true },
  { kind: 'gru', L: 2, B: 5, H: 17, reverse: true, zeroState: true, batchFirst: true, bias: false },
  { kind: 'gru', L: 1, B: 2, H: 3, reverse: false, zeroState: false, batchFirst: false, bias: true },
  { kind: 'rnn-tanh', L: 4, B: 3, H: 6, reverse: true, zeroState: false, batchFirst: true, bias: false },
  { kind: 'rnn-relu', L: 3, B: 5, H: 17, reverse: false, zeroState: false, batchFirst: false, bias: false },
];

const F64 = (a: Float32Array) => Float64Array.from(a);

/** The case's inputs (float32 values, as the backends get them) and the loss weights. */
function inputsOf(c: Case, seed: number): { s: SeqInputs; w: Float64Array } {
  const { L, B, H } = c;
  const G = gatesOf(c.kind);
  const width = c.kind === 'lstm' ? 2 * H : H;
  const state = (k: number) => (c.zeroState ? new Float64Array(B * H) : F64(values(B * H, seed + k, 0.8)));
  const s: SeqInputs = {
    kind: c.kind,
    L,
    B,
    H,
    reverse: c.reverse,
    x: F64(values(L * B * G * H, seed, 1.5)),
    h0: state(1),
    c0: state(2),
    whh: F64(values(G * H * H, seed + 3, 0.6)),
    bhh: c.bias ? F64(values(G * H, seed + 4, 0.5)) : null,
  };
  return { s, w: F64(values(L * B * width, seed + 5)) };
}

/** [L, B, C] time-major values stored as [B, L, C] (and back, for gradients). */
function toBatchFirst(a: Float64Array, L: number, B: number, C: number, back = false): Float64Array {
  const out = new Float64Array(a.length);
  for (let t = 0; t < L; t++) for (let b = 0; b < B; b++) for (let j = 0; j < C; j++) {
    const tm = (t * B + b) * C + j;
    const bf = (b * L + t) * C + j;
    if (back) out[tm] = a[bf];
    else out[bf] = a[tm];
  }
  return out;
}

/** The op's output and the gradients [x, h0, c0, whh, bhh] of Σ y·w on `backend`. */
async function runOn(backend: string, c: Case, s: SeqInputs, w: Float64Array): Promise<Float64Array[]> {
  const prev = getBackend().name;
  setBackend(backend);
  try {
    const G = gatesOf(c.kind);
    const leaf = (a: Float64Array) => tensor(Float32Array.from(a), { requiresGrad: true });
    const xLeaf = leaf(c.batchFirst ? toBatchFirst(s.x, s.L, s.B, G * s.H) : s.x);
    const x = c.batchFirst ? transpose(reshape(xLeaf, [s.B, s.L, G * s.H]), 0, 1) : reshape(xLeaf, [s.L, s.B, G * s.H]);
    const [h0L, c0L, whhL] = [leaf(s.h0), leaf(s.c0), leaf(s.whh)];
    const bhhL = s.bhh === null ? null : leaf(s.bhh);
    const h0 = reshape(h0L, [s.B, s.H]);
    const whh = reshape(whhL, [G * s.H, s.H]);
    let y: Tensor;
    if (c.kind === 'lstm') y = lstmSequence(x, h0, reshape(c0L, [s.B, s.H]), whh, { reverse: s.reverse });
    else if (c.kind === 'gru') y = gruSequence(x, h0, whh, bhhL, { reverse: s.reverse });
    else y = rnnSequence(x, h0, whh, { reverse: s.reverse, nonlinearity: c.kind === 'rnn-tanh' ? 'tanh' : 'relu' });
    sum(mul(y, reshape(tensor(Float32Array.from(w)), y.shape))).backward();
    const grad = async (t: Tensor | null, used: boolean) => (t === null || !used ? new Float64Array(0) : F64((await t.grad!.data()) as Float32Array));
    const gx = await grad(xLeaf, true);
    return [
      F64((await y.data()) as Float32Array),
      c.batchFirst ? toBatchFirst(gx, s.L, s.B, G * s.H, true) : gx,
      await grad(h0L, true),
      await grad(c0L, c.kind === 'lstm'),
      await grad(whhL, true),
      await grad(bhhL, true),
    ];
  } finally {
    setBackend(prev);
  }
}

const KERNELS = ['lstmSequence', 'lstmSequenceBackward', 'gruSequence', 'gruSequenceBackward', 'rnnSequence', 'rnnSequenceBackward'] as const;

afterEach(() => vi.restoreAllMocks());

maybe('whole-sequence recurrent kernels on webgpu: values and gradients against float64 and the cpu backend', () => {
  CASES.forEach((c, n) => {
    const name = `${c.kind} L=${c.L} B=${c.B} H=${c.H}${c.reverse ? ' reverse' : ''}${c.zeroState ? ', zero state' : ''}${c.batchFirst ? ', batch-first input' : ''}${c.bias ? ', b_hh' : ''}`;
    it(name, async () => {
      const { s, w } = inputsOf(c, 100 + 10 * n);
      const spies = Object.fromEntries(KERNELS.map((k) => [k, vi.spyOn(found!, k)]));
      const got = await runOn('webgpu', c, s, w);
      const op = c.kind === 'lstm' ? 'lstmSequence' : c.kind === 'gru' ? 'gruSequence' : 'rnnSequence';
      for (const k of [op, `${op}Backward`]) {
        const results = spies[k].mock.results;
        expect(results.length, `${k} ran`).toBe(1);
        expect(results[0].value, `${k} declined`).not.toBeNull();
      }
      vi.restoreAllMocks();
      const cpu = await runOn('cpu', c, s, w);
      const want = [sequenceRef(s), ...sequenceGradRef(s, w)];
      const names = ['y', '∂x', '∂h0', '∂c0', '∂whh', '∂bhh'];
      for (let i = 0; i < names.length; i++) {
        if (got[i].length === 0 && cpu[i].length === 0) continue;
        expectClose(got[i], want[i], 2e-5 * (i === 0 ? 1 : 10), `${name}: ${names[i]} vs float64`);
        expectClose(got[i], cpu[i], 2e-5 * (i === 0 ? 1 : 10), `${name}: ${names[i]} vs cpu`);
      }
    });
  });
});

maybe('the LSTM and GRU backward kernels without saved activations recompute them', () => {
  for (const kind of ['lstm', 'gru'] as const) {
    it(`${kind}: the backward op with nothing saved equals the cpu backend's (1e-4), and the kernel ran`, async () => {
      const c: Case = { kind, L: 3, B: 2, H: 5, reverse: true, zeroState: false, batchFirst: false, bias: true };
      const { s } = inputsOf(c, 300);
      const G = gatesOf(kind);
      const dyWidth = kind === 'lstm' ? 2 * s.H : s.H;
      const dyv = values(s.L * s.B * dyWidth, 301);
      const on = async (backend: string) => {
        const prev = getBackend().name;
        setBackend(backend);
        try {
          const t = (a: Float64Array, shape: number[]) => reshape(tensor(Float32Array.from(a)), shape);
          const [x, h0, c0, whh, bhh] = [t(s.x, [s.L, s.B, G * s.H]), t(s.h0, [s.B, s.H]), t(s.c0, [s.B, s.H]), t(s.whh, [G * s.H, s.H]), t(s.bhh!, [G * s.H])];
          const dy = reshape(tensor(dyv), [s.L, s.B, dyWidth]);
          const o = { reverse: s.reverse };
          const g = kind === 'lstm' ? lstmSequenceBackward(x, h0, c0, whh, lstmSequence(x, h0, c0, whh, o), dy, o, []) : gruSequenceBackward(x, h0, whh, bhh, gruSequence(x, h0, whh, bhh, o), dy, o, []);
          return Float64Array.from((await g.data()) as Float32Array);
        } finally {
          setBackend(prev);
        }
      };
      const spy = vi.spyOn(found!, kind === 'lstm' ? 'lstmSequenceBackward' : 'gruSequenceBackward');
      const got = await on('webgpu');
      expect(spy.mock.results.map((r) => r.value === null)).toEqual([false]);
      vi.restoreAllMocks();
      expectClose(got, await on('cpu'), 1e-4, `${kind}SequenceBackward`);
    });
  }
});

maybe('a gradient vanishing through 256 steps', () => {
  // the backward kernels write gradients under 2⁻¹⁰⁰ as +0, as the cpu and wasm passes do
  // (GRADIENT_FLUSH_BELOW): nothing smaller survives, and what is kept matches the cpu's
  for (const kind of ['lstm', 'gru', 'rnn'] as const) {
    it(`${kind}: the input gradient holds nothing under 2⁻¹⁰⁰ but zeros, its early steps are +0, the rest the cpu backend's (1e-3)`, async () => {
      const [L, B, H] = [256, 4, 16];
      const G = kind === 'lstm' ? 4 : kind === 'gru' ? 3 : 1;
      const [xv, hv, cv, wv] = [values(L * B * G * H, 400), values(B * H, 401, 0.5), values(B * H, 402), values(G * H * H, 403, 0.1)];
      const on = async (backend: string) => {
        const prev = getBackend().name;
        setBackend(backend);
        try {
          const x = reshape(tensor(xv), [L, B, G * H]);
          x.requiresGrad = true;
          const [h0, c0, whh] = [reshape(tensor(hv), [B, H]), reshape(tensor(cv), [B, H]), reshape(tensor(wv), [G * H, H])];
          const y = kind === 'lstm' ? lstmSequence(x, h0, c0, whh) : kind === 'gru' ? gruSequence(x, h0, whh, null) : rnnSequence(x, h0, whh);
          sum(mul(y, tensor(Float32Array.from({ length: y.size }, (_, i) => (i >= y.size - B * y.shape[2] ? 1 : 0))).reshape(y.shape))).backward();
          return (await x.grad!.data()) as Float32Array;
        } finally {
          setBackend(prev);
        }
      };
      const got = await on('webgpu');
      expect(got.every((v) => v === 0 || !(Math.abs(v) < GRADIENT_FLUSH_BELOW))).toBe(true);
      const firstLive = Math.floor(got.findIndex((v) => v !== 0) / (B * G * H));
      expect(firstLive).toBeGreaterThan(10);
      expectClose(Float64Array.from(got), Float64Array.from(await on('cpu')), 1e-3, `${kind}: ∂x`);
    });
  }
});
