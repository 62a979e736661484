// The attention kernels called on the backend with strided views, against float64 loops
// of softmax(Q·Kᵀ·scale + masks)·V written from the definition, its gradients by central
// differences of that loop: batch dims, heads split out of [N, L, H·D] (a copy), masks
// bool and float broadcast over batch dims, causal, a fully masked row (zero weights),
// sizes not multiples of 4, L = S = 1; with and without the probabilities the forward saved.
import { expand, permute, reshape, type Tensor } from '@ml/tensor';
import { fromData, type DataId, type View } from '@ml/tensor/backend';
import { describe, expect, it } from 'vitest';
import { gpu as found } from './gpu.js';
import { expectClose, onGpu, read, values } from './reference.js';

const maybe = found === null ? describe.skip : describe;
const gpu = found!;

interface Mask {
  bool: boolean;
  /** [L, S] values (1 = hidden for bool), broadcast over the batch dims; or, `keys`, [...batch, S] broadcast over the queries */
  values: Float32Array;
  keys?: boolean;
}

interface Case {
  name: string;
  batch: number[];
  L: number;
  S: number;
  E: number;
  Ev: number;
  masks: Mask[];
  causal: boolean;
  /** q, k, v made as [N, L, H, D] and permuted to [N, H, L, D] (batch = [N, H]) */
  heads: boolean;
}

/** out [B, L, Ev] of the float64 definition; rows whose keys are all hidden get zero weights. */
function attentionRef(q: Float64Array, k: Float64Array, v: Float64Array, c: Case, scale: number): Float64Array {
  const { L, S, E, Ev } = c;
  const B = c.batch.reduce((p, d) => p * d, 1);
  const out = new Float64Array(B * L * Ev);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < L; i++) {
      const s = new Float64Array(S);
      for (let j = 0; j < S; j++) {
        let x = 0;
        for (let e = 0; e < E; e++) x += q[(b * L + i) * E + e] * k[(b * S + j) * E + e];
        x *= scale;
        for (const m of c.masks) {
          const mv = m.keys ? m.values[b * S + j] : m.values[i * S + j];
          x = m.bool ? (mv !== 0 ? -Infinity : x) : x + mv;
        }
        if (c.causal && j > i) x = -Infinity;
        s[j] = x;
      }
      const mx = Math.max(...s);
      if (mx === -Infinity) continue; // zero weights: out stays 0
      const e = s.map((x) => Math.exp(x - mx));
      const total = e.reduce((a, x) => a + x, 0);
      for (let j = 0; j < S; j++) for (let f = 0; f < Ev; f++) out[(b * L + i) * Ev + f] += (e[j] / total) * v[(b * S + j) * Ev + f];
    }
  }
  return out;
}

const CASES: Case[] = [
  { name: 'batch [2, 3], L 5, S 7, E 4, Ev 6, no mask', batch: [2, 3], L: 5, S: 7, E: 4, Ev: 6, masks: [], causal: false, heads: false },
  {
    name: 'heads split from [N, L, H, D], causal, a bool mask hiding key 0 of query 0 (a fully masked row) and a float mask',
    batch: [2, 2],
    L: 4,
    S: 4,
    E: 3,
    Ev: 3,
    masks: [
      { bool: true, values: Float32Array.from({ length: 16 }, (_, n) => (n === 0 || n === 7 ? 1 : 0)) },
      { bool: false, values: values(16, 41, 2) },
    ],
    causal: true,
    heads: true,
  },
  { name: 'L = S = 1, E 5, Ev 1, batch [3], causal', batch: [3], L: 1, S: 1, E: 5, Ev: 1, masks: [], causal: true, heads: false },
  { name: 'no batch dims, L 3, S 9, E 7, Ev 2, a float mask', batch: [], L: 3, S: 9, E: 7, Ev: 2, masks: [{ bool: false, values: values(27, 42) }], causal: false, heads: false },
  {
    name: 'key padding masks per batch element [2, 3, 1, S], bool then float, broadcast over the queries',
    batch: [2, 3],
    L: 3,
    S: 5,
    E: 2,
    Ev: 3,
    masks: [
      { bool: true, keys: true, values: Float32Array.from({ length: 30 }, (_, n) => (n % 5 === 4 || n === 7 ? 1 : 0)) },
      { bool: false, keys: true, values: values(30, 43) },
    ],
    causal: false,
    heads: false,
  },
];

/** A [..., M, K] operand on the GPU from row-major values: contiguous, or (heads) stored [N, M, H, K] and permuted. */
function operandOn(vals: Float32Array, batch: number[], M: number, K: number, heads: boolean): Tensor {
  if (!heads) return onGpu(gpu, vals, [...batch, M, K]);
  const [N, H] = batch;
  const stored = new Float32Array(vals.length);
  for (let n = 0; n < N; n++) for (let h = 0; h < H; h++) for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) stored[((n * M + m) * H + h) * K + k] = vals[((n * H + h) * M + m) * K + k];
  return permute(onGpu(gpu, stored, [N, M, H, K]), [0, 2, 1, 3]);
}

/** A mask on the GPU, [L, S] or [...batch, 1, S], broadcast to [...batch, L, S] (zero strides, as the op passes it). */
function maskOn(m: Mask, full: number[]): Tensor {
  const [L, S] = full.slice(-2);
  const batch = full.slice(0, -2);
  const shape = m.keys ? [...batch, 1, S] : [...batch.map(() => 1), L, S];
  const t = m.bool ? fromData(gpu, gpu.write(Uint8Array.from(m.values), 'bool'), [m.values.length], 'bool') : onGpu(gpu, m.values, [m.values.length]);
  return expand(reshape(t, shape), full);
}

maybe('scaledDotProductAttention on webgpu against float64 (values 1e-5, gradients 1e-4)', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const B = c.batch.reduce((p, d) => p * d, 1);
      const { L, S, E, Ev } = c;
      const [qv, kv, vv, wv] = [values(B * L * E, 31), values(B * S * E, 32), values(B * S * Ev, 33), values(B * L * Ev, 34)];
      const scale = 1 / Math.sqrt(E);
      const [q, k, v] = [operandOn(qv, c.batch, L, E, c.heads), operandOn(kv, c.batch, S, E, c.heads), operandOn(vv, c.batch, S, Ev, c.heads)];
      const dy = onGpu(gpu, wv, [...c.batch, L, Ev], 'sliced');
      const masks = c.masks.map((m) => maskOn(m, [...c.batch, L, S]).view_());
      const kept: View[] = [];
      const save = (data: DataId, shape: readonly number[]) => kept.push({ data, dtype: 'float32', shape: [...shape], strides: [shape[1] * shape[2], shape[2], 1], offset: 0 });
      const y = await read(gpu, gpu.scaledDotProductAttention(q.view_(), k.view_(), v.view_(), masks, scale, c.causal, save), [B * L * Ev]);
      const f64 = (a: Float32Array) => Float64Array.from(a);
      const [q64, k64, v64, w64] = [f64(qv), f64(kv), f64(vv), f64(wv)];
      expectClose(y, attentionRef(q64, k64, v64, c, scale), 1e-5, 'attention');
      expect(kept[0].shape).toEqual([B, L, S]);
      // ∂(Σ out·dy) by central differences, [∂q | ∂k | ∂v]
      const loss = () => attentionRef(q64, k64, v64, c, scale).reduce((a, x, i) => a + x * w64[i], 0);
      const want = [q64, k64, v64].flatMap((a) =>
        Array.from(a, (x, i) => {
          a[i] = x + 1e-6;
          const up = loss();
          a[i] = x - 1e-6;
          const down = loss();
          a[i] = x;
          return (up - down) / 2e-6;
        }),
      );
      for (const saved of [kept, []]) {
        const size = B * (L * E + S * E + S * Ev);
        const got = await read(gpu, gpu.scaledDotProductAttentionBackward(q.view_(), k.view_(), v.view_(), dy.view_(), masks, scale, c.causal, saved), [size]);
        expectClose(got, want, 1e-4, `attention backward (${saved.length === 0 ? 'recomputed' : 'saved'} P)`);
      }
    });
  }
});
