import { afterAll, describe, expect, it } from 'vitest';
import { WasmGemm, type Strided } from '../src/gemm.js';
import { PEAK_ACCUMULATORS, enableRelaxedSimd } from '../src/kernels.js';

// Node 20 has relaxed SIMD only behind a V8 flag: turned on here, as a user would, so the
// products are tested with fused multiply-adds as well as without
enableRelaxedSimd();

function naive(A: Float32Array, B: Float32Array, M: number, K: number, N: number): Float64Array {
  const C = new Float64Array(M * N);
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += A[i * K + k] * B[k * N + j];
    C[i * N + j] = s;
  }
  return C;
}

/** T [cols, rows] of X [rows, cols], both row-major. */
function transpose(X: Float32Array, rows: number, cols: number): Float32Array {
  return Float32Array.from({ length: rows * cols }, (_, i) => X[(i % rows) * cols + Math.floor(i / rows)]);
}

const rand = (n: number, seed: number) => {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 30 - 1;
  });
};

describe('WasmGemm (the SIMD kernel), single-threaded', () => {
  const g = new WasmGemm({ threads: 1 });
  const plain = new WasmGemm({ threads: 1, fma: false });
  it('uses fused multiply-add where the engine has relaxed SIMD (Node 20: after enableRelaxedSimd()), and not when asked', () => {
    expect(g.fma).toBe(true);
    expect(plain.fma).toBe(false);
  });
  // the last two: a tall A against a small B (rows outside panels), as a convolution's patches
  for (const [M, K, N] of [[1, 1, 1], [4, 8, 8], [5, 3, 9], [17, 33, 10], [64, 784, 128], [3, 0, 2], [1003, 300, 40], [2001, 40, 24]] as const) {
    it(`${M}×${K} · ${K}×${N} matches a float64 reference (with and without FMA)`, () => {
      const A = rand(M * K, M + K);
      const B = rand(K * N, K + N + 1);
      const out = new Float32Array(M * N);
      const sa: Strided = { data: A, offset: 0, sb: 0, si: K, sj: 1 };
      const sb: Strided = { data: B, offset: 0, sb: 0, si: N, sj: 1 };
      const ref = naive(A, B, M, K, N);
      for (const gemm of [g, plain]) {
        gemm.matmul(sa, sb, 1, M, K, N, out);
        const bad = ref.findIndex((v, i) => !(Math.abs(out[i] - v) < 1e-4 * Math.max(1, Math.abs(v), K / 10)));
        expect(bad, `element ${bad}: ${out[bad]} vs ${ref[bad]}`).toBe(-1);
      }
    });
  }
  it('gemmAcc adds the product to what C holds (the panels asked for, nothing else)', () => {
    const [M, K, N] = [8, 13, 24];
    const A = rand(M * K, 3);
    const B = rand(K * N, 4);
    const C0 = rand(M * N, 5);
    const [aAt, bAt, cAt] = [g.alloc(4 * M * K), g.alloc(4 * K * N), g.alloc(4 * M * N)];
    g.heap.f32.set(A, aAt >> 2);
    g.heap.f32.set(C0, cAt >> 2);
    const src = g.alloc(4 * K * N);
    g.heap.f32.set(B, src >> 2);
    g.kernels.packB(src, bAt, K, N, 0, N / 8);
    g.kernels.gemmAcc(aAt, bAt, cAt, M, K, N, 1, 3); // panels 1 and 2 only
    const ref = naive(A, B, M, K, N);
    const C = g.heap.f32.subarray(cAt >> 2, (cAt >> 2) + M * N);
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
      const want = j < 8 ? C0[i * N + j] : C0[i * N + j] + ref[i * N + j];
      expect(Math.abs(C[i * N + j] - want), `C[${i},${j}]`).toBeLessThan(1e-4 * Math.max(1, Math.abs(want)));
    }
  });

  it('reads transposed and batched operands through their strides', () => {
    const [Bt, M, K, N] = [3, 6, 5, 11];
    const A = rand(Bt * M * K, 7);
    const B = rand(Bt * K * N, 8);
    // Aᵀ stored: each batch holds [K, M]; read A[i, k] at k·M + i
    const At = new Float32Array(Bt * M * K);
    for (let b = 0; b < Bt; b++) for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) At[b * M * K + k * M + i] = A[b * M * K + i * K + k];
    const out = new Float32Array(Bt * M * N);
    g.matmul({ data: At, offset: 0, sb: M * K, si: 1, sj: M }, { data: B, offset: 0, sb: K * N, si: N, sj: 1 }, Bt, M, K, N, out);
    for (let b = 0; b < Bt; b++) {
      const ref = naive(A.subarray(b * M * K), B.subarray(b * K * N), M, K, N);
      ref.forEach((v, i) => expect(out[b * M * N + i]).toBeCloseTo(v, 4));
    }
  });
  // K a multiple of 4 or not (the last K mod 4 rows element by element), N a multiple of 8 or not
  // (a partial panel), one panel or many
  for (const [M, K, N] of [[4, 1, 8], [4, 4, 8], [5, 7, 3], [8, 13, 16], [6, 8, 19], [64, 784, 128], [9, 130, 37]] as const) {
    it(`B stored transposed (${K}×${N} as ${N}×${K}): every element matches a float64 reference`, () => {
      const A = rand(M * K, M * K + 1);
      const B = rand(K * N, K * N + 2);
      const Bt = new Float32Array(K * N);
      for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) Bt[j * K + k] = B[k * N + j];
      // as an array, and as a block of the module memory (packed from where it lies)
      const inHeap = g.heap.array('float32', K * N) as Float32Array;
      inHeap.set(Bt);
      const ref = naive(A, B, M, K, N);
      for (const data of [Bt, inHeap]) {
        const out = new Float32Array(M * N);
        g.matmul({ data: A, offset: 0, sb: 0, si: K, sj: 1 }, { data, offset: 0, sb: 0, si: 1, sj: K }, 1, M, K, N, out);
        const bad = ref.findIndex((v, i) => !(Math.abs(out[i] - v) < 1e-4 * Math.max(1, Math.abs(v), K / 10)));
        expect(bad, `element ${bad}: ${out[bad]} vs ${ref[bad]}`).toBe(-1);
      }
      g.heap.freeArray(inHeap);
    });
  }
});

describe('the Winograd transforms write exactly their outputs', () => {
  const g = new WasmGemm({ threads: 1 });
  // blocks with a sentinel tail: a transform must not write past its output (another thread
  // may own what follows)
  const block = (n: number): number => {
    const at = g.alloc(4 * (n + 64));
    g.heap.f32.fill(Number.NaN, at >> 2, (at >> 2) + n);
    g.heap.f32.fill(777, (at >> 2) + n, (at >> 2) + n + 64);
    return at;
  };
  const tail = (at: number, n: number) => Array.from(g.heap.f32.subarray((at >> 2) + n, (at >> 2) + n + 64));
  for (const [oh, ow] of [[7, 9], [8, 8], [9, 7], [5, 12]] as const) {
    it(`winogradOut: Aᵀ·m·A into a ${oh}×${ow} output, cropped at an odd last row or column, + bias`, () => {
      const [N, O] = [2, 3];
      const [th, tw] = [Math.ceil(oh / 2), Math.ceil(ow / 2)];
      const Np = Math.ceil((N * th * tw) / 8) * 8;
      const m = rand(16 * O * Np, oh * 31 + ow);
      const [mAt, yAt, bAt] = [g.alloc(4 * m.length), block(N * O * oh * ow), g.alloc(16)];
      g.heap.f32.set(m, mAt >> 2);
      g.heap.f32.set([0.5, -1, 2], bAt >> 2);
      g.kernels.winogradOut(mAt, yAt, bAt, N, O, th, tw, oh, ow, Np, 4 * O * Np);
      const y = g.heap.f32.subarray(yAt >> 2, (yAt >> 2) + N * O * oh * ow);
      const AT = [[1, 1, 1, 0], [0, 1, -1, -1]];
      for (let n = 0; n < N; n++) for (let o = 0; o < O; o++) for (let r = 0; r < oh; r++) for (let c = 0; c < ow; c++) {
        const t = (n * th + (r >> 1)) * tw + (c >> 1);
        let want = [0.5, -1, 2][o];
        for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) want += AT[r & 1][i] * m[((4 * i + j) * O + o) * Np + t] * AT[c & 1][j];
        expect(Math.abs(y[((n * O + o) * oh + r) * ow + c] - want), `y[${n},${o},${r},${c}]`).toBeLessThan(1e-5);
      }
      expect(tail(yAt, N * O * oh * ow)).toEqual(new Array(64).fill(777));
    });
  }
  // tw = 4 (one group), 5–7 (a last group moved back over 3, 2, 1 tiles), 8 (two whole groups)
  for (const [th, tw] of [[2, 4], [3, 5], [2, 6], [1, 7], [3, 8]] as const) {
    it(`winogradInT: B·m·Bᵀ of ${th}×${tw} tiles added into padded planes (overlaps summed once), nothing past them`, () => {
      const [N, C] = [2, 3];
      const [Hp, Wp] = [2 * th + 2, 2 * tw + 2];
      const Np = Math.ceil((N * th * tw) / 8) * 8;
      const m = rand(16 * C * Np, th * 13 + tw);
      const q0 = rand(N * C * Hp * Wp, tw); // what the planes held: the blocks are added to it
      const [mAt, qAt] = [g.alloc(4 * m.length), block(q0.length)];
      g.heap.f32.set(m, mAt >> 2);
      g.heap.f32.set(q0, qAt >> 2);
      g.kernels.winogradInT(mAt, qAt, N, C, th, tw, Hp, Wp, Np, 4 * C * Np);
      const want = Float64Array.from(q0);
      const B = [[1, 0, 0, 0], [0, 1, -1, 1], [-1, 1, 1, 0], [0, 0, 0, -1]];
      for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let ty = 0; ty < th; ty++) for (let tx = 0; tx < tw; tx++) {
        const t = (n * th + ty) * tw + tx;
        for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) {
          let v = 0;
          for (let r = 0; r < 4; r++) for (let k = 0; k < 4; k++) v += B[i][r] * m[((4 * r + k) * C + c) * Np + t] * B[j][k];
          want[((n * C + c) * Hp + 2 * ty + i) * Wp + 2 * tx + j] += v;
        }
      }
      const q = g.heap.f32.subarray(qAt >> 2, (qAt >> 2) + q0.length);
      for (let k = 0; k < q0.length; k++) expect(Math.abs(q[k] - want[k]), `Q[${k}]`).toBeLessThan(1e-5);
      expect(tail(qAt, q0.length)).toEqual(new Array(64).fill(777));
    });
  }
  // the second: no rows below the data, a left border (the last row's zeros end at the plane's end)
  it.each([[3, 5, 7, 8, 10, 2, 1], [3, 4, 5, 4, 7, 0, 1], [2, 6, 9, 6, 9, 0, 0]])('pad2d %j: rows of any width into zero-bordered planes, and crop2d back, nothing past either', (...geometry) => {
    const [planes, H, W, Hp, Wp, pt, pl] = geometry;
    const x = rand(planes * H * W, 5);
    const [xAt, pAt] = [g.alloc(4 * x.length), block(planes * Hp * Wp)];
    g.heap.f32.set(x, xAt >> 2);
    g.kernels.pad2d(xAt, pAt, planes, H, W, Hp, Wp, pt, pl);
    const p = g.heap.f32.subarray(pAt >> 2, (pAt >> 2) + planes * Hp * Wp);
    for (let q = 0; q < planes; q++) for (let r = 0; r < Hp; r++) for (let c = 0; c < Wp; c++) {
      const inside = r >= pt && r < pt + H && c >= pl && c < pl + W;
      expect(p[(q * Hp + r) * Wp + c]).toBe(inside ? x[(q * H + r - pt) * W + c - pl] : 0);
    }
    expect(tail(pAt, planes * Hp * Wp)).toEqual(new Array(64).fill(777));
    // the block at (pt, pl) of each plane back out: x again
    const back = block(planes * H * W);
    g.kernels.crop2d(pAt, back, planes, Hp, Wp, H, W, pt, pl);
    expect(Array.from(g.heap.f32.subarray(back >> 2, (back >> 2) + planes * H * W))).toEqual(Array.from(x));
    expect(tail(back, planes * H * W)).toEqual(new Array(64).fill(777));
  });
});

describe('the dropout-mask kernel', () => {
  const g = new WasmGemm({ threads: 1 });
  /** @ml/tensor's draws written out again: xoshiro128**, 27 + 26 bits, redrawn when float32 rounds to 1 */
  function reference(state: number[], n: number, cut: number, scale: number): { mask: number[]; draws: number[]; state: number[]; redrawn: number } {
    const s = Uint32Array.from(state);
    const next = () => {
      const r = Math.imul(((Math.imul(s[1], 5) << 7) | (Math.imul(s[1], 5) >>> 25)), 9) >>> 0;
      const t = s[1] << 9;
      s[2] ^= s[0];
      s[3] ^= s[1];
      s[1] ^= s[2];
      s[0] ^= s[3];
      s[2] ^= t;
      s[3] = (s[3] << 11) | (s[3] >>> 21);
      return r;
    };
    let redrawn = 0;
    const draws = Array.from({ length: n }, () => {
      for (;;) {
        const u = Math.fround(((next() >>> 5) * 2 ** 26 + (next() >>> 6)) / 2 ** 53);
        if (u < 1) return u;
        redrawn++;
      }
    });
    return { mask: draws.map((u) => (u >= cut ? Math.fround(scale) : 0)), draws, state: Array.from(s), redrawn };
  }
  it('compares each draw as rounded to float32: a cut equal to a draw keeps it, the next float32 above does not', () => {
    const state = [5, 6, 7, 8];
    const { draws } = reference(state, 40, 0, 1);
    const [out, st] = [g.alloc(4 * 40), g.alloc(16)];
    const above = (u: number) => new Float32Array(Int32Array.of(new Int32Array(Float32Array.of(u).buffer)[0] + 1).buffer)[0];
    draws.forEach((u, k) => {
      for (const [cut, want] of [[u, 3], [above(u), 0]]) {
        new Uint32Array(g.heap.f32.buffer, st, 4).set(state);
        g.kernels.dropoutMask(out, k + 1, st, cut, 3);
        expect(g.heap.f32[(out >> 2) + k], `draw ${k} = ${u}, cut ${cut}`).toBe(want);
      }
    });
  });
  it('draws as @ml/tensor does, redraws a value that rounds up to 1, and leaves the state where it does', () => {
    // s1 chosen so the first output is 0xfffffff0: its 27 high bits make a draw ≥ 1 − 2⁻²⁵
    const rotr = (x: number, k: number) => ((x >>> k) | (x << (32 - k))) >>> 0;
    const s1 = Math.imul(rotr(Math.imul(0xfffffff0, 0x38e38e39), 7), 0xcccccccd) >>> 0;
    for (const state of [[123, s1, 456, 789], [0x9e3779b9, 1, 2, 3]]) {
      const [n, cut, scale] = [301, 0.5, 2];
      const want = reference(state, n, cut, scale);
      const [out, st] = [g.alloc(4 * (n + 4)), g.alloc(16)];
      g.heap.f32.fill(777, out >> 2, (out >> 2) + n + 4);
      new Uint32Array(g.heap.f32.buffer, st, 4).set(state);
      g.kernels.dropoutMask(out, n, st, cut, scale);
      expect(Array.from(g.heap.f32.subarray(out >> 2, (out >> 2) + n))).toEqual(want.mask);
      expect(Array.from(new Uint32Array(g.heap.f32.buffer, st, 4))).toEqual(want.state);
      expect(Array.from(g.heap.f32.subarray((out >> 2) + n, (out >> 2) + n + 4))).toEqual([777, 777, 777, 777]);
      if (state[1] === s1) expect(want.redrawn).toBe(1);
    }
  });
});

describe('packInto + packedProduct: B packed once, then products on its panels', () => {
  // B as it lies, stored transposed, and with neither rows nor columns contiguous (packed
  // element by element); A contiguous, row-strided (staged) and with rows not a multiple
  // of 4; N not a multiple of 8; one thread and two (2048 rows: threaded, blocks of rows)
  const layouts = ['rows', 'transposed', 'strided'] as const;
  for (const threads of [1, 2]) {
    for (const [M, K, N] of [[64, 128, 512], [33, 24, 13], [2048, 96, 40]] as const) {
      for (const layout of layouts) {
        it(`${threads} thread(s), ${M}×${K} · ${K}×${N}, B ${layout}: every element matches a float64 reference, two products on one packing`, async () => {
          const g = new WasmGemm({ threads });
          await g.whenReady();
          const B = rand(K * N, K + 7 * N);
          // the heap copy of B in the layout asked for: element (k, j) at bOff + k·si + j·sj
          const [si, sj, size] = layout === 'rows' ? [N, 1, K * N] : layout === 'transposed' ? [1, K, K * N] : [2 * N, 2, 2 * K * N];
          const hb = g.heap.array('float32', size) as Float32Array;
          for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) hb[k * si + j * sj] = B[k * N + j];
          const bAt = g.alloc(32 * K * Math.ceil(N / 8));
          g.packInto({ data: hb, offset: 0, sb: 0, si, sj }, K, N, bAt);
          for (const rowStride of [K, K + 5]) {
            const A = rand(M * rowStride, 3 * M + rowStride);
            const out = new Float32Array(M * N);
            g.packedProduct({ data: A, offset: 0, sb: 0, si: rowStride, sj: 1 }, M, K, N, bAt, out);
            const dense = Float32Array.from({ length: M * K }, (_, q) => A[Math.floor(q / K) * rowStride + (q % K)]);
            const ref = naive(dense, B, M, K, N);
            const bad = ref.findIndex((v, i) => !(Math.abs(out[i] - v) < 1e-4 * Math.max(1, Math.abs(v))));
            expect(bad, `row stride ${rowStride}, element ${bad}: ${out[bad]} vs ${ref[bad]}`).toBe(-1);
          }
          await g.close();
        });
      }
    }
  }
});

describe('WasmGemm with two threads (a worker on the shared memory)', () => {
  const g = new WasmGemm({ threads: 2 });
  it('uses a shared memory and reports its threads; the worker starts', async () => {
    expect(g.threads).toBe(2);
    expect(g.threadKind).toBe('node');
    expect(g.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    await g.whenReady(); // the products below really split (a worker not yet started takes no share)
  });
  // panels two per claim, and one per claim when there are fewer pairs than threads (2
  // panels); an A over 256 KiB with a packed B of at most 512 KiB goes in blocks of rows, B
  // packed first (1002 × 300: blocks of 216 rows, the last 140; 2001 × 40: 1636 and 368;
  // 500 × 700: 92 and 40; 64 × 10000: the fewest, 16), from B as it lies or transposed
  const cases = [[128, 256, 64], [64, 784, 256], [33, 1000, 57], [1002, 300, 40], [2001, 40, 24], [32, 20000, 9], [500, 700, 24], [64, 10000, 8]] as const;
  for (const [[M, K, N], transposed] of [...cases.map((c) => [c, false] as const), ...cases.slice(3).map((c) => [c, true] as const)]) {
    it(`${M}×${K} · ${K}×${N}${transposed ? ' (B stored transposed)' : ''}: the split result equals the one-thread result exactly`, () => {
      const A = rand(M * K, 3 * M + K);
      const B = rand(K * N, K + 5 * N);
      const one = new WasmGemm({ threads: 1 });
      const sa: Strided = { data: A, offset: 0, sb: 0, si: K, sj: 1 };
      // B[k][j] at k·N + j, or at j·K + k when stored transposed
      const sb: Strided = transposed ? { data: B, offset: 0, sb: 0, si: 1, sj: K } : { data: B, offset: 0, sb: 0, si: N, sj: 1 };
      const a = new Float32Array(M * N);
      const b = new Float32Array(M * N);
      g.matmul(sa, sb, 1, M, K, N, a);
      one.matmul(sa, sb, 1, M, K, N, b);
      // the same kernel on each panel: bit-for-bit equal
      expect(Array.from(a)).toEqual(Array.from(b));
      const ref = naive(A, transposed ? transpose(B, N, K) : B, M, K, N);
      const bad = ref.findIndex((v, i) => !(Math.abs(a[i] - v) < 1e-3 * Math.max(1, Math.abs(v))));
      expect(bad, `element ${bad}: ${a[bad]} vs ${ref[bad]}`).toBe(-1);
    });
  }
  it('a part that fails (a kernel trapping on addresses past the memory) is an error on the calling thread; the threads live on', () => {
    const n4 = 1 << 16; // 16 parts of 4,096 vectors
    const past = 2 ** 31 - 64;
    const plan = { count: 2, ptrs: [[0, 16], [1, 16]] } as const;
    for (let i = 0; i < 3; i++) expect(() => g.parallel('relu', [past, past, n4], plan, n4, 1 << 20)).toThrow(/out of bounds|worker thread failed on its part of the relu kernel/);
    // the pool still splits work, and right
    const x = g.heap.array('float32', 4 * n4) as Float32Array;
    const y = g.heap.array('float32', 4 * n4) as Float32Array;
    x.set(rand(4 * n4, 9));
    const calls = g.splitCalls;
    g.parallel('relu', [x.byteOffset, y.byteOffset, n4], plan, n4, 1 << 20);
    expect(g.splitCalls).toBe(calls + 1);
    expect(Array.from(y.subarray(0, 4 * n4)).every((v, i) => v === Math.max(0, x[i]))).toBe(true);
    g.heap.freeArray(x);
    g.heap.freeArray(y);
  });

  it('fmaPeak: every unit, on either thread, runs its rounds of multiply-adds on all the accumulators (with and without FMA)', () => {
    const units = 64;
    const iters = 1000;
    for (const gemm of [g, new WasmGemm({ threads: 1, fma: false })]) {
      const out = gemm.heap.array('float32', units) as Float32Array;
      out.fill(NaN);
      // split across the threads (bytes past the threshold), as fmaPeak() runs it
      gemm.parallel('fmaPeak', [units, out.byteOffset, iters], { count: 0, ptrs: [[1, 4]] }, units, 1 << 20);
      // each accumulator: iters × (1 − 2⁻²⁴), rounded as it goes; the first lanes summed
      const want = PEAK_ACCUMULATORS * iters * (1 - 2 ** -24);
      const bad = Array.from(out).findIndex((v) => !(Math.abs(v - want) < 1e-5 * want));
      expect(bad, `unit ${bad}: ${out[bad]} vs ${want}`).toBe(-1);
      gemm.heap.freeArray(out);
    }
  });
  it('fmaPeak() measures GFLOP/s on every thread and keeps no memory', async () => {
    const live = g.heap.info().liveBlocks;
    const peak = await g.fmaPeak(50);
    expect(peak.threads).toBe(2);
    expect(peak.gflops).toBeGreaterThan(0);
    expect(Number.isFinite(peak.gflops)).toBe(true);
    expect(g.heap.info().liveBlocks).toBe(live);
  });

  it('grows the shared memory for a larger product, and the workers see it', () => {
    const n = 700;
    const A = rand(n * n, 11);
    const out = new Float32Array(n * n);
    const s: Strided = { data: A, offset: 0, sb: 0, si: n, sj: 1 };
    const before = g.bytes;
    g.matmul(s, s, 1, n, n, n, out);
    expect(g.bytes).toBeGreaterThan(before);
    const ref = new WasmGemm({ threads: 1 });
    const want = new Float32Array(n * n);
    ref.matmul(s, s, 1, n, n, n, want);
    expect(out).toEqual(want);
  });
  afterAll(async () => {
    await g.close();
  });
});
