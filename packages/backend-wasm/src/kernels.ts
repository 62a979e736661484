import { F32, I32, V128, forUp, moduleBytes, op, type FunctionDef } from './assembler.js';

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

/**
 * adam(p, g, m, v, out, n4, b1, c1, b2, c2, sbc2, eps, stepSize, decay, l2, sign): one Adam
 * step over n4 groups of four floats, in the fused JavaScript loop's order of operations:
 *   d = sign·g + l2·p;  m ← b1·m + c1·d;  v ← b2·v + c2·d²;
 *   out = p·decay − (m / (√v / sbc2 + eps))·stepSize      (c1 = 1 − b1, c2 = 1 − b2)
 * m and v are updated in place.
 */
function adam(): FunctionDef {
  const [pp, g, m, v, out, n4] = [0, 1, 2, 3, 4, 5];
  const [b1, c1, b2, c2, sbc2, eps, stepSize, decay, l2, sign] = [6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
  const i = 16;
  const [d, mi, vi, P] = [17, 18, 19, 20];
  const splat = (f: number) => [...op.get(f), ...op.f32x4Splat];
  const at = (base: number) => [...op.get(base), ...op.get(i), ...op.i32(4), ...op.i32Shl, ...op.i32Add];
  const body = forUp(i, op.get(n4), [
    ...at(pp), ...op.v128Load(0), ...op.set(P),
    // d = sign·g + l2·p
    ...splat(sign), ...at(g), ...op.v128Load(0), ...op.f32x4Mul, ...splat(l2), ...op.get(P), ...op.f32x4Mul, ...op.f32x4Add, ...op.set(d),
    // m = b1·m + c1·d
    ...splat(b1), ...at(m), ...op.v128Load(0), ...op.f32x4Mul, ...splat(c1), ...op.get(d), ...op.f32x4Mul, ...op.f32x4Add, ...op.set(mi),
    ...at(m), ...op.get(mi), ...op.v128Store(0),
    // v = b2·v + c2·d²
    ...splat(b2), ...at(v), ...op.v128Load(0), ...op.f32x4Mul, ...splat(c2), ...op.get(d), ...op.get(d), ...op.f32x4Mul, ...op.f32x4Mul, ...op.f32x4Add, ...op.set(vi),
    ...at(v), ...op.get(vi), ...op.v128Store(0),
    // out = p·decay − (m / (√v / sbc2 + eps))·stepSize
    ...at(out),
    ...op.get(P), ...splat(decay), ...op.f32x4Mul,
    ...op.get(mi), ...op.get(vi), ...op.f32x4Sqrt, ...splat(sbc2), ...op.f32x4Div, ...splat(eps), ...op.f32x4Add, ...op.f32x4Div, ...splat(stepSize), ...op.f32x4Mul,
    ...op.f32x4Sub,
    ...op.v128Store(0),
  ]);
  return { name: 'adam', params: [I32, I32, I32, I32, I32, I32, F32, F32, F32, F32, F32, F32, F32, F32, F32, F32], locals: [{ count: 1, type: I32 }, { count: 4, type: V128 }], body };
}

/**
 * maxpool(x, out, planes, H, W, kh, kw, oh, ow): max over non-overlapping kh×kw windows
 * (stride = kernel, no padding) of each H×W plane; NaN wins (f32.max).
 */
function maxpool(): FunctionDef {
  const [x, out, planes, H, W, kh, kw, oh, ow] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [pl, oy, ox, i, j, base, row] = [9, 10, 11, 12, 13, 14, 15];
  const m = 16;
  // byte address in the plane of window (oy, ox), row i: base + ((oy·kh + i)·W + ox·kw)·4
  const rowAt = [
    ...op.get(base),
    ...op.get(oy), ...op.get(kh), ...op.i32Mul, ...op.get(i), ...op.i32Add, ...op.get(W), ...op.i32Mul,
    ...op.get(ox), ...op.get(kw), ...op.i32Mul, ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add,
  ];
  const body = forUp(pl, op.get(planes), [
    ...op.get(x), ...op.get(pl), ...op.get(H), ...op.i32Mul, ...op.get(W), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.set(base),
    ...forUp(oy, op.get(oh), forUp(ox, op.get(ow), [
      ...op.i32(0), ...op.set(i), ...rowAt, ...op.f32Load(0), ...op.set(m),
      ...forUp(i, op.get(kh), [
        ...rowAt, ...op.set(row),
        ...forUp(j, op.get(kw), [
          ...op.get(m), ...op.get(row), ...op.get(j), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.f32Load(0), ...op.f32Max, ...op.set(m),
        ]),
      ]),
      ...op.get(out), ...op.get(m), ...op.f32Store(0),
      ...op.get(out), ...op.i32(4), ...op.i32Add, ...op.set(out),
    ])),
  ]);
  return { name: 'maxpool', params: new Array<number>(9).fill(I32), locals: [{ count: 7, type: I32 }, { count: 1, type: F32 }], body };
}

/**
 * maxpoolBack(x, y, dy, out, planes, H, W, kh, kw, oh, ow): the gradient of maxpool, each
 * window's dy shared among the elements equal to its max: out = (mask·dy) / count, the
 * composite's arithmetic. `out` must be zero where no window reaches.
 */
function maxpoolBack(): FunctionDef {
  const [x, y, dy, out, planes, H, W, kh, kw, oh, ow] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const [pl, oy, ox, i, j, rel, row, cnt, off] = [11, 12, 13, 14, 15, 16, 17, 18, 19];
  const [m, dv, cntf] = [20, 21, 22];
  // byte offset in the plane of window (oy, ox), row i
  const relAt = [
    ...op.get(rel),
    ...op.get(oy), ...op.get(kh), ...op.i32Mul, ...op.get(i), ...op.i32Add, ...op.get(W), ...op.i32Mul,
    ...op.get(ox), ...op.get(kw), ...op.i32Mul, ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add,
  ];
  const elem = (base: number) => [...op.get(base), ...op.get(row), ...op.i32Add, ...op.get(j), ...op.i32(4), ...op.i32Mul, ...op.i32Add];
  const isMax = [...elem(x), ...op.f32Load(0), ...op.get(m), ...op.f32Eq];
  const body = forUp(pl, op.get(planes), [
    ...op.get(pl), ...op.get(H), ...op.i32Mul, ...op.get(W), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.set(rel),
    ...forUp(oy, op.get(oh), forUp(ox, op.get(ow), [
      ...op.get(y), ...op.get(off), ...op.i32Add, ...op.f32Load(0), ...op.set(m),
      ...op.get(dy), ...op.get(off), ...op.i32Add, ...op.f32Load(0), ...op.set(dv),
      ...op.i32(0), ...op.set(cnt),
      ...forUp(i, op.get(kh), [...relAt, ...op.set(row), ...forUp(j, op.get(kw), [...op.get(cnt), ...isMax, ...op.i32Add, ...op.set(cnt)])]),
      ...op.get(cnt), ...op.f32ConvertI32S, ...op.set(cntf),
      ...forUp(i, op.get(kh), [
        ...relAt, ...op.set(row),
        ...forUp(j, op.get(kw), [...elem(out), ...isMax, ...op.f32ConvertI32S, ...op.get(dv), ...op.f32Mul, ...op.get(cntf), ...op.f32Div, ...op.f32Store(0)]),
      ]),
      ...op.get(off), ...op.i32(4), ...op.i32Add, ...op.set(off),
    ])),
  ]);
  return { name: 'maxpoolBack', params: new Array<number>(11).fill(I32), locals: [{ count: 9, type: I32 }, { count: 3, type: F32 }], body };
}

export const MAX_PAGES = 65536; // 4 GiB of 64 KiB pages

/** The kernels' module; `shared` memory lets worker threads instantiate it on the same data. */
export function kernelModule(shared: boolean): Uint8Array<ArrayBuffer> {
  return moduleBytes([gemm(), adam(), maxpool(), maxpoolBack()], { initialPages: 16, maximumPages: shared ? 16384 : MAX_PAGES, shared });
}


