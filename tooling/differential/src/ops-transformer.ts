/** Differential ops: the transformer's single ops (layerNorm, scaledDotProductAttention) and their backward kernels. */
import fc from 'fast-check';
import { layerNorm, scaledDotProductAttention } from '@ml/tensor';
import { operand, shape, size, SMALL } from './arbitraries.js';
import { defineOp } from './runner.js';
import { cases, prodOf, SUMS } from './ops-common.js';

/** Layer normalization as one op (a fused kernel on cpu and wasm) over the last one or two dims, with or without weight and bias. */
export const layerNormFusedOp = defineOp({
  name: 'layerNorm (one op, fused, and its backward)',
  runs: 20,
  cases: cases(
    fc.record({ s: shape(SMALL.filter((d) => d > 0), 2, 4, 4096), last: fc.integer({ min: 1, max: 2 }), affine: fc.boolean() }).filter(({ s, last }) => prodOf(s.slice(s.length - Math.min(last, s.length - 1))) >= 4),
    ({ s, last, affine }) => {
      const norm = s.slice(s.length - Math.min(last, s.length - 1));
      // x not broadcast: a constant row has no variance, and its normalization only amplifies rounding
      const x = operand(s, 'float', { layout: { expand: 0 } });
      return { operands: affine ? [x, operand(norm), operand(norm)] : [x], attrs: { norm } };
    },
  ),
  run: ([x, w, b], { norm }) => layerNorm(x, norm, w ?? null, b ?? null),
  tol: SUMS,
});

/** [batch…, rows, cols] with 0–2 batch dims, the batch dims of q, k and v broadcasting together. */
const ATTENTION_SIZE = size([1, 2, 3, 4, 5, 8, 9, 16, 17, 33, 64], 1, 64);

/**
 * Scaled dot-product attention as one op (fused on cpu and wasm: the products on the
 * backend's matmul), q [..., L, E], k [..., S, E], v [..., S, Ev] in any layout, k and v
 * possibly shared by the batch, with a bool mask [L, S] (some rows fully masked), causal or not.
 */
export const attentionOp = defineOp({
  name: 'scaledDotProductAttention (one op, fused, and its backward)',
  runs: 25,
  cases: cases(
    fc.record({
      batch: shape(size([1, 2, 3, 4], 1, 4), 0, 2, 8),
      L: ATTENTION_SIZE,
      S: ATTENTION_SIZE,
      E: size([1, 2, 3, 4, 8, 16, 32], 1, 32),
      Ev: size([1, 2, 3, 4, 8, 16], 1, 16),
      shared: fc.boolean(),
      mask: fc.boolean(),
      causal: fc.boolean(),
    }).filter(({ batch, L, S, E, Ev }) => prodOf(batch) * L * S * Math.max(E, Ev) <= 1 << 17),
    ({ batch, L, S, E, Ev, shared, mask, causal }) => {
      const kvBatch = shared ? batch.map(() => 1) : batch;
      const layout = { perm: 2, expand: 1, slice: 1, step: 1, offset: 1 };
      return {
        operands: [
          operand([...batch, L, E], 'float', { layout }),
          operand([...kvBatch, S, E], 'float', { layout }),
          operand([...kvBatch, S, Ev], 'float', { layout }),
          ...(mask ? [operand([L, S], 'bool', { layout: false })] : []),
        ],
        attrs: { causal },
      };
    },
  ),
  run: ([q, k, v, m], { causal }) => scaledDotProductAttention(q, k, v, { attnMask: m, isCausal: causal }),
  tol: SUMS,
});
