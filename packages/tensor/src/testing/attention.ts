/**
 * Conformance cases: scaledDotProductAttention and its backward pass, against a float64
 * loop written out here (the definition, not the library: scores, softmax by rows, the
 * weighted sum; ∂V = Pᵀ∂O, ∂P = ∂O·Vᵀ, ∂S = P ⊙ (∂P − rowsum(P ⊙ ∂P))·scale, ∂Q = ∂S·K,
 * ∂K = ∂Sᵀ·Q). Small batched calls, causal and not, key padding (rows with every key hidden
 * get zero weights), and long rows of 256 × 256 scores a batch·head, where a backend may run
 * attention in one kernel (the wasm backend does).
 */
import { fromArray, scaledDotProductAttention, scaledDotProductAttentionBackward, type Tensor } from '../index.js';
import { assertClose } from './assert.js';
import type { CaseDef } from './case-helpers.js';

/** A call's sizes: B batch·heads, L queries, S keys, E features of q and k, Ev of v. */
interface Dims {
  B: number;
  L: number;
  S: number;
  E: number;
  Ev: number;
  causal: boolean;
  /** per batch·head, its last `hidden[b]` keys hidden by a bool key padding mask (all of them: zero weights) */
  hidden?: number[];
}

/** Values in about [−1.5, 1.5], not periodic in any short stride (so no two rows agree). */
function values(n: number, seed: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.sin(1.7 * i + seed) * 1.5 * Math.cos(0.37 * i * seed + 1));
}

/** The definition in float64: the output [B, L, Ev] and the flat [∂Q | ∂K | ∂V] for ∂O = dy. */
function reference(d: Dims, q: number[], k: number[], v: number[], dy: number[]): { y: number[]; grads: number[] } {
  const { B, L, S, E, Ev, causal } = d;
  const scale = 1 / Math.sqrt(E);
  const y = new Array<number>(B * L * Ev).fill(0);
  const [dq, dk, dv] = [new Array<number>(B * L * E).fill(0), new Array<number>(B * S * E).fill(0), new Array<number>(B * S * Ev).fill(0)];
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < L; i++) {
      const n = Math.min(causal ? Math.min(i + 1, S) : S, S - (d.hidden?.[b] ?? 0));
      if (n <= 0) continue; // every key hidden: zero weights, zero output and gradients
      const s = Array.from({ length: n }, (_, j) => {
        let acc = 0;
        for (let e = 0; e < E; e++) acc += q[(b * L + i) * E + e] * k[(b * S + j) * E + e];
        return acc * scale;
      });
      const m = Math.max(...s);
      const ex = s.map((x) => Math.exp(x - m));
      const sum = ex.reduce((a, x) => a + x, 0);
      const p = ex.map((x) => x / sum);
      const dp = p.map((_, j) => {
        let acc = 0;
        for (let c = 0; c < Ev; c++) acc += dy[(b * L + i) * Ev + c] * v[(b * S + j) * Ev + c];
        return acc;
      });
      const dot = p.reduce((a, pj, j) => a + pj * dp[j], 0);
      for (let j = 0; j < n; j++) {
        const ds = p[j] * (dp[j] - dot) * scale;
        for (let c = 0; c < Ev; c++) {
          y[(b * L + i) * Ev + c] += p[j] * v[(b * S + j) * Ev + c];
          dv[(b * S + j) * Ev + c] += p[j] * dy[(b * L + i) * Ev + c];
        }
        for (let e = 0; e < E; e++) {
          dq[(b * L + i) * E + e] += ds * k[(b * S + j) * E + e];
          dk[(b * S + j) * E + e] += ds * q[(b * L + i) * E + e];
        }
      }
    }
  }
  return { y, grads: [...dq, ...dk, ...dv] };
}

/** The case: forward and backward on the current backend (float32) against the loop. */
function attentionCase(name: string, d: Dims): CaseDef {
  return [
    name,
    async () => {
      const { B, L, S, E, Ev, causal } = d;
      const [qv, kv, vv, dyv] = [values(B * L * E, 1), values(B * S * E, 2), values(B * S * Ev, 3), values(B * L * Ev, 4)];
      const want = reference(d, qv, kv, vv, dyv);
      // two batch dims (batch·heads as [2, B/2]) where B is even, as multi-head attention calls it
      const lead = B % 2 === 0 ? [2, B / 2] : [B];
      const make = (xs: number[], rows: number, cols: number): Tensor => fromArray(xs, [...lead, rows, cols]);
      const [q, k, v, dy] = [make(qv, L, E), make(kv, S, E), make(vv, S, Ev), make(dyv, L, Ev)];
      const hidden = d.hidden;
      const mask = hidden === undefined ? undefined : fromArray(Array.from({ length: B * S }, (_, i) => i % S >= S - hidden[Math.floor(i / S)]), [...lead, 1, S], { dtype: 'bool' });
      const y = scaledDotProductAttention(q, k, v, { isCausal: causal, attnMask: mask });
      const g = scaledDotProductAttentionBackward(q, k, v, dy, { isCausal: causal, attnMask: mask });
      await assertClose(y, want.y, { shape: [...lead, L, Ev], atol: 2e-5, rtol: 1e-4, label: 'output' });
      await assertClose(g, want.grads, { atol: 2e-5, rtol: 1e-4, label: '[∂Q | ∂K | ∂V]' });
      for (const t of [q, k, v, dy, y, g, ...(mask ? [mask] : [])]) t.dispose();
    },
  ];
}

export const ATTENTION_CASES: CaseDef[] = [
  attentionCase('scaledDotProductAttention: [2, 3, 5, 4] queries, 7 keys, 8 value features: output and gradients', { B: 6, L: 5, S: 7, E: 4, Ev: 8, causal: false }),
  attentionCase('scaledDotProductAttention: causal, 6 queries and 9 keys, 5 features: output and gradients', { B: 2, L: 6, S: 9, E: 5, Ev: 5, causal: true }),
  attentionCase('scaledDotProductAttention: long rows, 256 × 256 scores a batch·head: output and gradients', { B: 2, L: 256, S: 256, E: 4, Ev: 8, causal: false }),
  attentionCase('scaledDotProductAttention: causal long rows, 257 queries and 256 keys: output and gradients', { B: 1, L: 257, S: 256, E: 8, Ev: 4, causal: true }),
  attentionCase('scaledDotProductAttention: key padding [2, 2, 1, 256] (one batch·head all padded), long rows: output and gradients', { B: 4, L: 256, S: 256, E: 4, Ev: 4, causal: false, hidden: [0, 3, 256, 100] }),
  attentionCase('scaledDotProductAttention: key padding on 5 queries and 6 keys, causal: output and gradients', { B: 2, L: 5, S: 6, E: 4, Ev: 4, causal: true, hidden: [2, 6] }),
];
