// Winograd F(4×4, 3×3)'s transforms, each kernel against its definition in float64 (the
// matrices Bᵀ, G, Aᵀ written out here, not taken from the kernels), on tile counts that
// leave a last group of four one to three tiles short, rows of tiles shorter than four,
// and blocks with a sentinel tail: a kernel must not write past its output.
import { describe, expect, it } from 'vitest';
import { WasmGemm } from '../src/gemm.js';

const BT = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]];
const G = [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]];
const AT = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]];

/** Seeded values in [-1, 1). */
function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

describe('the Winograd F(4×4, 3×3) transforms equal their definitions (float64, 1e-5)', () => {
  const g = new WasmGemm({ threads: 1 });
  const TAIL = 64;
  /** A block of n floats (NaN) with a sentinel tail of 777s. */
  const block = (n: number): number => {
    const at = g.alloc(4 * (n + TAIL));
    g.heap.f32.fill(Number.NaN, at >> 2, (at >> 2) + n);
    g.heap.f32.fill(777, (at >> 2) + n, (at >> 2) + n + TAIL);
    return at;
  };
  const put = (values: Float32Array): number => {
    const at = g.alloc(4 * values.length + 64);
    g.heap.f32.set(values, at >> 2);
    return at;
  };
  const read = (at: number, n: number) => g.heap.f32.subarray(at >> 2, (at >> 2) + n);
  const tailOf = (at: number, n: number) => Array.from(g.heap.f32.subarray((at >> 2) + n, (at >> 2) + n + TAIL));
  /** the transforms' work block: 36 vectors and a spare, then three int32s a tile (rounded up to 4) */
  const work = (T = 64) => g.alloc(4 * (148 + 3 * Math.ceil(T / 4) * 4));
  // [N, oh, ow]: T = 1, 3, 4, 5, 6, 7 … tiles, rows of 1–6 tiles, last tiles moved back by
  // 0–3 rows and columns
  const GEOMETRIES = [[1, 4, 4], [1, 4, 11], [2, 9, 5], [1, 6, 7], [3, 5, 8], [7, 4, 4], [2, 11, 11], [1, 13, 22]] as const;
  /** a tile's first output row or column: 4·t, the last ones moved back to end at the edge */
  const originOf = (t: number, size: number) => Math.min(4 * t, size - 4);

  for (const [N, oh, ow] of GEOMETRIES) {
    const [th, tw] = [Math.ceil(oh / 4), Math.ceil(ow / 4)];
    const T = N * th * tw;
    const Vs = Math.ceil(T / 8) * 8;
    const [Hp, Wp] = [oh + 2, ow + 2];
    /** image, first output row and column of tile t (clamped to the last) */
    const place = (t: number) => {
      const tt = Math.min(t, T - 1);
      const [n, ty, tx] = [Math.floor(tt / (th * tw)), Math.floor((tt % (th * tw)) / tw), tt % tw];
      return { n, ty, tx, oy: originOf(ty, oh), ox: originOf(tx, ow) };
    };

    it(`winograd4In: Bᵀ·d·B of ${N} image(s) of ${oh}×${ow} outputs' tiles, rows ${Vs} apart, matrices a cache line more; columns past T repeat the last tile`, () => {
      const C = 3;
      const xs = C * Vs + 16; // floats from one matrix to the next
      const p = rand(N * C * Hp * Wp, T * 7 + 1);
      const [pAt, vAt] = [put(p), block(36 * xs)];
      g.kernels.winograd4In(pAt, vAt, N, C, th, tw, Hp, Wp, T, Vs, 4 * xs, work(T));
      const v = read(vAt, 36 * xs);
      for (let c = 0; c < C; c++) for (let t = 0; t < Math.ceil(T / 4) * 4; t++) {
        const { n, oy, ox } = place(t);
        const d = (r: number, k: number) => p[((n * C + c) * Hp + oy + r) * Wp + ox + k];
        for (let i = 0; i < 6; i++) for (let j = 0; j < 6; j++) {
          let want = 0;
          for (let r = 0; r < 6; r++) for (let k = 0; k < 6; k++) want += BT[i][r] * d(r, k) * BT[j][k];
          expect(Math.abs(v[(6 * i + j) * xs + c * Vs + t] - want), `V[${6 * i + j}][${c}][${t}]`).toBeLessThan(1e-5 * Math.max(1, Math.abs(want)));
        }
      }
      // the gaps between the matrices are not written
      expect(Number.isNaN(v[C * Vs])).toBe(true);
      expect(tailOf(vAt, 36 * xs)).toEqual(new Array(TAIL).fill(777));
    });

    it(`winograd4Out: Aᵀ·m·A + bias of ${N} image(s) of ${oh}×${ow} outputs' tiles, the last ones over the ones before, nothing past them`, () => {
      const O = 3;
      const Np = Vs;
      const ms = O * Np + 16; // floats from one matrix to the next
      const m = rand(36 * ms, T * 5 + 3);
      const bias = Float32Array.of(0.5, -1, 2);
      const [mAt, bAt, yAt] = [put(m), put(bias), block(N * O * oh * ow)];
      g.kernels.winograd4Out(mAt, yAt, bAt, N, O, th, tw, oh, ow, Np, 4 * ms, T, work(T));
      const y = read(yAt, N * O * oh * ow);
      // the tiles written in the kernel's order (channel, group of four, row, lane): a
      // later write of an output wins (in a convolution, both tiles' values are its value)
      const want = new Float64Array(N * O * oh * ow).fill(Number.NaN);
      for (let o = 0; o < O; o++) for (let t0 = 0; t0 < T; t0 += 4) for (let r = 0; r < 4; r++) for (let t = t0; t < Math.min(t0 + 4, T); t++) {
        const { n, oy, ox } = place(t);
        for (let c = 0; c < 4; c++) {
          let v = bias[o];
          for (let i = 0; i < 6; i++) for (let j = 0; j < 6; j++) v += AT[r][i] * m[(6 * i + j) * ms + o * Np + t] * AT[c][j];
          want[((n * O + o) * oh + oy + r) * ow + ox + c] = v;
        }
      }
      for (let k = 0; k < want.length; k++) expect(Math.abs(y[k] - want[k]), `y[${k}]`).toBeLessThan(1e-5 * Math.max(1, Math.abs(want[k])));
      expect(tailOf(yAt, N * O * oh * ow)).toEqual(new Array(TAIL).fill(777));
      // and without a bias
      g.kernels.winograd4Out(mAt, yAt, 0, N, O, th, tw, oh, ow, Np, 4 * ms, T, work(T));
      let first = 0;
      for (let i = 0; i < 6; i++) for (let j = 0; j < 6; j++) first += AT[0][i] * m[(6 * i + j) * ms] * AT[0][j];
      expect(Math.abs(read(yAt, 1)[0] - first)).toBeLessThan(1e-5 * Math.max(1, Math.abs(first)));
    });

    it(`winograd4Grad: A·dY·Aᵀ of ${N} image(s) of ${oh}×${ow} outputs' blocks, a moved-back tile without the rows and columns of the ones before; columns past T get zeros`, () => {
      const [O, Zr] = [3, 8];
      const xs = Zr * Vs + 16; // floats from one matrix to the next
      const D = rand(N * O * oh * ow, T * 3 + 5);
      const [dAt, zAt] = [put(D), block(36 * xs)];
      g.kernels.winograd4Grad(dAt, zAt, N, O, th, tw, oh, ow, Zr, T, Vs, 4 * xs, work(T));
      const z = read(zAt, 36 * xs);
      for (let o = 0; o < O; o++) for (let t = 0; t < Math.ceil(T / 4) * 4; t++) {
        const { n, ty, tx, oy, ox } = place(t);
        // rows and columns below 4ty, 4tx belong to the tile before
        const [skipR, skipC] = [4 * ty - oy, 4 * tx - ox];
        for (let i = 0; i < 6; i++) for (let j = 0; j < 6; j++) {
          let want = 0;
          if (t < T) for (let r = skipR; r < 4; r++) for (let k = skipC; k < 4; k++) want += AT[r][i] * D[((n * O + o) * oh + oy + r) * ow + ox + k] * AT[k][j];
          expect(Math.abs(z[(6 * i + j) * xs + o * Vs + t] - want), `Z[${6 * i + j}][${o}][${t}]`).toBeLessThan(1e-5 * Math.max(1, Math.abs(want)));
        }
      }
      // rows O … Zr − 1 and the gaps between the matrices are not written
      expect(Number.isNaN(z[O * Vs])).toBe(true);
      expect(Number.isNaN(z[Zr * Vs])).toBe(true);
      expect(tailOf(zAt, 36 * xs)).toEqual(new Array(TAIL).fill(777));
    });

    it(`winograd4InT: B·m·Bᵀ of ${N} image(s) of ${oh}×${ow} outputs' tiles added into their planes (overlaps summed once), nothing past them`, () => {
      const C = 3;
      const Np = Vs;
      const ms = C * Np + 16; // floats from one matrix to the next
      const m = rand(36 * ms, T * 11 + 7);
      const q0 = rand(N * C * Hp * Wp, T + 9);
      const [mAt, qAt] = [put(m), block(q0.length)];
      g.heap.f32.set(q0, qAt >> 2);
      g.kernels.winograd4InT(mAt, qAt, N, C, th, tw, Hp, Wp, Np, 4 * ms, T, work(T));
      const want = Float64Array.from(q0);
      for (let c = 0; c < C; c++) for (let t = 0; t < T; t++) {
        const { n, oy, ox } = place(t);
        for (let r = 0; r < 6; r++) for (let k = 0; k < 6; k++) {
          let v = 0;
          for (let i = 0; i < 6; i++) for (let j = 0; j < 6; j++) v += BT[i][r] * m[(6 * i + j) * ms + c * Np + t] * BT[j][k];
          want[((n * C + c) * Hp + oy + r) * Wp + ox + k] += v;
        }
      }
      const q = read(qAt, q0.length);
      for (let k = 0; k < q0.length; k++) expect(Math.abs(q[k] - want[k]), `Q[${k}]`).toBeLessThan(1e-5 * Math.max(1, Math.abs(want[k])));
      expect(tailOf(qAt, q0.length)).toEqual(new Array(TAIL).fill(777));
    });
  }

  // filters four at a time along Cin: 3 (one short group), 6 (a whole one and a short
  // one) and 8 input channels; padding rows (Mp > Cout) or none (a short group's store
  // must not reach the next matrix)
  it.each([
    [0, 5, 3, 8], [1, 5, 3, 8], [0, 4, 6, 4], [1, 4, 6, 4], [0, 8, 8, 8], [1, 3, 8, 4],
  ])('winograd4Weights (swap %i, %i ← %i channels, %i rows): G·g·Gᵀ of every filter into 36 matrices, and winograd4WeightsGrad: Gᵀ·dU·G back', (swap, Cout, Cin, Mp) => {
    const w = rand(Cout * Cin * 9, 17 + swap);
    const [wAt, uAt] = [put(w), block(36 * Mp * Cin)];
    g.kernels.winograd4Weights(wAt, uAt, Mp, Cout, Cin, swap);
    const u = read(uAt, 36 * Mp * Cin);
    // padding rows are not written
    if (Mp > Cout) expect(Number.isNaN(u[Cout * Cin])).toBe(true);
    // swap: w is [Cin, Cout, 3, 3]
    const wOf = (m: number, k: number, p: number, q: number) => w[(swap ? k * Cout + m : m * Cin + k) * 9 + 3 * p + q];
    for (let m = 0; m < Cout; m++) for (let k = 0; k < Cin; k++) for (let i = 0; i < 6; i++) for (let j = 0; j < 6; j++) {
      let want = 0;
      for (let p = 0; p < 3; p++) for (let q = 0; q < 3; q++) want += G[i][p] * wOf(m, k, p, q) * G[j][q];
      expect(Math.abs(u[((6 * i + j) * Mp + m) * Cin + k] - want), `U[${6 * i + j}][${m}][${k}]`).toBeLessThan(1e-6);
    }
    expect(tailOf(uAt, 36 * Mp * Cin)).toEqual(new Array(TAIL).fill(777));
    // the adjoint: dw[o][c] = Gᵀ·dU_oc·G for dU [36][Mp][Cp]
    const [O, C, Cp] = [Cout, Cin, Math.ceil(Cin / 8) * 8];
    const dU = rand(36 * Mp * Cp, 23 + swap);
    const [dUAt, dwAt] = [put(dU), block(O * C * 9)];
    g.kernels.winograd4WeightsGrad(dUAt, dwAt, Mp, Cp, O, C);
    const dw = read(dwAt, O * C * 9);
    for (let o = 0; o < O; o++) for (let c = 0; c < C; c++) for (let p = 0; p < 3; p++) for (let q = 0; q < 3; q++) {
      let want = 0;
      for (let i = 0; i < 6; i++) for (let j = 0; j < 6; j++) want += G[i][p] * dU[((6 * i + j) * Mp + o) * Cp + c] * G[j][q];
      expect(Math.abs(dw[(o * C + c) * 9 + 3 * p + q] - want), `dw[${o}][${c}][${p}][${q}]`).toBeLessThan(1e-5);
    }
    expect(tailOf(dwAt, O * C * 9)).toEqual(new Array(TAIL).fill(777));
  });
});
