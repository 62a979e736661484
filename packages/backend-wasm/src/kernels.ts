import { I32, V128, moduleBytes, op, type FunctionDef } from './assembler.js';

/** rows of C the micro-kernel keeps in registers (A is padded to a multiple of it) */
export const GEMM_ROWS = 4;

/**
 * gemm(a, b, c, M, K, N, n0, n1): C[M, N] = A[M, K] · B[K, N] in float32 for the column
 * panels n0 ≤ p < n1 (8 columns each), all addresses in bytes.
 *
 * - A is row-major with M a multiple of 4 (zero rows pad it);
 * - B is packed panel by panel: panel p (columns 8p … 8p+7) is K rows of 8 floats at
 *   b + p·K·32, so the inner loop reads it contiguously;
 * - C is row-major with N a multiple of 8.
 *
 * The micro-kernel keeps a 4×8 block of C in eight f32x4 registers; each step of k loads
 * two vectors of the B panel, broadcasts four values of A and does eight multiply-adds.
 * Splitting the panels [n0, n1) across threads needs no synchronization inside.
 */
function gemm(): FunctionDef {
  const R = GEMM_ROWS;
  const [a, b, c, M, K, N, n0, n1] = [0, 1, 2, 3, 4, 5, 6, 7];
  // i32 locals: p, i, k, bk, cptr, rowA, panelBytes, rowC, bpanel, then R row pointers of A
  const [p, i, k, bk, cptr, rowA, panelBytes, rowC, bpanel] = [8, 9, 10, 11, 12, 13, 14, 15, 16];
  const pa = Array.from({ length: R }, (_, r) => 17 + r);
  // v128 locals: 2R accumulators, two B vectors, one broadcast A value
  const acc = Array.from({ length: 2 * R }, (_, r) => 17 + R + r);
  const [b0, b1, x] = [17 + 3 * R, 18 + 3 * R, 19 + 3 * R];

  const body: number[] = [
    ...op.get(K), ...op.i32(4), ...op.i32Mul, ...op.set(rowA),
    ...op.get(K), ...op.i32(32), ...op.i32Mul, ...op.set(panelBytes),
    ...op.get(N), ...op.i32(4), ...op.i32Mul, ...op.set(rowC),
    // bpanel = b + n0·K·32
    ...op.get(b), ...op.get(n0), ...op.get(panelBytes), ...op.i32Mul, ...op.i32Add, ...op.set(bpanel),
    ...op.get(n0), ...op.set(p),
    ...op.block, ...op.loop,
    ...op.get(p), ...op.get(n1), ...op.i32GeU, ...op.brIf(1),
    ...op.i32(0), ...op.set(i),
    ...op.block, ...op.loop,
    ...op.get(i), ...op.get(M), ...op.i32GeU, ...op.brIf(1),
    // row pointers of A: a + i·rowA, then + rowA each
    ...op.get(a), ...op.get(i), ...op.get(rowA), ...op.i32Mul, ...op.i32Add, ...op.set(pa[0]),
    ...pa.slice(1).flatMap((ptr, r) => [...op.get(pa[r]), ...op.get(rowA), ...op.i32Add, ...op.set(ptr)]),
    ...acc.flatMap((r) => [...op.v128Zero, ...op.set(r)]),
    ...op.get(bpanel), ...op.set(bk),
    ...op.get(K), ...op.set(k),
    ...op.block, ...op.loop,
    ...op.get(k), ...op.i32Eqz, ...op.brIf(1),
    ...op.get(bk), ...op.v128Load(0), ...op.set(b0),
    ...op.get(bk), ...op.v128Load(16), ...op.set(b1),
    ...pa.flatMap((ptr, r) => [
      ...op.get(ptr), ...op.v128Load32Splat(0), ...op.set(x),
      ...op.get(acc[2 * r]), ...op.get(x), ...op.get(b0), ...op.f32x4Mul, ...op.f32x4Add, ...op.set(acc[2 * r]),
      ...op.get(acc[2 * r + 1]), ...op.get(x), ...op.get(b1), ...op.f32x4Mul, ...op.f32x4Add, ...op.set(acc[2 * r + 1]),
      ...op.get(ptr), ...op.i32(4), ...op.i32Add, ...op.set(ptr),
    ]),
    ...op.get(bk), ...op.i32(32), ...op.i32Add, ...op.set(bk),
    ...op.get(k), ...op.i32(1), ...op.i32Sub, ...op.set(k),
    ...op.br(0),
    ...op.end, ...op.end,
    // C block: c + i·rowC + p·32, R rows of two vectors
    ...op.get(c), ...op.get(i), ...op.get(rowC), ...op.i32Mul, ...op.i32Add, ...op.get(p), ...op.i32(32), ...op.i32Mul, ...op.i32Add, ...op.set(cptr),
    ...pa.flatMap((_, r) => [
      ...op.get(cptr), ...op.get(acc[2 * r]), ...op.v128Store(0),
      ...op.get(cptr), ...op.get(acc[2 * r + 1]), ...op.v128Store(16),
      ...op.get(cptr), ...op.get(rowC), ...op.i32Add, ...op.set(cptr),
    ]),
    ...op.get(i), ...op.i32(R), ...op.i32Add, ...op.set(i),
    ...op.br(0),
    ...op.end, ...op.end,
    ...op.get(bpanel), ...op.get(panelBytes), ...op.i32Add, ...op.set(bpanel),
    ...op.get(p), ...op.i32(1), ...op.i32Add, ...op.set(p),
    ...op.br(0),
    ...op.end, ...op.end,
  ];
  return { name: 'gemm', params: [I32, I32, I32, I32, I32, I32, I32, I32], locals: [{ count: 9 + R, type: I32 }, { count: 2 * R + 3, type: V128 }], body };
}

export const MAX_PAGES = 65536; // 4 GiB of 64 KiB pages

/** The kernels' module; `shared` memory lets worker threads instantiate it on the same data. */
export function kernelModule(shared: boolean): Uint8Array<ArrayBuffer> {
  return moduleBytes([gemm()], { initialPages: 16, maximumPages: shared ? 16384 : MAX_PAGES, shared });
}


