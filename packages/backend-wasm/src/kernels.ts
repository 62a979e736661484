import { F32, F64, I32, V128, forStep, forUp, moduleBytes, op, type FunctionDef } from './assembler.js';

/**
 * `pos = min(xv, limit − 4)` for loops over groups of four (xv = 0, 4, 8, …): the last group
 * moves back to end at `limit` (it overlaps the one before; needs limit ≥ 4).
 */
function lastColumnClamp(pos: number, xv: number, limit: number): number[] {
  return [
    ...op.get(xv), ...op.get(limit), ...op.i32(4), ...op.i32Sub,
    ...op.get(xv), ...op.get(limit), ...op.i32(4), ...op.i32Sub, ...op.i32LeS,
    ...op.select, ...op.set(pos),
  ];
}

/**
 * Local `acc` += x·y (two vectors the instruction lists leave): one fused multiply-add
 * (relaxed SIMD) where the module is built with it, else a multiply and an add.
 */
function multiplyAdd(fma: boolean, acc: number, x: number[], y: number[]): number[] {
  return fma ? [...x, ...y, ...op.get(acc), ...op.f32x4RelaxedMadd, ...op.set(acc)] : [...op.get(acc), ...x, ...y, ...op.f32x4Mul, ...op.f32x4Add, ...op.set(acc)];
}

/** Local `mask` = lanes l ≥ (local a) − (local b) set (the lanes a last group moved back from a to b has not done yet). */
function lanesFrom(mask: number, a: number, b: number): number[] {
  return [...op.get(a), ...op.get(b), ...op.i32Sub, ...op.i32(1), ...op.i32Sub, ...op.i32x4Splat, ...op.v128ConstI32x4([0, 1, 2, 3]), ...op.i32x4LtS, ...op.set(mask)];
}

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
 * gemmAcc (`accumulate`): C[M, N] += A·B, the same products added to what C holds.
 * gemmRows (`rowsB`, one more parameter `ldb`): B not packed but row-major, rows ldb bytes
 * apart — for a B small enough to stay in the cache, where packing it would cost more than
 * the strided reads (columns past the last panel's end read whatever follows: their
 * results land in C's padding columns).
 *
 * The micro-kernel keeps a 4×8 block of C in eight f32x4 registers; each step of k loads
 * two vectors of the B panel, broadcasts four values of A and does eight multiply-adds.
 * Splitting the panels [n0, n1) across threads needs no synchronization inside.
 */
function gemm(fma: boolean, accumulate = false, rowsB = false): FunctionDef {
  const R = GEMM_ROWS;
  const [a, b, c, M, K, N, n0, n1] = [0, 1, 2, 3, 4, 5, 6, 7];
  // gemmRows: one more parameter, B's row length in bytes
  const ldb = 8;
  const P0 = rowsB ? 9 : 8;
  // i32 locals: p, i, k, bk, cptr, rowA, panelBytes, rowC, bpanel, then R row pointers of A
  const [p, i, k, bk, cptr, rowA, panelBytes, rowC, bpanel] = Array.from({ length: 9 }, (_, q) => P0 + q);
  const pa = Array.from({ length: R }, (_, r) => P0 + 9 + r);
  // v128 locals: 2R accumulators, two B vectors, one broadcast A value
  const acc = Array.from({ length: 2 * R }, (_, r) => P0 + 9 + R + r);
  const [b0, b1, x] = [P0 + 9 + 3 * R, P0 + 10 + 3 * R, P0 + 11 + 3 * R];
  const madd = (a: number, b: number): number[] => multiplyAdd(fma, a, op.get(x), op.get(b));

  const body: number[] = [
    ...op.get(K), ...op.i32(4), ...op.i32Mul, ...op.set(rowA),
    // from one panel to the next: K rows of 32 bytes packed, 32 bytes along B's rows
    ...(rowsB ? op.i32(32) : [...op.get(K), ...op.i32(32), ...op.i32Mul]), ...op.set(panelBytes),
    ...op.get(N), ...op.i32(4), ...op.i32Mul, ...op.set(rowC),
    // bpanel = b + n0·panelBytes
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
      ...madd(acc[2 * r], b0),
      ...madd(acc[2 * r + 1], b1),
      ...op.get(ptr), ...op.i32(4), ...op.i32Add, ...op.set(ptr),
    ]),
    ...op.get(bk), ...(rowsB ? op.get(ldb) : op.i32(32)), ...op.i32Add, ...op.set(bk),
    ...op.get(k), ...op.i32(1), ...op.i32Sub, ...op.set(k),
    ...op.br(0),
    ...op.end, ...op.end,
    // C block: c + i·rowC + p·32, R rows of two vectors
    ...op.get(c), ...op.get(i), ...op.get(rowC), ...op.i32Mul, ...op.i32Add, ...op.get(p), ...op.i32(32), ...op.i32Mul, ...op.i32Add, ...op.set(cptr),
    ...pa.flatMap((_, r) => [
      ...op.get(cptr), ...op.get(acc[2 * r]), ...(accumulate ? [...op.get(cptr), ...op.v128Load(0), ...op.f32x4Add] : []), ...op.v128Store(0),
      ...op.get(cptr), ...op.get(acc[2 * r + 1]), ...(accumulate ? [...op.get(cptr), ...op.v128Load(16), ...op.f32x4Add] : []), ...op.v128Store(16),
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
  return { name: rowsB ? 'gemmRows' : accumulate ? 'gemmAcc' : 'gemm', params: new Array<number>(P0).fill(I32), locals: [{ count: 9 + R, type: I32 }, { count: 2 * R + 3, type: V128 }], body };
}

/**
 * adam(p, g, m, v, out, n4, b1, c1, b2, c2, isbc2, eps, stepSize, decay, l2, sign): one Adam
 * step over n4 groups of four floats, in the fused JavaScript loop's order of operations
 * except for one division (vector divisions are slow; the results differ in the last bit):
 *   d = sign·g + l2·p;  m ← b1·m + c1·d;  v ← b2·v + c2·d²;
 *   out = p·decay − (m / (√v·isbc2 + eps))·stepSize      (c1 = 1 − b1, c2 = 1 − b2, isbc2 = 1/√(1 − b2ᵗ))
 * m and v are updated in place.
 */
function adam(): FunctionDef {
  const [pp, g, m, v, out, n4] = [0, 1, 2, 3, 4, 5];
  const [b1, c1, b2, c2, isbc2, eps, stepSize, decay, l2, sign] = [6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
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
    // out = p·decay − (m / (√v·isbc2 + eps))·stepSize
    ...at(out),
    ...op.get(P), ...splat(decay), ...op.f32x4Mul,
    ...op.get(mi), ...op.get(vi), ...op.f32x4Sqrt, ...splat(isbc2), ...op.f32x4Mul, ...splat(eps), ...op.f32x4Add, ...op.f32x4Div, ...splat(stepSize), ...op.f32x4Mul,
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
 * im2row(x, rows, N, C, H, W, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, vec, skip, pad): the
 * patch matrix of a convolution, row (n, y, x) holding the C·kh·kw values under output
 * (y, x) of image n (`pad` outside the image), `skip` bytes between rows. Windows inside the image copy row by row; with `vec`
 * (dilation 1 along x and kw ≤ 4) each row of the window is one 16-byte load and store,
 * the extra lanes overwritten by the next store (both buffers need 16 bytes of slack).
 *
 * row2im(x, rows, …same…): the adjoint, each row's values added back into the image x
 * (which must start at zero; `pad` is ignored), in the order the JavaScript code adds
 * them, so float32 results agree bit for bit. With `vec` each row of a window inside the
 * image is one vector add, the lanes past kw masked to +0 (adding +0 changes no element:
 * one that starts at +0 never becomes −0); the image needs 16 bytes of slack.
 */
function patches(mode: 'im2row' | 'row2im'): FunctionDef {
  const gather = mode === 'im2row';
  const [x, rows, N, C, H, W, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, vec, skip, pad] = Array.from({ length: 19 }, (_, k) => k);
  const [n, y, xx, c, i, j, iy, ix, img, y0, x0, rowp, at] = Array.from({ length: 13 }, (_, k) => 19 + k);
  const mask = 32; // v128: lanes j < kw all ones (row2im's vector adds)
  const mulAdd = (a: number[], b: number[]) => [...a, ...b, ...op.i32Mul];
  const advance = [...op.get(rows), ...op.i32(4), ...op.i32Add, ...op.set(rows)];
  // img + ((c·H + row)·W + col)·4
  const addr = (row: number[], col: number[]) => [
    ...op.get(img), ...op.get(c), ...op.get(H), ...op.i32Mul, ...row, ...op.i32Add, ...op.get(W), ...op.i32Mul, ...col, ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add,
  ];
  /** move one value between the image address on the stack and the rows pointer */
  const move = (address: number[]) =>
    gather
      ? [...op.get(rows), ...address, ...op.f32Load(0), ...op.f32Store(0)]
      : [...address, ...op.set(at), ...op.get(at), ...op.get(at), ...op.f32Load(0), ...op.get(rows), ...op.f32Load(0), ...op.f32Add, ...op.f32Store(0)];
  const inRange = (v: number, limit: number) => [...op.get(v), ...op.i32(0), ...op.i32GeS, ...op.get(v), ...op.get(limit), ...op.i32LtS, ...op.i32And];
  const last = (start: number, k: number, d: number) => [...op.get(start), ...op.get(k), ...op.i32(1), ...op.i32Sub, ...op.get(d), ...op.i32Mul, ...op.i32Add];
  const scalarRow = forUp(j, op.get(kw), [...move([...op.get(rowp), ...op.get(j), ...op.get(dw), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.i32Add]), ...advance]);
  const interior = forUp(c, op.get(C), forUp(i, op.get(kh), [
    ...addr([...op.get(y0), ...mulAdd(op.get(i), op.get(dh)), ...op.i32Add], op.get(x0)), ...op.set(rowp),
    ...(gather
      ? [
          ...op.get(vec), ...op.if,
          ...op.get(rows), ...op.get(rowp), ...op.v128Load(0), ...op.v128Store(0),
          ...op.get(rows), ...op.get(kw), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.set(rows),
          ...op.else, ...scalarRow, ...op.end,
        ]
      : [
          ...op.get(vec), ...op.if,
          ...op.get(rowp), ...op.get(rowp), ...op.v128Load(0), ...op.get(rows), ...op.v128Load(0), ...op.get(mask), ...op.v128And, ...op.f32x4Add, ...op.v128Store(0),
          ...op.get(rows), ...op.get(kw), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.set(rows),
          ...op.else, ...scalarRow, ...op.end,
        ]),
  ]));
  // near the border: only the positions inside the image (gather writes pad for the rest)
  const edge = forUp(c, op.get(C), forUp(i, op.get(kh), [
    ...op.get(y0), ...mulAdd(op.get(i), op.get(dh)), ...op.i32Add, ...op.set(iy),
    ...forUp(j, op.get(kw), [
      ...op.get(x0), ...mulAdd(op.get(j), op.get(dw)), ...op.i32Add, ...op.set(ix),
      ...(gather
        ? [
            ...op.get(rows),
            ...inRange(iy, H), ...inRange(ix, W), ...op.i32And,
            ...op.ifF32, ...addr(op.get(iy), op.get(ix)), ...op.f32Load(0), ...op.else, ...op.get(pad), ...op.end,
            ...op.f32Store(0),
          ]
        : [...inRange(iy, H), ...inRange(ix, W), ...op.i32And, ...op.if, ...move(addr(op.get(iy), op.get(ix))), ...op.end]),
      ...advance,
    ]),
  ]));
  const body = forUp(n, op.get(N), [
    ...op.get(x), ...op.get(n), ...op.get(C), ...op.i32Mul, ...op.get(H), ...op.i32Mul, ...op.get(W), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.set(img),
    ...forUp(y, op.get(oh), [
      ...op.get(y), ...op.get(sh), ...op.i32Mul, ...op.get(pt), ...op.i32Sub, ...op.set(y0),
      ...forUp(xx, op.get(ow), [
        ...op.get(xx), ...op.get(sw), ...op.i32Mul, ...op.get(pl), ...op.i32Sub, ...op.set(x0),
        ...op.get(y0), ...op.i32(0), ...op.i32GeS, ...last(y0, kh, dh), ...op.get(H), ...op.i32LtS, ...op.i32And,
        ...op.get(x0), ...op.i32(0), ...op.i32GeS, ...op.i32And, ...last(x0, kw, dw), ...op.get(W), ...op.i32LtS, ...op.i32And,
        ...op.if, ...interior, ...op.else, ...edge, ...op.end,
        ...op.get(rows), ...op.get(skip), ...op.i32Add, ...op.set(rows),
      ]),
    ]),
  ]);
  const setMask = gather ? [] : [...op.v128ConstI32x4([0, 1, 2, 3]), ...op.get(kw), ...op.i32x4Splat, ...op.i32x4LtS, ...op.set(mask)];
  return { name: mode, params: [...new Array<number>(18).fill(I32), F32], locals: [{ count: 13, type: I32 }, { count: 1, type: V128 }], body: [...setMask, ...body] };
}

/** An i8x16 shuffle picking float lanes (0–3 of the first vector, 4–7 of the second). */
const lanes = (fl: readonly number[]) => op.i8x16Shuffle(fl.flatMap((f) => [0, 1, 2, 3].map((b) => 4 * f + b)));

/** Lanes 2 and 3 of a vector moved to 0 and 1 (for f64x2.promote_low_f32x4 of the high half). */
const HIGH_HALF = op.i8x16Shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]);

/**
 * The rows in the v128 locals `v` (four) transposed through eight shuffles, with four
 * v128 temporaries `t`: `store(j, column)` places column j (the instructions leaving it on
 * the stack), e.g. its address, then `column`, then a vector store.
 */
function transpose4x4(v: readonly number[], t: readonly number[], store: (j: number, column: number[]) => number[]): number[] {
  return [
    ...op.get(v[0]), ...op.get(v[1]), ...lanes([0, 4, 1, 5]), ...op.set(t[0]),
    ...op.get(v[2]), ...op.get(v[3]), ...lanes([0, 4, 1, 5]), ...op.set(t[1]),
    ...op.get(v[0]), ...op.get(v[1]), ...lanes([2, 6, 3, 7]), ...op.set(t[2]),
    ...op.get(v[2]), ...op.get(v[3]), ...lanes([2, 6, 3, 7]), ...op.set(t[3]),
    ...([[0, 1, [0, 1, 4, 5]], [0, 1, [2, 3, 6, 7]], [2, 3, [0, 1, 4, 5]], [2, 3, [2, 3, 6, 7]]] as const).flatMap(([a, b, sel], j) =>
      store(j, [...op.get(t[a]), ...op.get(t[b]), ...lanes(sel)]),
    ),
  ];
}

/** `dst` moved to panel p0's start (K rows of 32 bytes per panel), then p = p0 … p1 − 1 over `body`. */
function panels(dst: number, K: number, p: number, p0: number, p1: number, body: number[]): number[] {
  return [
    ...op.get(dst), ...op.get(p0), ...op.get(K), ...op.i32Mul, ...op.i32(32), ...op.i32Mul, ...op.i32Add, ...op.set(dst),
    ...forStep(p, op.get(p0), op.get(p1), 1, body),
  ];
}

/**
 * packB(src, dst, K, N, p0, p1): panels p0 ≤ p < p1 of a row-major K×N matrix into gemm's
 * B layout at dst: panels of 8 columns, each K rows of 8 floats, zeros past column N
 * (whole panels move as two vectors per row).
 */
function packB(): FunctionDef {
  const [src, dst, K, N, p0, p1] = [0, 1, 2, 3, 4, 5];
  const [p, k, j, j0, from, width] = [6, 7, 8, 9, 10, 11];
  const rowAt = [...op.get(src), ...op.get(k), ...op.get(N), ...op.i32Mul, ...op.get(j0), ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add];
  const body = panels(dst, K, p, p0, p1, [
    ...op.get(p), ...op.i32(8), ...op.i32Mul, ...op.set(j0),
    ...op.get(N), ...op.get(j0), ...op.i32Sub, ...op.set(width),
    ...op.get(width), ...op.i32(8), ...op.i32GeU,
    ...op.if,
    ...forUp(k, op.get(K), [
      ...rowAt, ...op.set(from),
      ...op.get(dst), ...op.get(from), ...op.v128Load(0), ...op.v128Store(0),
      ...op.get(dst), ...op.get(from), ...op.v128Load(16), ...op.v128Store(16),
      ...op.get(dst), ...op.i32(32), ...op.i32Add, ...op.set(dst),
    ]),
    ...op.else,
    ...forUp(k, op.get(K), [
      ...rowAt, ...op.set(from),
      ...forUp(j, op.i32(8), [
        ...op.get(dst), ...op.get(j), ...op.i32(4), ...op.i32Mul, ...op.i32Add,
        ...op.get(j), ...op.get(width), ...op.i32LtS,
        ...op.ifF32, ...op.get(from), ...op.get(j), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.f32Load(0), ...op.else, ...op.f32Const0, ...op.end,
        ...op.f32Store(0),
      ]),
      ...op.get(dst), ...op.i32(32), ...op.i32Add, ...op.set(dst),
    ]),
    ...op.end,
  ]);
  return { name: 'packB', params: new Array<number>(6).fill(I32), locals: [{ count: 6, type: I32 }], body };
}

/**
 * packBT(src, dst, K, N, p0, p1): like packB for a matrix stored transposed (src is N×K
 * row-major, B[k, j] = src[j·K + k]): each row of 8 gathered from 8 source rows. A whole
 * panel moves four k at a time as two 4×4 transposes (eight vector loads, eight shuffles,
 * eight vector stores); the last K mod 4 rows, and a partial panel, element by element.
 */
function packBT(): FunctionDef {
  const [src, dst, K, N, p0, p1] = [0, 1, 2, 3, 4, 5];
  const [p, k, j, j0, width, kv, from] = [6, 7, 8, 9, 10, 11, 12];
  const v = [13, 14, 15, 16, 17, 18, 19, 20];
  const t = [21, 22, 23, 24];
  // rows r of v (r < 4 or ≥ 4) transposed: column c of the half to dst + (k + c)·32 + 16·half
  const half = (h: number) =>
    transpose4x4(v.slice(4 * h, 4 * h + 4), t, (col, column) => [
      ...op.get(dst), ...op.get(k), ...op.i32(col), ...op.i32Add, ...op.i32(32), ...op.i32Mul, ...op.i32Add,
      ...column,
      ...op.v128Store(16 * h),
    ]);
  const body = panels(dst, K, p, p0, p1, [
    ...op.get(p), ...op.i32(8), ...op.i32Mul, ...op.set(j0),
    ...op.get(N), ...op.get(j0), ...op.i32Sub, ...op.set(width),
    // kv: the rows done by vectors (K rounded down to 4 for a whole panel, else none)
    ...op.i32(0), ...op.set(kv),
    ...op.get(width), ...op.i32(8), ...op.i32GeU,
    ...op.if, ...op.get(K), ...op.i32(-4), ...op.i32And, ...op.set(kv), ...op.end,
    // from = src + j0·K·4: the panel's first source row
    ...op.get(src), ...op.get(j0), ...op.get(K), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.set(from),
    ...forStep(k, op.i32(0), op.get(kv), 4, [
      ...v.flatMap((reg, r) => [
        ...op.get(from), ...op.i32(r), ...op.get(K), ...op.i32Mul, ...op.get(k), ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add,
        ...op.v128Load(0), ...op.set(reg),
      ]),
      ...half(0),
      ...half(1),
    ]),
    ...forStep(k, op.get(kv), op.get(K), 1, [
      ...forUp(j, op.i32(8), [
        // dst + (k·8 + j)·4
        ...op.get(dst), ...op.get(k), ...op.i32(8), ...op.i32Mul, ...op.get(j), ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add,
        ...op.get(j), ...op.get(width), ...op.i32LtS,
        // src + ((j0 + j)·K + k)·4
        ...op.ifF32, ...op.get(from), ...op.get(j), ...op.get(K), ...op.i32Mul, ...op.get(k), ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.f32Load(0),
        ...op.else, ...op.f32Const0, ...op.end,
        ...op.f32Store(0),
      ]),
    ]),
    ...op.get(dst), ...op.get(K), ...op.i32(32), ...op.i32Mul, ...op.i32Add, ...op.set(dst),
  ]);
  return { name: 'packBT', params: new Array<number>(6).fill(I32), locals: [{ count: 7, type: I32 }, { count: 12, type: V128 }], body };
}

/**
 * transpose(src, dst, N, R, C, ss, ds, sb, db, bias): N blocks, dst[c·ds + r] = src[r·ss +
 * c] (+ bias[c] when bias ≠ 0) for r < R, c < C, strides in floats, block n at src + n·sb
 * and dst + n·db. 4×4 tiles move as four vector loads, eight shuffles and four vector
 * stores; the ragged edges element by element. A convolution's product rows to [N, O, L]
 * with its bias, and [N, O, L] to position-major rows, are both this.
 */
function transpose(): FunctionDef {
  const [src, dst, N, R, C, ss, ds, sb, db, bias] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [n, r, c, r4, c4, from, to, k] = [10, 11, 12, 13, 14, 15, 16, 17];
  const v = [18, 19, 20, 21];
  const t = [22, 23, 24, 25];
  const addr = (base: number, row: number[], stride: number, col: number[]) => [...op.get(base), ...row, ...op.get(stride), ...op.i32Mul, ...col, ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add];
  const biasOf = (col: number[]) => [...op.get(bias), ...col, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.f32Load(0)];
  const tile = (withBias: boolean) => [
    ...v.flatMap((reg, j) => [...addr(from, [...op.get(r), ...op.i32(j), ...op.i32Add], ss, op.get(c)), ...op.v128Load(0), ...op.set(reg)]),
    ...transpose4x4(v, t, (j, column) => [
      ...addr(to, [...op.get(c), ...op.i32(j), ...op.i32Add], ds, op.get(r)),
      ...column,
      ...(withBias ? [...biasOf([...op.get(c), ...op.i32(j), ...op.i32Add]), ...op.f32x4Splat, ...op.f32x4Add] : []),
      ...op.v128Store(0),
    ]),
  ];
  const one = (withBias: boolean) => [
    ...addr(to, op.get(c), ds, op.get(r)),
    ...addr(from, op.get(r), ss, op.get(c)), ...op.f32Load(0),
    ...(withBias ? [...biasOf(op.get(c)), ...op.f32Add] : []),
    ...op.f32Store(0),
  ];
  const blockBody = (withBias: boolean) => [
    // 4×4 tiles, then the columns past the last whole tile for those rows, then the last rows
    ...forStep(r, op.i32(0), op.get(r4), 4, [
      ...forStep(c, op.i32(0), op.get(c4), 4, tile(withBias)),
      ...forStep(k, op.i32(0), op.i32(4), 1, [
        ...op.get(r), ...op.get(k), ...op.i32Add, ...op.set(r),
        ...forStep(c, op.get(c4), op.get(C), 1, one(withBias)),
        ...op.get(r), ...op.get(k), ...op.i32Sub, ...op.set(r),
      ]),
    ]),
    ...forStep(r, op.get(r4), op.get(R), 1, forStep(c, op.i32(0), op.get(C), 1, one(withBias))),
  ];
  const body = [
    ...op.get(R), ...op.i32(-4), ...op.i32And, ...op.set(r4),
    ...op.get(C), ...op.i32(-4), ...op.i32And, ...op.set(c4),
    ...forUp(n, op.get(N), [
      ...op.get(src), ...op.get(n), ...op.get(sb), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.set(from),
      ...op.get(dst), ...op.get(n), ...op.get(db), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.set(to),
      ...op.get(bias), ...op.if, ...blockBody(true), ...op.else, ...blockBody(false), ...op.end,
    ]),
  ];
  return { name: 'transpose', params: new Array<number>(10).fill(I32), locals: [{ count: 8, type: I32 }, { count: 8, type: V128 }], body };
}

/**
 * swapBlocks(src, dst, A, B, L, rowA): [A, B, L] to [B, A, L], blocks of L floats moving
 * whole (memory.copy); dst's rows (b) are rowA ≥ A·L floats apart, so a range of a can run
 * on its own (dst moved on by a·L).
 */
function swapBlocks(): FunctionDef {
  const [src, dst, A, B, L, rowA] = [0, 1, 2, 3, 4, 5];
  const [a, b, from, to] = [6, 7, 8, 9];
  const body = forUp(a, op.get(A), forUp(b, op.get(B), [
    ...op.get(src), ...op.get(a), ...op.get(B), ...op.i32Mul, ...op.get(b), ...op.i32Add, ...op.get(L), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.set(from),
    ...op.get(dst), ...op.get(b), ...op.get(rowA), ...op.i32Mul, ...op.get(a), ...op.get(L), ...op.i32Mul, ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.set(to),
    ...op.get(to), ...op.get(from), ...op.get(L), ...op.i32(4), ...op.i32Mul, ...op.memoryCopy,
  ]));
  return { name: 'swapBlocks', params: new Array<number>(6).fill(I32), locals: [{ count: 4, type: I32 }], body };
}

/**
 * fill32(dst, n, value): n copies of the 32-bit pattern `value` (an f32's or an i32's bits)
 * from dst, four at a time; all-zero bits go through memory.fill. (TypedArray.fill on a
 * shared memory's view takes a slow path in V8: ten times slower here.)
 */
function fill32(): FunctionDef {
  const [dst, n, value] = [0, 1, 2];
  const [i, n4] = [3, 4];
  const v = 5; // v128
  const body = [
    ...op.get(value), ...op.i32Eqz, ...op.if,
    ...op.get(dst), ...op.i32(0), ...op.get(n), ...op.i32(4), ...op.i32Mul, ...op.memoryFill,
    ...op.else,
    ...op.get(value), ...op.i32x4Splat, ...op.set(v),
    ...op.get(n), ...op.i32(-4), ...op.i32And, ...op.set(n4),
    ...forStep(i, op.i32(0), op.get(n4), 4, [...op.get(dst), ...op.get(i), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.get(v), ...op.v128Store(0)]),
    ...forStep(i, op.get(n4), op.get(n), 1, [...op.get(dst), ...op.get(i), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.get(value), ...op.i32Store(0)]),
    ...op.end,
  ];
  return { name: 'fill32', params: new Array<number>(3).fill(I32), locals: [{ count: 2, type: I32 }, { count: 1, type: V128 }], body };
}

/** independent accumulators in fmaPeak: more than the FMA units' latency × their count (Zen: 4 × 2) */
export const PEAK_ACCUMULATORS = 12;

/**
 * fmaPeak(units, out, iters): for each unit, `iters` rounds of PEAK_ACCUMULATORS
 * independent f32x4 multiply-adds (fused where `fma`) on registers only, then the sum of
 * the accumulators' first lanes stored at out + 4·unit (so the work is not optimized
 * away). No loads in the loop: it times the machine's WebAssembly SIMD ceiling, what a
 * product's kernel could reach at best.
 */
function fmaPeak(fma: boolean): FunctionDef {
  const [units, out, iters] = [0, 1, 2];
  const [u, i] = [3, 4];
  const [a, b] = [5, 6]; // v128
  const acc = Array.from({ length: PEAK_ACCUMULATORS }, (_, k) => 7 + k);
  const splat = (v: number[]) => [...v, ...op.f32x4Splat];
  const body = [
    // a = 1, b = 1 − 2⁻²⁴ … the values never overflow or turn denormal
    ...splat(op.f32Const1), ...op.set(a),
    ...splat([0x43, 0xff, 0xff, 0x7f, 0x3f]), ...op.set(b),
    ...forUp(u, op.get(units), [
      ...acc.flatMap((r) => [...op.v128Zero, ...op.set(r)]),
      ...forUp(i, op.get(iters), acc.flatMap((r) => multiplyAdd(fma, r, op.get(a), op.get(b)))),
      ...op.get(out), ...op.get(u), ...op.i32(4), ...op.i32Mul, ...op.i32Add,
      ...op.get(acc[0]), ...acc.slice(1).flatMap((r) => [...op.get(r), ...op.f32x4Add]), ...op.f32x4ExtractLane(0),
      ...op.f32Store(0),
    ]),
  ];
  return { name: 'fmaPeak', params: new Array<number>(3).fill(I32), locals: [{ count: 2, type: I32 }, { count: 2 + PEAK_ACCUMULATORS, type: V128 }], body };
}

/**
 * rowSum(x, out, rows, n): out[r] = Σ_i x[r·n + i] for float32 rows, accumulated in
 * float64 (two f64x2 accumulators over four floats at a time, then the last n mod 4 one
 * by one) and rounded once: a convolution bias's gradient, summed over positions.
 * rowSum64 (`wide`): the float64 sums themselves (8 bytes each), parts of a whole sum.
 */
function rowSum(wide = false): FunctionDef {
  const [x, out, rows, n] = [0, 1, 2, 3];
  const [r, i, at, n4] = [4, 5, 6, 7];
  const [v, a0, a1] = [8, 9, 10]; // v128
  const tail = 11; // f64
  const body = [
    ...op.get(n), ...op.i32(-4), ...op.i32And, ...op.set(n4),
    ...forUp(r, op.get(rows), [
      ...op.get(x), ...op.get(r), ...op.get(n), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.set(at),
      ...op.v128Zero, ...op.set(a0), ...op.v128Zero, ...op.set(a1),
      ...op.f64Const0, ...op.set(tail),
      ...forStep(i, op.i32(0), op.get(n4), 4, [
        ...op.get(at), ...op.get(i), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.v128Load(0), ...op.set(v),
        ...op.get(a0), ...op.get(v), ...op.f64x2PromoteLowF32x4, ...op.f64x2Add, ...op.set(a0),
        ...op.get(a1), ...op.get(v), ...op.get(v), ...HIGH_HALF, ...op.f64x2PromoteLowF32x4, ...op.f64x2Add, ...op.set(a1),
      ]),
      ...forStep(i, op.get(n4), op.get(n), 1, [
        ...op.get(tail), ...op.get(at), ...op.get(i), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.f32Load(0), ...op.f64PromoteF32, ...op.f64Add, ...op.set(tail),
      ]),
      ...op.get(out), ...op.get(r), ...op.i32(wide ? 8 : 4), ...op.i32Mul, ...op.i32Add,
      ...op.get(a0), ...op.f64x2ExtractLane(0), ...op.get(a1), ...op.f64x2ExtractLane(0), ...op.f64Add,
      ...op.get(a0), ...op.f64x2ExtractLane(1), ...op.get(a1), ...op.f64x2ExtractLane(1), ...op.f64Add, ...op.f64Add,
      ...op.get(tail), ...op.f64Add,
      ...(wide ? op.f64Store(0) : [...op.f32DemoteF64, ...op.f32Store(0)]),
    ]),
  ];
  return { name: wide ? 'rowSum64' : 'rowSum', params: new Array<number>(4).fill(I32), locals: [{ count: 4, type: I32 }, { count: 3, type: V128 }, { count: 1, type: F64 }], body };
}

/**
 * relu(x, out, n4): max(x, 0) over n4 groups of four floats (f32x4.max: NaN propagates,
 * −0 becomes +0). reluGrad(x, dy, out, n4): dy where x > 0, else +0.
 */
function relu(grad: boolean): FunctionDef {
  const [x, dy, out, n4] = grad ? [0, 1, 2, 3] : [0, -1, 1, 2];
  const i = grad ? 4 : 3;
  const at = (base: number) => [...op.get(base), ...op.get(i), ...op.i32(4), ...op.i32Shl, ...op.i32Add];
  const value = grad
    ? [...at(dy), ...op.v128Load(0), ...at(x), ...op.v128Load(0), ...op.v128Zero, ...op.f32x4Gt, ...op.v128And]
    : [...at(x), ...op.v128Load(0), ...op.v128Zero, ...op.f32x4Max];
  const body = forUp(i, op.get(n4), [...at(out), ...value, ...op.v128Store(0)]);
  return { name: grad ? 'reluGrad' : 'relu', params: new Array<number>(grad ? 4 : 3).fill(I32), locals: [{ count: 1, type: I32 }], body };
}

/** The float32 binary ops with a SIMD kernel, and their instructions. */
export const BINARY_KERNELS = { add: op.f32x4Add, sub: op.f32x4Sub, mul: op.f32x4Mul, div: op.f32x4Div } as const;

/**
 * add|sub|mul|div(a, b, out, rows, n, ra, rb, mode): out row r (n floats at out + r·n·4)
 * = a's row r ⊙ b's row r, rows starting at a + r·ra and b + r·rb (bytes; 0 repeats one
 * row). mode 0: both rows are n contiguous floats; 1: b's row is one value for the whole
 * row; 2: a's is. Whole vectors only: a row's last vector may spill into the next row of
 * out (written again right after) or the block's slack, and reads may pass a row's end.
 * Each lane is the IEEE single-precision result, as JavaScript's double arithmetic
 * rounded to float32 gives for these four ops.
 */
function binary(name: keyof typeof BINARY_KERNELS): FunctionDef {
  const [a, b, out, rows, n, ra, rb, mode] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [r, i, pa, pb, po] = [8, 9, 10, 11, 12];
  const [va, vb] = [13, 14]; // v128
  const at = (base: number) => [...op.get(base), ...op.get(i), ...op.i32(4), ...op.i32Mul, ...op.i32Add];
  const row = (vecA: boolean, vecB: boolean) => [
    ...(vecA ? [] : [...op.get(pa), ...op.v128Load32Splat(0), ...op.set(va)]),
    ...(vecB ? [] : [...op.get(pb), ...op.v128Load32Splat(0), ...op.set(vb)]),
    ...forStep(i, op.i32(0), op.get(n), 4, [
      ...at(po),
      ...(vecA ? [...at(pa), ...op.v128Load(0)] : op.get(va)),
      ...(vecB ? [...at(pb), ...op.v128Load(0)] : op.get(vb)),
      ...BINARY_KERNELS[name],
      ...op.v128Store(0),
    ]),
  ];
  const body = forUp(r, op.get(rows), [
    ...op.get(a), ...op.get(r), ...op.get(ra), ...op.i32Mul, ...op.i32Add, ...op.set(pa),
    ...op.get(b), ...op.get(r), ...op.get(rb), ...op.i32Mul, ...op.i32Add, ...op.set(pb),
    ...op.get(out), ...op.get(r), ...op.get(n), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.set(po),
    ...op.get(mode), ...op.i32Eqz,
    ...op.if, ...row(true, true),
    ...op.else, ...op.get(mode), ...op.i32(1), ...op.i32Sub, ...op.i32Eqz,
    ...op.if, ...row(true, false),
    ...op.else, ...row(false, true),
    ...op.end, ...op.end,
  ]);
  return { name, params: new Array<number>(8).fill(I32), locals: [{ count: 5, type: I32 }, { count: 2, type: V128 }], body };
}

/**
 * colSum(x, out, rows, n): out[j] = Σ_r x[r·n + j] for float32 rows (a bias's gradient
 * summed over a batch), accumulated in float64 (two f64x2 per four columns, the last
 * n mod 4 columns one by one) and rounded once.
 */
function colSum(): FunctionDef {
  const [x, out, rows, n] = [0, 1, 2, 3];
  const [j, r, at, rowBytes, n4] = [4, 5, 6, 7, 8];
  const [v, lo, hi] = [9, 10, 11]; // v128
  const one = 12; // f64
  const body = [
    ...op.get(n), ...op.i32(4), ...op.i32Mul, ...op.set(rowBytes),
    ...op.get(n), ...op.i32(-4), ...op.i32And, ...op.set(n4),
    ...forStep(j, op.i32(0), op.get(n4), 4, [
      ...op.v128Zero, ...op.set(lo), ...op.v128Zero, ...op.set(hi),
      ...op.get(x), ...op.get(j), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.set(at),
      ...forUp(r, op.get(rows), [
        ...op.get(at), ...op.v128Load(0), ...op.set(v),
        ...op.get(lo), ...op.get(v), ...op.f64x2PromoteLowF32x4, ...op.f64x2Add, ...op.set(lo),
        ...op.get(hi), ...op.get(v), ...op.get(v), ...HIGH_HALF, ...op.f64x2PromoteLowF32x4, ...op.f64x2Add, ...op.set(hi),
        ...op.get(at), ...op.get(rowBytes), ...op.i32Add, ...op.set(at),
      ]),
      ...[[lo, 0], [lo, 1], [hi, 0], [hi, 1]].flatMap(([acc, lane], k) => [
        ...op.get(out), ...op.get(j), ...op.i32(k), ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add,
        ...op.get(acc), ...op.f64x2ExtractLane(lane), ...op.f32DemoteF64,
        ...op.f32Store(0),
      ]),
    ]),
    ...forStep(j, op.get(n4), op.get(n), 1, [
      ...op.f64Const0, ...op.set(one),
      ...op.get(x), ...op.get(j), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.set(at),
      ...forUp(r, op.get(rows), [
        ...op.get(one), ...op.get(at), ...op.f32Load(0), ...op.f64PromoteF32, ...op.f64Add, ...op.set(one),
        ...op.get(at), ...op.get(rowBytes), ...op.i32Add, ...op.set(at),
      ]),
      ...op.get(out), ...op.get(j), ...op.i32(4), ...op.i32Mul, ...op.i32Add,
      ...op.get(one), ...op.f32DemoteF64,
      ...op.f32Store(0),
    ]),
  ];
  return { name: 'colSum', params: new Array<number>(4).fill(I32), locals: [{ count: 5, type: I32 }, { count: 3, type: V128 }, { count: 1, type: F64 }], body };
}

/**
 * maxpool2x2(x, out, planes, H, W, oh, ow): the 2×2, stride-2 case with SIMD: four outputs
 * at a time are the max of two rows of eight floats (f32x4.max, NaN-propagating), then of
 * their even and odd lanes, one vector store. With ow ≥ 4 the last four of a row start at
 * ow − 4 (the overlap is written twice with the same values); narrower rows go one output
 * at a time.
 */
function maxpool2x2(): FunctionDef {
  const [x, out, planes, H, W, oh, ow] = [0, 1, 2, 3, 4, 5, 6];
  const [pl, oy, ox, r0, r1, rowBytes, o0, tx] = [7, 8, 9, 10, 11, 12, 13, 14];
  const [m, m2] = [15, 16]; // v128
  const at = (row: number, extra: number) => [...op.get(row), ...op.get(tx), ...op.i32(8), ...op.i32Mul, ...op.i32Add, ...op.f32Load(extra)];
  // outputs tx … tx + 3: x columns 2tx … 2tx + 7 of both rows
  const window4 = [
    ...op.get(o0), ...op.get(tx), ...op.i32(4), ...op.i32Mul, ...op.i32Add,
    ...op.get(r0), ...op.get(tx), ...op.i32(8), ...op.i32Mul, ...op.i32Add, ...op.v128Load(0),
    ...op.get(r1), ...op.get(tx), ...op.i32(8), ...op.i32Mul, ...op.i32Add, ...op.v128Load(0),
    ...op.f32x4Max, ...op.set(m),
    ...op.get(r0), ...op.get(tx), ...op.i32(8), ...op.i32Mul, ...op.i32Add, ...op.v128Load(16),
    ...op.get(r1), ...op.get(tx), ...op.i32(8), ...op.i32Mul, ...op.i32Add, ...op.v128Load(16),
    ...op.f32x4Max, ...op.set(m2),
    ...op.get(m), ...op.get(m2), ...lanes([0, 2, 4, 6]), ...op.get(m), ...op.get(m2), ...lanes([1, 3, 5, 7]), ...op.f32x4Max,
    ...op.v128Store(0),
  ];
  const body = [
    ...op.get(W), ...op.i32(4), ...op.i32Mul, ...op.set(rowBytes),
    ...forUp(pl, op.get(planes), forUp(oy, op.get(oh), [
      // r0 = x + (pl·H + 2·oy)·W·4, r1 the next row; o0 = out + (pl·oh + oy)·ow·4
      ...op.get(x), ...op.get(pl), ...op.get(H), ...op.i32Mul, ...op.get(oy), ...op.i32(2), ...op.i32Mul, ...op.i32Add, ...op.get(rowBytes), ...op.i32Mul, ...op.i32Add, ...op.set(r0),
      ...op.get(r0), ...op.get(rowBytes), ...op.i32Add, ...op.set(r1),
      ...op.get(out), ...op.get(pl), ...op.get(oh), ...op.i32Mul, ...op.get(oy), ...op.i32Add, ...op.get(ow), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.set(o0),
      ...op.get(ow), ...op.i32(4), ...op.i32GeU, ...op.if,
      ...forStep(ox, op.i32(0), op.get(ow), 4, [...lastColumnClamp(tx, ox, ow), ...window4]),
      ...op.else,
      ...forUp(tx, op.get(ow), [
        ...op.get(o0), ...op.get(tx), ...op.i32(4), ...op.i32Mul, ...op.i32Add,
        ...at(r0, 0), ...at(r0, 4), ...op.f32Max, ...at(r1, 0), ...at(r1, 4), ...op.f32Max, ...op.f32Max,
        ...op.f32Store(0),
      ]),
      ...op.end,
    ])),
  ];
  return { name: 'maxpool2x2', params: new Array<number>(7).fill(I32), locals: [{ count: 8, type: I32 }, { count: 2, type: V128 }], body };
}

/**
 * maxpoolBack2x2(x, y, dy, out, planes, H, W, oh, ow): maxpoolBack for 2×2 windows of
 * stride 2 with SIMD, four windows (a 2×8 block) at a time: equality masks against the
 * duplicated maxima, counts summed across the mask pairs, mask · (dy / count) per lane (one
 * division for both rows). With ow ≥ 4 the last four of a row start at ow − 4 (the overlap
 * is written twice with the same values); narrower rows go one window at a time. An odd
 * last row or column (no window covers it) is written with zeros.
 */
function maxpoolBack2x2(): FunctionDef {
  const [x, y, dy, out, planes, H, W, oh, ow] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [pl, oy, ox, r0, r1, yo, rowBytes, tx] = [9, 10, 11, 12, 13, 14, 15, 16];
  const [Y4, D4, Q, C, M0, M1, Yd] = Array.from({ length: 7 }, (_, k) => 17 + k); // v128
  const [m, d, cnt] = [24, 25, 26]; // f32
  const dupLow = [0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 4, 5, 6, 7];
  const dupHigh = [8, 9, 10, 11, 8, 9, 10, 11, 12, 13, 14, 15, 12, 13, 14, 15];
  const swapPairs = [4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11];
  const col = (base: number, row: number) => [...op.get(base), ...op.get(row), ...op.i32Add, ...op.get(tx), ...op.i32(8), ...op.i32Mul, ...op.i32Add];
  const yAt = (base: number) => [...op.get(base), ...op.get(yo), ...op.i32Add, ...op.get(tx), ...op.i32(4), ...op.i32Mul, ...op.i32Add];
  const eqM = (row: number, extra: number) => [...col(x, row), ...op.f32Load(extra), ...op.get(m), ...op.f32Eq];
  const tail = (row: number, extra: number) => [...col(out, row), ...eqM(row, extra), ...op.f32ConvertI32S, ...op.get(d), ...op.f32Mul, ...op.get(cnt), ...op.f32Div, ...op.f32Store(extra)];
  /** windows tx + 2h, tx + 2h + 1 (h = 0, 1): masks of both rows, the share dy / count, the two stores */
  const half = (h: number, dup: number[]) => [
    ...op.get(Y4), ...op.get(Y4), ...op.i8x16Shuffle(dup), ...op.set(Yd),
    ...col(x, r0), ...op.v128Load(16 * h), ...op.get(Yd), ...op.f32x4Eq, ...op.set(M0),
    ...col(x, r1), ...op.v128Load(16 * h), ...op.get(Yd), ...op.f32x4Eq, ...op.set(M1),
    // masks are −1 per match: sum the two rows, then each lane with its pair, negate
    ...op.get(M0), ...op.get(M1), ...op.i32x4Add, ...op.set(C),
    ...op.get(C), ...op.get(C), ...op.get(C), ...op.i8x16Shuffle(swapPairs), ...op.i32x4Add, ...op.f32x4ConvertI32x4S, ...op.f32x4Neg, ...op.set(C),
    ...op.get(D4), ...op.get(D4), ...op.i8x16Shuffle(dup), ...op.get(C), ...op.f32x4Div, ...op.set(Q),
    ...col(out, r0), ...op.get(M0), ...op.f32Const1, ...op.f32x4Splat, ...op.v128And, ...op.get(Q), ...op.f32x4Mul, ...op.v128Store(16 * h),
    ...col(out, r1), ...op.get(M1), ...op.f32Const1, ...op.f32x4Splat, ...op.v128And, ...op.get(Q), ...op.f32x4Mul, ...op.v128Store(16 * h),
  ];
  const body = [
    ...op.get(W), ...op.i32(4), ...op.i32Mul, ...op.set(rowBytes),
    ...forUp(pl, op.get(planes), [
      // the parts no window covers get no gradient: an odd last row, an odd last column
      ...op.get(H), ...op.get(oh), ...op.i32(2), ...op.i32Mul, ...op.i32GtU, ...op.if,
      ...op.get(out), ...op.get(pl), ...op.get(H), ...op.i32Mul, ...op.get(H), ...op.i32Add, ...op.i32(1), ...op.i32Sub, ...op.get(rowBytes), ...op.i32Mul, ...op.i32Add,
      ...op.i32(0), ...op.get(rowBytes), ...op.memoryFill,
      ...op.end,
      ...op.get(W), ...op.get(ow), ...op.i32(2), ...op.i32Mul, ...op.i32GtU, ...op.if,
      ...forUp(oy, mulI32(op.get(oh), op.i32(2)), [
        ...op.get(out), ...op.get(pl), ...op.get(H), ...op.i32Mul, ...op.get(oy), ...op.i32Add, ...op.get(rowBytes), ...op.i32Mul, ...op.i32Add,
        ...op.get(W), ...op.i32(1), ...op.i32Sub, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.f32Const0, ...op.f32Store(0),
      ]),
      ...op.end,
      ...forUp(oy, op.get(oh), [
        // byte offsets: r0 = (pl·H + 2·oy)·W·4 in x and out, yo = (pl·oh + oy)·ow·4 in y and dy
        ...op.get(pl), ...op.get(H), ...op.i32Mul, ...op.get(oy), ...op.i32(2), ...op.i32Mul, ...op.i32Add, ...op.get(rowBytes), ...op.i32Mul, ...op.set(r0),
        ...op.get(r0), ...op.get(rowBytes), ...op.i32Add, ...op.set(r1),
        ...op.get(pl), ...op.get(oh), ...op.i32Mul, ...op.get(oy), ...op.i32Add, ...op.get(ow), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.set(yo),
        ...op.get(ow), ...op.i32(4), ...op.i32GeU, ...op.if,
        ...forStep(ox, op.i32(0), op.get(ow), 4, [
          ...lastColumnClamp(tx, ox, ow),
          ...yAt(y), ...op.v128Load(0), ...op.set(Y4),
          ...yAt(dy), ...op.v128Load(0), ...op.set(D4),
          ...half(0, dupLow), ...half(1, dupHigh),
        ]),
        ...op.else,
        // one window at a time
        ...forUp(tx, op.get(ow), [
          ...yAt(y), ...op.f32Load(0), ...op.set(m),
          ...yAt(dy), ...op.f32Load(0), ...op.set(d),
          ...eqM(r0, 0), ...eqM(r0, 4), ...op.i32Add, ...eqM(r1, 0), ...op.i32Add, ...eqM(r1, 4), ...op.i32Add, ...op.f32ConvertI32S, ...op.set(cnt),
          ...tail(r0, 0), ...tail(r0, 4), ...tail(r1, 0), ...tail(r1, 4),
        ]),
        ...op.end,
      ]),
    ]),
  ];
  return { name: 'maxpoolBack2x2', params: new Array<number>(9).fill(I32), locals: [{ count: 8, type: I32 }, { count: 7, type: V128 }, { count: 3, type: F32 }], body };
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

/**
 * The address of tile (n, ty, tx) in row `row` of a matrix of tiles, base + (row·rowLen +
 * t)·4 with t = (n·th + ty)·tw + tx (the Winograd kernels' column index of a tile).
 */
function tileAddress(base: number, row: number, rowLen: number, n: number, th: number, ty: number, tw: number, tx: number): number[] {
  return [
    ...op.get(base), ...op.get(row), ...op.get(rowLen), ...op.i32Mul,
    ...op.get(n), ...op.get(th), ...op.i32Mul, ...op.get(ty), ...op.i32Add, ...op.get(tw), ...op.i32Mul, ...op.get(tx), ...op.i32Add, ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add,
  ];
}

/**
 * `base + ((n·count + ch)·rows + row)·rowBytes`: the start of row `row` (an instruction
 * list) of plane (n, ch) in [N, count, rows, …] planes whose rows are rowBytes apart.
 */
function planeRow(base: number, n: number, count: number, ch: number, rows: number, row: number[], rowBytes: number[]): number[] {
  return [...op.get(base), ...op.get(n), ...op.get(count), ...op.i32Mul, ...op.get(ch), ...op.i32Add, ...op.get(rows), ...op.i32Mul, ...row, ...op.i32Add, ...rowBytes, ...op.i32Mul, ...op.i32Add];
}

/** The first row of tile (ty, tx)'s 4×4 block in padded planes [N, C, Hp, Wp] (rows rowW bytes apart): row 2ty, column 2tx. */
function tileBlock(base: number, n: number, C: number, c: number, Hp: number, ty: number, rowW: number, tx: number): number[] {
  return [...planeRow(base, n, C, c, Hp, [...op.get(ty), ...op.i32(2), ...op.i32Mul], op.get(rowW)), ...op.get(tx), ...op.i32(8), ...op.i32Mul, ...op.i32Add];
}

/** Store the vector `value` leaves at the address in local `at`, then move `at` on by local `step` (bytes). */
function storeStep(at: number, step: number, value: number[]): number[] {
  return [...op.get(at), ...value, ...op.v128Store(0), ...op.get(at), ...op.get(step), ...op.i32Add, ...op.set(at)];
}

/** for n < N, for ch < C, for ty < th, for the row's groups of four tiles (xv = 0, 4, …): `group` */
function overTileGroups(n: number, N: number, ch: number, C: number, ty: number, th: number, xv: number, tw: number, group: number[]): number[] {
  return forUp(n, op.get(N), forUp(ch, op.get(C), forUp(ty, op.get(th), forStep(xv, op.i32(0), op.get(tw), 4, group))));
}

/**
 * `H` rows of `W` floats from the address in local `from` to the one in local `to`, each
 * moving on by its own row length (instructions leaving bytes): four floats at a time, the
 * last W mod 4 one by one (`w4` = W rounded down to 4), so nothing outside the rows is
 * written (another thread may be writing next to them).
 */
function copyRows2d(to: number, from: number, r: number, j: number, H: number, W: number, w4: number, toRow: number[], fromRow: number[]): number[] {
  const at = (base: number) => [...op.get(base), ...op.get(j), ...op.i32(4), ...op.i32Mul, ...op.i32Add];
  return forUp(r, op.get(H), [
    ...forStep(j, op.i32(0), op.get(w4), 4, [...at(to), ...at(from), ...op.v128Load(0), ...op.v128Store(0)]),
    ...forStep(j, op.get(w4), op.get(W), 1, [...at(to), ...at(from), ...op.f32Load(0), ...op.f32Store(0)]),
    ...op.get(to), ...toRow, ...op.i32Add, ...op.set(to),
    ...op.get(from), ...fromRow, ...op.i32Add, ...op.set(from),
  ]);
}

/** `a · b` on the stack (two i32 instruction lists). */
const mulI32 = (a: number[], b: number[]): number[] => [...a, ...b, ...op.i32Mul];
/** 4 · f0 · f1 · … bytes (i32 instruction lists). */
const bytesOf = (...fs: number[][]): number[] => fs.reduce((acc, f) => mulI32(acc, f), op.i32(4));
/** `x` rounded up to a multiple of 8. */
const roundUp8 = (x: number[]): number[] => [...x, ...op.i32(7), ...op.i32Add, ...op.i32(-8), ...op.i32And];

/**
 * pad2d(src, dst, planes, H, W, Hp, Wp, pt, pl): each H×W plane of src into an Hp×Wp plane
 * of dst, at row pt and column pl, zeros around it (a Winograd convolution's padded input).
 */
function pad2d(): FunctionDef {
  const [src, dst, planes, H, W, Hp, Wp, pt, pl] = Array.from({ length: 9 }, (_, k) => k);
  const [q, r, from, to, j, w4] = [9, 10, 11, 12, 13, 14];
  const body = [
    ...op.get(W), ...op.i32(-4), ...op.i32And, ...op.set(w4),
    ...forUp(q, op.get(planes), [
      ...op.get(dst), ...op.get(q), ...op.get(Hp), ...op.i32Mul, ...op.get(Wp), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.set(to),
      ...op.get(to), ...op.i32(0), ...op.get(Hp), ...op.get(Wp), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.memoryFill,
      // to: row pt, column pl of the plane; from: the source plane
      ...op.get(to), ...op.get(pt), ...op.get(Wp), ...op.i32Mul, ...op.get(pl), ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.set(to),
      ...op.get(src), ...op.get(q), ...op.get(H), ...op.i32Mul, ...op.get(W), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.set(from),
      ...copyRows2d(to, from, r, j, H, W, w4, [...op.get(Wp), ...op.i32(4), ...op.i32Mul], [...op.get(W), ...op.i32(4), ...op.i32Mul]),
    ]),
  ];
  return { name: 'pad2d', params: new Array<number>(9).fill(I32), locals: [{ count: 6, type: I32 }], body };
}

/**
 * crop2d(src, dst, planes, Hp, Wp, H, W, pt, pl): the inverse of pad2d: the H×W block at
 * row pt, column pl of each Hp×Wp plane of src into an H×W plane of dst.
 */
function crop2d(): FunctionDef {
  const [src, dst, planes, Hp, Wp, H, W, pt, pl] = Array.from({ length: 9 }, (_, k) => k);
  const [q, r, from, to, j, w4] = [9, 10, 11, 12, 13, 14];
  const body = [
    ...op.get(W), ...op.i32(-4), ...op.i32And, ...op.set(w4),
    ...forUp(q, op.get(planes), [
      // from: src + ((q·Hp + pt)·Wp + pl)·4
      ...op.get(src), ...op.get(q), ...op.get(Hp), ...op.i32Mul, ...op.get(pt), ...op.i32Add, ...op.get(Wp), ...op.i32Mul, ...op.get(pl), ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.set(from),
      ...op.get(dst), ...op.get(q), ...op.get(H), ...op.i32Mul, ...op.get(W), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.set(to),
      ...copyRows2d(to, from, r, j, H, W, w4, [...op.get(W), ...op.i32(4), ...op.i32Mul], [...op.get(Wp), ...op.i32(4), ...op.i32Mul]),
    ]),
  ];
  return { name: 'crop2d', params: new Array<number>(9).fill(I32), locals: [{ count: 6, type: I32 }], body };
}

/**
 * winogradIn(P, V, N, C, th, tw, Hp, Wp, T): the input transform of a Winograd F(2×2, 3×3)
 * convolution. Tile (ty, tx) of image n is the 4×4 block of the padded input P [N, C, Hp,
 * Wp] at row 2ty, column 2tx; its transform Bᵀ·d·B goes to V[ξ][c][t] (16 matrices of
 * C rows of T tiles, t = (n·th + ty)·tw + tx). Four neighbouring tiles at a time, one per
 * lane: each row of their blocks is four loads and four shuffles (even and odd columns).
 * The last four of a row of tiles start at tw − 4 (tw ≥ 4), so nothing reads past Wp =
 * 2·tw + 2 columns, and the tiles done twice are written twice with the same values.
 */
function winogradIn(): FunctionDef {
  const [P, V, N, C, th, tw, Hp, Wp, T] = Array.from({ length: 9 }, (_, k) => k);
  const [n, c, ty, xv, tx, row, rowW, at, xi] = Array.from({ length: 9 }, (_, k) => 9 + k);
  const e = Array.from({ length: 16 }, (_, k) => 18 + k); // e[4i + k]
  const [L0, L1, L2, L3] = [34, 35, 36, 37];
  const even = (a: number, b: number) => [...op.get(a), ...op.get(b), ...lanes([0, 2, 4, 6])];
  const odd = (a: number, b: number) => [...op.get(a), ...op.get(b), ...lanes([1, 3, 5, 7])];
  const sub = (a: number[], b: number[]) => [...a, ...b, ...op.f32x4Sub];
  const add = (a: number[], b: number[]) => [...a, ...b, ...op.f32x4Add];
  // row i of the four blocks: d0…d3 (columns 2tx + j of each tile), then d·B into e[4i…4i+3]
  const blockRow = (i: number) => [
    ...op.get(row), ...op.v128Load(0), ...op.set(L0),
    ...op.get(row), ...op.v128Load(16), ...op.set(L1),
    ...op.get(row), ...op.v128Load(8), ...op.set(L2),
    ...op.get(row), ...op.v128Load(24), ...op.set(L3),
    // d0 = even(L0, L1), d1 = odd(L0, L1), d2 = even(L2, L3), d3 = odd(L2, L3)
    ...sub(even(L0, L1), even(L2, L3)), ...op.set(e[4 * i]),
    ...add(odd(L0, L1), even(L2, L3)), ...op.set(e[4 * i + 1]),
    ...sub(even(L2, L3), odd(L0, L1)), ...op.set(e[4 * i + 2]),
    ...sub(odd(L0, L1), odd(L2, L3)), ...op.set(e[4 * i + 3]),
    ...op.get(row), ...op.get(rowW), ...op.i32Add, ...op.set(row),
  ];
  const store = (value: number[]) => storeStep(at, xi, value);
  const g = (r: number, k: number) => op.get(e[4 * r + k]);
  const group = [
    ...lastColumnClamp(tx, xv, tw),
    ...tileBlock(P, n, C, c, Hp, ty, rowW, tx), ...op.set(row),
    ...[0, 1, 2, 3].flatMap(blockRow),
    // V + ((c·T) + t0)·4, then a matrix (C·T floats) apart for each ξ = 4r + k
    ...tileAddress(V, c, T, n, th, ty, tw, tx), ...op.set(at),
    ...[0, 1, 2, 3].flatMap((k) => store(sub(g(0, k), g(2, k)))),
    ...[0, 1, 2, 3].flatMap((k) => store(add(g(1, k), g(2, k)))),
    ...[0, 1, 2, 3].flatMap((k) => store(sub(g(2, k), g(1, k)))),
    ...[0, 1, 2, 3].flatMap((k) => store(sub(g(1, k), g(3, k)))),
  ];
  const body = [
    ...op.get(Wp), ...op.i32(4), ...op.i32Mul, ...op.set(rowW),
    ...op.get(C), ...op.get(T), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.set(xi),
    ...overTileGroups(n, N, c, C, ty, th, xv, tw, group),
  ];
  return { name: 'winogradIn', params: new Array<number>(9).fill(I32), locals: [{ count: 9, type: I32 }, { count: 20, type: V128 }], body };
}

/**
 * winogradOut(M, y, bias, N, O, th, tw, oh, ow, Np, mStride): the output transform: tile t
 * of output channel o is Aᵀ·m·A of the 16 values M_ξ[o][t] (matrices mStride bytes apart,
 * rows Np floats long), + bias[o] when bias ≠ 0, written as the 2×2 block of y [N, O, oh, ow]
 * at row 2ty, column 2tx, cropped at an odd last row or column. Four neighbouring tiles at
 * a time (the last four of a row start at tw − 4): two rows of eight outputs, each two
 * shuffles and two stores.
 */
function winogradOut(): FunctionDef {
  const [M, y, bias, N, O, th, tw, oh, ow, Np, mStride] = Array.from({ length: 11 }, (_, k) => k);
  const [n, o, ty, xv, tx, at, out] = Array.from({ length: 7 }, (_, k) => 11 + k);
  const f = Array.from({ length: 8 }, (_, k) => 18 + k); // f[4a + k]
  const [Y0, Y1, b, lo, hi] = [26, 27, 28, 29, 30];
  const m = Array.from({ length: 16 }, (_, k) => 31 + k);
  const load = (xi: number) => [...op.get(at), ...op.v128Load(0), ...op.set(m[xi]), ...op.get(at), ...op.get(mStride), ...op.i32Add, ...op.set(at)];
  const v = (x: number) => op.get(x);
  const outRow = (a: number) => [
    // Y0 = f0 + f1 + f2, Y1 = f1 − f2 − f3 (row a), + bias
    ...v(f[4 * a]), ...v(f[4 * a + 1]), ...op.f32x4Add, ...v(f[4 * a + 2]), ...op.f32x4Add, ...op.set(Y0),
    ...v(f[4 * a + 1]), ...v(f[4 * a + 2]), ...op.f32x4Sub, ...v(f[4 * a + 3]), ...op.f32x4Sub, ...op.set(Y1),
    ...op.get(bias), ...op.if, ...v(Y0), ...v(b), ...op.f32x4Add, ...op.set(Y0), ...v(Y1), ...v(b), ...op.f32x4Add, ...op.set(Y1), ...op.end,
    ...v(Y0), ...v(Y1), ...lanes([0, 4, 1, 5]), ...op.set(lo),
    ...v(Y0), ...v(Y1), ...lanes([2, 6, 3, 7]), ...op.set(hi),
    ...op.get(out), ...v(lo), ...op.v128Store(0),
    // columns 2tx + 4 … 2tx + 7: the last one is past the row when ow is odd and this is the last group
    ...op.get(tx), ...op.i32(2), ...op.i32Mul, ...op.i32(8), ...op.i32Add, ...op.get(ow), ...op.i32GtU,
    ...op.if,
    ...[0, 1, 2].flatMap((lane) => [...op.get(out), ...v(hi), ...op.f32x4ExtractLane(lane), ...op.f32Store(16 + 4 * lane)]),
    ...op.else,
    ...op.get(out), ...v(hi), ...op.v128Store(16),
    ...op.end,
  ];
  const group = [
    ...lastColumnClamp(tx, xv, tw),
    // M + (o·Np + t0)·4
    ...tileAddress(M, o, Np, n, th, ty, tw, tx), ...op.set(at),
    ...Array.from({ length: 16 }, (_, xi) => load(xi)).flat(),
    // f[a][k]: a = 0: m0k + m1k + m2k; a = 1: m1k − m2k − m3k (m[4r + k])
    ...[0, 1, 2, 3].flatMap((k) => [...v(m[k]), ...v(m[4 + k]), ...op.f32x4Add, ...v(m[8 + k]), ...op.f32x4Add, ...op.set(f[k])]),
    ...[0, 1, 2, 3].flatMap((k) => [...v(m[4 + k]), ...v(m[8 + k]), ...op.f32x4Sub, ...v(m[12 + k]), ...op.f32x4Sub, ...op.set(f[4 + k])]),
    // y + (((n·O + o)·oh + 2ty)·ow + 2tx)·4
    ...op.get(y), ...op.get(n), ...op.get(O), ...op.i32Mul, ...op.get(o), ...op.i32Add, ...op.get(oh), ...op.i32Mul, ...op.get(ty), ...op.i32(2), ...op.i32Mul, ...op.i32Add,
    ...op.get(ow), ...op.i32Mul, ...op.get(tx), ...op.i32(2), ...op.i32Mul, ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.set(out),
    ...outRow(0),
    // the second row, unless it is past an odd last row
    ...op.get(ty), ...op.i32(2), ...op.i32Mul, ...op.i32(1), ...op.i32Add, ...op.get(oh), ...op.i32LtS,
    ...op.if,
    ...op.get(out), ...op.get(ow), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.set(out),
    ...outRow(1),
    ...op.end,
  ];
  const body = forUp(n, op.get(N), forUp(o, op.get(O), [
    ...op.get(bias), ...op.if, ...op.get(bias), ...op.get(o), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.v128Load32Splat(0), ...op.set(b), ...op.end,
    ...forUp(ty, op.get(th), forStep(xv, op.i32(0), op.get(tw), 4, group)),
  ]));
  return { name: 'winogradOut', params: new Array<number>(11).fill(I32), locals: [{ count: 7, type: I32 }, { count: 29, type: V128 }], body };
}

/**
 * winogradInT(M, Q, N, C, th, tw, Hp, Wp, Np, mStride): the adjoint of winogradIn: tile t
 * of channel c gets B·m·Bᵀ of its 16 values M_ξ[c][t] (matrices mStride bytes apart, rows
 * Np floats long), a 4×4 block added into the padded plane Q [N, C, Hp, Wp] at row 2ty,
 * column 2tx; neighbouring blocks overlap by two rows or columns, so each plane gathers the
 * input gradient of a Winograd convolution's padded input. Four neighbouring tiles at a
 * time: a row of their blocks is ten columns, added as two vectors and a pair of floats.
 * The last four of a row of tiles start at tw − 4 (tw ≥ 4); its lanes done by the group
 * before are zeroed, so no tile is added twice.
 */
function winogradInT(): FunctionDef {
  const [M, Q, N, C, th, tw, Hp, Wp, Np, mStride] = Array.from({ length: 10 }, (_, k) => k);
  const [n, c, ty, xv, tx, at, row, rowW] = Array.from({ length: 8 }, (_, k) => 10 + k);
  const m = Array.from({ length: 16 }, (_, k) => 18 + k); // m[4r + k]
  const t = Array.from({ length: 8 }, (_, k) => 34 + k); // rows 1 and 2 of B·m: t[4(i − 1) + k]
  const d = Array.from({ length: 4 }, (_, k) => 42 + k);
  const [mask, lo, hi, lo2, hi2] = [46, 47, 48, 49, 50];
  const v = (x: number) => op.get(x);
  const sum = (...terms: [number, number][]) => terms.slice(1).reduce((acc, [x, sign]) => [...acc, ...v(x), ...(sign > 0 ? op.f32x4Add : op.f32x4Sub)], v(terms[0][0]));
  const neg = (x: number[]) => [...x, ...op.f32x4Neg];
  /** row i of B·m·Bᵀ from the row (a0 … a3) of B·m, negated when `minus` (B·m's last row is −m3) */
  const blockRow = (a: number[], minus: boolean) => [
    ...(minus ? neg(v(a[0])) : v(a[0])), ...op.set(d[0]),
    ...(minus ? sum([a[2], 1], [a[1], -1], [a[3], -1]) : sum([a[1], 1], [a[2], -1], [a[3], 1])), ...op.set(d[1]),
    ...(minus ? sum([a[0], 1], [a[1], -1], [a[2], -1]) : sum([a[1], 1], [a[2], 1], [a[0], -1])), ...op.set(d[2]),
    ...(minus ? v(a[3]) : neg(v(a[3]))), ...op.set(d[3]),
  ];
  // the ten columns of a row of four blocks: lo, hi = columns 0–7 from (d0, d1) interleaved,
  // plus (d2, d3) interleaved two columns on; lanes 2, 3 of hi2 go to columns 8, 9
  const addRow = [
    ...v(d[0]), ...v(d[1]), ...lanes([0, 4, 1, 5]), ...op.set(lo),
    ...v(d[0]), ...v(d[1]), ...lanes([2, 6, 3, 7]), ...op.set(hi),
    ...v(d[2]), ...v(d[3]), ...lanes([0, 4, 1, 5]), ...op.set(lo2),
    ...v(d[2]), ...v(d[3]), ...lanes([2, 6, 3, 7]), ...op.set(hi2),
    ...op.get(row), ...op.get(row), ...op.v128Load(0), ...v(lo), ...op.f32x4Add, ...op.v128Zero, ...v(lo2), ...lanes([0, 1, 4, 5]), ...op.f32x4Add, ...op.v128Store(0),
    ...op.get(row), ...op.get(row), ...op.v128Load(16), ...v(hi), ...op.f32x4Add, ...v(lo2), ...v(hi2), ...lanes([2, 3, 4, 5]), ...op.f32x4Add, ...op.v128Store(16),
    ...op.get(row), ...op.get(row), ...op.v128Load64Splat(32), ...v(hi2), ...op.f32x4Add, ...op.f64x2ExtractLane(1), ...op.f64Store(32),
    ...op.get(row), ...op.get(rowW), ...op.i32Add, ...op.set(row),
  ];
  const group = [
    ...lastColumnClamp(tx, xv, tw),
    ...tileAddress(M, c, Np, n, th, ty, tw, tx), ...op.set(at),
    ...m.flatMap((reg) => [...op.get(at), ...op.v128Load(0), ...op.set(reg), ...op.get(at), ...op.get(mStride), ...op.i32Add, ...op.set(at)]),
    // a last group moved back: lanes l < xv − tx are the group before's tiles
    ...op.get(xv), ...op.get(tx), ...op.i32GtU, ...op.if,
    ...lanesFrom(mask, xv, tx),
    ...m.flatMap((reg) => [...v(reg), ...v(mask), ...op.v128And, ...op.set(reg)]),
    ...op.end,
    // B·m: rows m0, m1 − m2 + m3, m1 + m2 − m0, −m3 (m_r the vectors m[4r + k])
    ...[0, 1, 2, 3].flatMap((k) => [...sum([m[4 + k], 1], [m[8 + k], -1], [m[12 + k], 1]), ...op.set(t[k]), ...sum([m[4 + k], 1], [m[8 + k], 1], [m[k], -1]), ...op.set(t[4 + k])]),
    ...tileBlock(Q, n, C, c, Hp, ty, rowW, tx), ...op.set(row),
    ...blockRow(m.slice(0, 4), false), ...addRow,
    ...blockRow(t.slice(0, 4), false), ...addRow,
    ...blockRow(t.slice(4, 8), false), ...addRow,
    ...blockRow(m.slice(12, 16), true), ...addRow,
  ];
  const body = [
    ...op.get(Wp), ...op.i32(4), ...op.i32Mul, ...op.set(rowW),
    ...overTileGroups(n, N, c, C, ty, th, xv, tw, group),
  ];
  return { name: 'winogradInT', params: new Array<number>(10).fill(I32), locals: [{ count: 8, type: I32 }, { count: 33, type: V128 }], body };
}

/**
 * winogradWeights(w, u, Mp, Cout, Cin, swap): U_ξ = G·g·Gᵀ for each 3×3 filter g of a
 * convolution from Cin to Cout channels, into 16 matrices of Mp rows of Cin floats at u
 * (U_ξ[m][k] at u + ((ξ·Mp + m)·Cin + k)·4), G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]. The weights
 * w are [Cout, Cin, 3, 3]; with `swap`, [Cin, Cout, 3, 3] (U_ξ transposed: the matrices of
 * the adjoint's products).
 */
function winogradWeights(): FunctionDef {
  const [w, u, Mp, Cout, Cin, swap] = [0, 1, 2, 3, 4, 5];
  const [m, k, base, at, plane] = [6, 7, 8, 9, 10];
  const g = Array.from({ length: 9 }, (_, q) => 11 + q);
  const t = Array.from({ length: 12 }, (_, q) => 20 + q);
  const v = (x: number) => op.get(x);
  const half = (xs: number[]) => [...xs, ...op.f32ConstHalf, ...op.f32Mul];
  // (a + b + c)·½ and (a − b + c)·½
  const plus = (a: number, b: number, c: number) => half([...v(a), ...v(b), ...op.f32Add, ...v(c), ...op.f32Add]);
  const minus = (a: number, b: number, c: number) => half([...v(a), ...v(b), ...op.f32Sub, ...v(c), ...op.f32Add]);
  const put = (value: number[]) => [...op.get(at), ...value, ...op.f32Store(0), ...op.get(at), ...op.get(plane), ...op.i32Add, ...op.set(at)];
  const body = [
    ...op.get(Mp), ...op.get(Cin), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.set(plane),
    ...forUp(m, op.get(Cout), forUp(k, op.get(Cin), [
      // base: w + (m·Cin + k)·36, or w + (k·Cout + m)·36 swapped
      ...op.get(k), ...op.get(Cout), ...op.i32Mul, ...op.get(m), ...op.i32Add,
      ...op.get(m), ...op.get(Cin), ...op.i32Mul, ...op.get(k), ...op.i32Add,
      ...op.get(swap), ...op.select, ...op.i32(36), ...op.i32Mul, ...op.get(w), ...op.i32Add, ...op.set(base),
      ...g.flatMap((reg, q) => [...op.get(base), ...op.f32Load(4 * q), ...op.set(reg)]),
      // t = G·g (4×3)
      ...[0, 1, 2].flatMap((j) => [
        ...v(g[j]), ...op.set(t[j]),
        ...plus(g[j], g[3 + j], g[6 + j]), ...op.set(t[3 + j]),
        ...minus(g[j], g[3 + j], g[6 + j]), ...op.set(t[6 + j]),
        ...v(g[6 + j]), ...op.set(t[9 + j]),
      ]),
      // u = t·Gᵀ (4×4), ξ = 4r + col in order
      ...op.get(u), ...op.get(m), ...op.get(Cin), ...op.i32Mul, ...op.get(k), ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.set(at),
      ...[0, 1, 2, 3].flatMap((r) => [
        ...put(v(t[3 * r])),
        ...put(plus(t[3 * r], t[3 * r + 1], t[3 * r + 2])),
        ...put(minus(t[3 * r], t[3 * r + 1], t[3 * r + 2])),
        ...put(v(t[3 * r + 2])),
      ]),
    ])),
  ];
  return { name: 'winogradWeights', params: new Array<number>(6).fill(I32), locals: [{ count: 5, type: I32 }, { count: 21, type: F32 }], body };
}

/**
 * winogradGrad(D, Z, N, O, th, tw, Mp, T): the transform of output gradients for a Winograd
 * convolution's weight gradient: the 2×2 block of D [N, O, 2·th, 2·tw] (dy padded with
 * zeros to whole tiles) at row 2ty, column 2tx becomes A·D·Aᵀ (4×4, A = [1 0; 1 1; 1 −1;
 * 0 −1]) in Z[ξ][o][t] (16 matrices of Mp rows of T tiles, t = (n·th + ty)·tw + tx). Four
 * neighbouring tiles at a time, the last four of a row starting at tw − 4.
 */
function winogradGrad(): FunctionDef {
  const [D, Z, N, O, th, tw, Mp, T] = Array.from({ length: 8 }, (_, k) => k);
  const [n, o, ty, xv, tx, row, rowW, at, xi] = Array.from({ length: 9 }, (_, k) => 8 + k);
  const [lo0, hi0, lo1, hi1, p0, q0, p1, q1] = Array.from({ length: 8 }, (_, k) => 17 + k);
  const v = (x: number) => op.get(x);
  const store = (value: number[]) => storeStep(at, xi, value);
  // one row r of A·D (columns p, q on the stack as instruction lists): Z[r][·] = p, p + q, p − q, −q
  const zRow = (p: number[], q: number[]) => [
    ...store(p),
    ...store([...p, ...q, ...op.f32x4Add]),
    ...store([...p, ...q, ...op.f32x4Sub]),
    ...store([...q, ...op.f32x4Neg]),
  ];
  const group = [
    ...lastColumnClamp(tx, xv, tw),
    ...op.get(D), ...op.get(n), ...op.get(O), ...op.i32Mul, ...op.get(o), ...op.i32Add, ...op.get(th), ...op.i32Mul, ...op.get(ty), ...op.i32Add, ...op.i32(2), ...op.i32Mul,
    ...op.get(rowW), ...op.i32Mul, ...op.get(tx), ...op.i32(8), ...op.i32Mul, ...op.i32Add, ...op.i32Add, ...op.set(row),
    ...op.get(row), ...op.v128Load(0), ...op.set(lo0), ...op.get(row), ...op.v128Load(16), ...op.set(hi0),
    ...op.get(row), ...op.get(rowW), ...op.i32Add, ...op.set(row),
    ...op.get(row), ...op.v128Load(0), ...op.set(lo1), ...op.get(row), ...op.v128Load(16), ...op.set(hi1),
    // row 0 of the blocks: p0 (even columns), q0 (odd); row 1: p1, q1
    ...v(lo0), ...v(hi0), ...lanes([0, 2, 4, 6]), ...op.set(p0), ...v(lo0), ...v(hi0), ...lanes([1, 3, 5, 7]), ...op.set(q0),
    ...v(lo1), ...v(hi1), ...lanes([0, 2, 4, 6]), ...op.set(p1), ...v(lo1), ...v(hi1), ...lanes([1, 3, 5, 7]), ...op.set(q1),
    ...tileAddress(Z, o, T, n, th, ty, tw, tx), ...op.set(at),
    // A·D: rows D0, D0 + D1, D0 − D1, −D1
    ...zRow(v(p0), v(q0)),
    ...zRow([...v(p0), ...v(p1), ...op.f32x4Add], [...v(q0), ...v(q1), ...op.f32x4Add]),
    ...zRow([...v(p0), ...v(p1), ...op.f32x4Sub], [...v(q0), ...v(q1), ...op.f32x4Sub]),
    ...zRow([...v(p1), ...op.f32x4Neg], [...v(q1), ...op.f32x4Neg]),
  ];
  const body = [
    ...op.get(tw), ...op.i32(8), ...op.i32Mul, ...op.set(rowW),
    ...op.get(Mp), ...op.get(T), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.set(xi),
    ...overTileGroups(n, N, o, O, ty, th, xv, tw, group),
  ];
  return { name: 'winogradGrad', params: new Array<number>(8).fill(I32), locals: [{ count: 9, type: I32 }, { count: 8, type: V128 }], body };
}

/**
 * winogradWeightsGrad(dU, dw, Mp, Cp, O, C): the weight gradient of a Winograd convolution
 * from its summed products dU_ξ[o][c] (16 matrices of Mp rows of Cp floats): Gᵀ·dU·G (3×3,
 * the adjoint of the weight transform) into dw [O, C, 3, 3].
 */
function winogradWeightsGrad(): FunctionDef {
  const [dU, dw, Mp, Cp, O, C] = Array.from({ length: 6 }, (_, k) => k);
  const [o, c, at, plane, out] = Array.from({ length: 5 }, (_, k) => 6 + k);
  const u = Array.from({ length: 16 }, (_, k) => 11 + k);
  const h = Array.from({ length: 12 }, (_, k) => 27 + k);
  const v = (x: number) => op.get(x);
  const half = (xs: number[]) => [...xs, ...op.f32ConstHalf, ...op.f32Mul];
  // a + ½(b + c), ½(b − c), ½(b + c) + d
  const first = (a: number, b: number, c: number) => [...v(a), ...half([...v(b), ...v(c), ...op.f32Add]), ...op.f32Add];
  const middle = (b: number, c: number) => half([...v(b), ...v(c), ...op.f32Sub]);
  const last = (b: number, c: number, d: number) => [...half([...v(b), ...v(c), ...op.f32Add]), ...v(d), ...op.f32Add];
  const body = [
    ...op.get(Mp), ...op.get(Cp), ...op.i32Mul, ...op.i32(4), ...op.i32Mul, ...op.set(plane),
    ...forUp(o, op.get(O), forUp(c, op.get(C), [
      ...op.get(dU), ...op.get(o), ...op.get(Cp), ...op.i32Mul, ...op.get(c), ...op.i32Add, ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.set(at),
      // u_ξ = 0 + dU_ξ[o][c] (a −0 sum reads as +0, as it always has)
      ...u.flatMap((r, x) => [...op.f32Const0, ...op.get(at), ...op.get(plane), ...op.i32(x), ...op.i32Mul, ...op.i32Add, ...op.f32Load(0), ...op.f32Add, ...op.set(r)]),
      // h = Gᵀ·dU (3×4), column s
      ...[0, 1, 2, 3].flatMap((s2) => [
        ...first(u[s2], u[4 + s2], u[8 + s2]), ...op.set(h[s2]),
        ...middle(u[4 + s2], u[8 + s2]), ...op.set(h[4 + s2]),
        ...last(u[4 + s2], u[8 + s2], u[12 + s2]), ...op.set(h[8 + s2]),
      ]),
      // dw = h·G (3×3), row i
      ...op.get(dw), ...op.get(o), ...op.get(C), ...op.i32Mul, ...op.get(c), ...op.i32Add, ...op.i32(36), ...op.i32Mul, ...op.i32Add, ...op.set(out),
      ...[0, 1, 2].flatMap((i) => [
        ...op.get(out), ...first(h[4 * i], h[4 * i + 1], h[4 * i + 2]), ...op.f32Store(12 * i),
        ...op.get(out), ...middle(h[4 * i + 1], h[4 * i + 2]), ...op.f32Store(12 * i + 4),
        ...op.get(out), ...last(h[4 * i + 1], h[4 * i + 2], h[4 * i + 3]), ...op.f32Store(12 * i + 8),
      ]),
    ])),
  ];
  return { name: 'winogradWeightsGrad', params: new Array<number>(6).fill(I32), locals: [{ count: 5, type: I32 }, { count: 28, type: F32 }], body };
}

/**
 * winogradGradConv(P, D, dU, S, counts, units, C, O, th, tw, Hp, Wp, Mp, Cp, per): the
 * products of a Winograd convolution's weight gradient, unit by unit: unit u has counts[u]
 * images, taken `per` at a time (as many as the cache holds): their input tiles
 * (winogradIn of the padded input P) and output-gradient tiles (winogradGrad of the padded
 * dy D) side by side, T = images·th·tw columns, then for each ξ the product Z_ξ [Mp, T] ·
 * V_ξᵀ [T, C] (packBT, gemm for the unit's first images, gemmAcc adding the rest) into the
 * unit's 16 matrices of Mp × Cp at dU (which moves on by 16·Mp·Cp floats a unit). S: the
 * call's scratch, for per·th·tw tiles: V (16·C·…), Z (16·Mp·…), the packed block (Cp·…).
 */
function winogradGradConv(index: (name: string) => number): FunctionDef {
  const [P, D, dU, S, counts, units, C, O, th, tw, Hp, Wp, Mp, Cp, per] = Array.from({ length: 15 }, (_, k) => k);
  const [u, i, xi, Tn, T, V, Z, pack, imgP, imgD, left, tmax, k, first] = Array.from({ length: 14 }, (_, j) => 15 + j);
  const products = (kernel: string) =>
    forUp(xi, op.i32(16), [
      ...op.get(V), ...op.get(xi), ...bytesOf(op.get(C), op.get(T)), ...op.i32Mul, ...op.i32Add,
      ...op.get(pack), ...op.get(T), ...op.get(C), ...op.i32(0), ...op.get(Cp), ...op.i32(3), ...op.i32ShrU, ...op.call(index('packBT')),
      ...op.get(Z), ...op.get(xi), ...bytesOf(op.get(Mp), op.get(T)), ...op.i32Mul, ...op.i32Add,
      ...op.get(pack),
      ...op.get(dU), ...op.get(xi), ...bytesOf(op.get(Mp), op.get(Cp)), ...op.i32Mul, ...op.i32Add,
      ...op.get(Mp), ...op.get(T), ...op.get(Cp), ...op.i32(0), ...op.get(Cp), ...op.i32(3), ...op.i32ShrU, ...op.call(index(kernel)),
    ]);
  const body = [
    ...mulI32(op.get(th), op.get(tw)), ...op.set(Tn),
    ...mulI32(op.get(per), op.get(Tn)), ...op.set(tmax),
    ...op.get(S), ...op.set(V),
    ...op.get(V), ...bytesOf(op.i32(16), op.get(C), op.get(tmax)), ...op.i32Add, ...op.set(Z),
    ...op.get(Z), ...bytesOf(op.i32(16), op.get(Mp), op.get(tmax)), ...op.i32Add, ...op.set(pack),
    ...bytesOf(op.get(C), op.get(Hp), op.get(Wp)), ...op.set(imgP),
    ...bytesOf(op.get(O), op.get(th), op.get(tw), op.i32(4)), ...op.set(imgD),
    ...forUp(u, op.get(units), [
      ...op.get(counts), ...op.get(u), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.i32Load(0), ...op.set(left),
      ...op.i32(1), ...op.set(first),
      ...op.block, ...op.loop,
      ...op.get(left), ...op.i32Eqz, ...op.brIf(1),
      // k = min(per, left) images
      ...op.get(per), ...op.get(left), ...op.get(per), ...op.get(left), ...op.i32LeS, ...op.select, ...op.set(k),
      ...mulI32(op.get(k), op.get(Tn)), ...op.set(T),
      ...forUp(i, op.get(k), [
        ...op.get(P), ...op.get(V), ...op.get(i), ...bytesOf(op.get(Tn)), ...op.i32Mul, ...op.i32Add, ...op.i32(1), ...op.get(C), ...op.get(th), ...op.get(tw), ...op.get(Hp), ...op.get(Wp), ...op.get(T), ...op.call(index('winogradIn')),
        ...op.get(D), ...op.get(Z), ...op.get(i), ...bytesOf(op.get(Tn)), ...op.i32Mul, ...op.i32Add, ...op.i32(1), ...op.get(O), ...op.get(th), ...op.get(tw), ...op.get(Mp), ...op.get(T), ...op.call(index('winogradGrad')),
        ...op.get(P), ...op.get(imgP), ...op.i32Add, ...op.set(P),
        ...op.get(D), ...op.get(imgD), ...op.i32Add, ...op.set(D),
      ]),
      ...op.get(first), ...op.if, ...products('gemm'), ...op.else, ...products('gemmAcc'), ...op.end,
      ...op.i32(0), ...op.set(first),
      ...op.get(left), ...op.get(k), ...op.i32Sub, ...op.set(left),
      ...op.br(0),
      ...op.end, ...op.end,
      ...op.get(dU), ...bytesOf(op.i32(16), op.get(Mp), op.get(Cp)), ...op.i32Add, ...op.set(dU),
    ]),
  ];
  return { name: 'winogradGradConv', params: new Array<number>(15).fill(I32), locals: [{ count: 14, type: I32 }], body };
}

/**
 * sumBlocks(dst, n4, blocks, stride): dst[i] += Σ over 1 ≤ k < blocks of dst[i + k·stride]
 * (stride in bytes) for n4 groups of four floats: per-chunk partial sums added into the
 * first block, one block after another (each streamed once).
 */
function sumBlocks(): FunctionDef {
  const [dst, n4, blocks, stride] = [0, 1, 2, 3];
  const [k, i, from, to] = [4, 5, 6, 7];
  const body = forStep(k, op.i32(1), op.get(blocks), 1, [
    ...op.get(dst), ...op.get(k), ...op.get(stride), ...op.i32Mul, ...op.i32Add, ...op.set(from),
    ...op.get(dst), ...op.set(to),
    ...forUp(i, op.get(n4), [
      ...op.get(to), ...op.get(to), ...op.v128Load(0), ...op.get(from), ...op.v128Load(0), ...op.f32x4Add, ...op.v128Store(0),
      ...op.get(to), ...op.i32(16), ...op.i32Add, ...op.set(to),
      ...op.get(from), ...op.i32(16), ...op.i32Add, ...op.set(from),
    ]),
  ]);
  return { name: 'sumBlocks', params: new Array<number>(4).fill(I32), locals: [{ count: 4, type: I32 }], body };
}

/**
 * copyRows(src, dst, index, k, rowBytes): dst row i = src row index[i] for i < k (int32
 * indices, already checked to be in range), each row one memory.copy: a batch of samples
 * gathered from a dataset (indexSelect along the first axis).
 */
function copyRows(): FunctionDef {
  const [src, dst, index, k, rowBytes] = [0, 1, 2, 3, 4];
  const i = 5;
  const body = forUp(i, op.get(k), [
    ...op.get(dst), ...op.get(i), ...op.get(rowBytes), ...op.i32Mul, ...op.i32Add,
    ...op.get(src), ...op.get(index), ...op.get(i), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.i32Load(0), ...op.get(rowBytes), ...op.i32Mul, ...op.i32Add,
    ...op.get(rowBytes), ...op.memoryCopy,
  ]);
  return { name: 'copyRows', params: new Array<number>(5).fill(I32), locals: [{ count: 1, type: I32 }], body };
}

/**
 * The Winograd drivers' loop over images: for each of the locals' `chunks` chunks (image
 * counts as int32s at `counts`), its images in groups of up to `group`: gn = images side by
 * side, T = gn·Tn tiles, Np = T rounded up to 8 columns of products, then `body`.
 */
function overImageGroups(l: { ch: number; chunks: number; counts: number; k: number; g0: number; gn: number; group: number; T: number; Tn: number; Np: number }, body: number[]): number[] {
  const { ch, chunks, counts, k, g0, gn, group, T, Tn, Np } = l;
  return forUp(ch, op.get(chunks), [
    ...op.get(counts), ...op.get(ch), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.i32Load(0), ...op.set(k),
    ...forStep(g0, op.i32(0), op.get(k), 1, [
      // gn = min(group, k − g0)
      ...op.get(group), ...op.get(k), ...op.get(g0), ...op.i32Sub, ...op.get(group), ...op.get(k), ...op.get(g0), ...op.i32Sub, ...op.i32LeS, ...op.select, ...op.set(gn),
      ...mulI32(op.get(gn), op.get(Tn)), ...op.set(T),
      ...roundUp8(op.get(T)), ...op.set(Np),
      ...body,
      ...op.get(g0), ...op.get(group), ...op.i32Add, ...op.i32(1), ...op.i32Sub, ...op.set(g0),
    ]),
  ]);
}

/**
 * The 16 products of a Winograd driver, M_ξ [rows, Np] = A_ξ [rows, K] · B_ξ [K, T] for ξ <
 * 16 (locals: the matrices' first addresses, one after another), B_ξ read row-major as it
 * lies (gemmRows).
 */
function winogradProducts(index: (name: string) => number, xi: number, A: number, rows: number, K: number, B: number, T: number, M: number, Np: number): number[] {
  return forUp(xi, op.i32(16), [
    ...op.get(A), ...op.get(xi), ...bytesOf(op.get(rows), op.get(K)), ...op.i32Mul, ...op.i32Add,
    ...op.get(B), ...op.get(xi), ...bytesOf(op.get(K), op.get(T)), ...op.i32Mul, ...op.i32Add,
    ...op.get(M), ...op.get(xi), ...bytesOf(op.get(rows), op.get(Np)), ...op.i32Mul, ...op.i32Add,
    ...op.get(rows), ...op.get(K), ...op.get(Np), ...op.i32(0), ...op.get(Np), ...op.i32(3), ...op.i32ShrU, ...bytesOf(op.get(T)), ...op.call(index('gemmRows')),
  ]);
}

/**
 * winogradConv(P, U, y, bias, S, counts, chunks, C, O, th, tw, Hp, Wp, oh, ow, Mp, group): a
 * whole Winograd convolution, a few images at a time so that their transformed tiles and
 * products stay in the cache: for each of `chunks` chunks, counts[chunk] images (int32s
 * at `counts`) in groups of up to `group`: winogradIn of each image of the group side by
 * side into V (T = images·th·tw columns), the 16 products U_ξ·V_ξ into M (gemmRows: V_ξ
 * stays in the cache, so it is read as it lies, not packed), then winogradOut of each
 * image; P (padded images) and y move on by an image each time. S is this call's
 * scratch: V (16·C·group·th·tw floats), 8 floats, M (16·Mp·Np, Np = group·th·tw rounded
 * up to 8). `index` gives the other kernels' numbers.
 */
function winogradConv(index: (name: string) => number): FunctionDef {
  const [P, U, y, bias, S, counts, chunks, C, O, th, tw, Hp, Wp, oh, ow, Mp, group] = Array.from({ length: 17 }, (_, k) => k);
  const [ch, i, xi, Tn, Np, V, M, imgP, imgY, k, g0, gn, T] = Array.from({ length: 13 }, (_, j) => 17 + j);
  const body = [
    ...mulI32(op.get(th), op.get(tw)), ...op.set(Tn),
    ...op.get(S), ...op.set(V),
    // M after V and 8 floats that the products' last panel may read past V's end
    ...op.get(V), ...bytesOf(op.i32(16), op.get(C), op.get(Tn), op.get(group)), ...op.i32Add, ...op.i32(32), ...op.i32Add, ...op.set(M),
    ...bytesOf(op.get(C), op.get(Hp), op.get(Wp)), ...op.set(imgP),
    ...bytesOf(op.get(O), op.get(oh), op.get(ow)), ...op.set(imgY),
    ...overImageGroups({ ch, chunks, counts, k, g0, gn, group, T, Tn, Np }, [
      ...forUp(i, op.get(gn), [
        ...op.get(P), ...op.get(V), ...op.get(i), ...bytesOf(op.get(Tn)), ...op.i32Mul, ...op.i32Add, ...op.i32(1), ...op.get(C), ...op.get(th), ...op.get(tw), ...op.get(Hp), ...op.get(Wp), ...op.get(T), ...op.call(index('winogradIn')),
        ...op.get(P), ...op.get(imgP), ...op.i32Add, ...op.set(P),
      ]),
      ...winogradProducts(index, xi, U, Mp, C, V, T, M, Np),
      ...forUp(i, op.get(gn), [
        ...op.get(M), ...op.get(i), ...bytesOf(op.get(Tn)), ...op.i32Mul, ...op.i32Add,
        ...op.get(y), ...op.get(bias), ...op.i32(1), ...op.get(O), ...op.get(th), ...op.get(tw), ...op.get(oh), ...op.get(ow), ...op.get(Np), ...bytesOf(op.get(Mp), op.get(Np)), ...op.call(index('winogradOut')),
        ...op.get(y), ...op.get(imgY), ...op.i32Add, ...op.set(y),
      ]),
    ]),
  ];
  return { name: 'winogradConv', params: new Array<number>(17).fill(I32), locals: [{ count: 13, type: I32 }], body };
}

/**
 * winogradInputGradConv(D, U, dx, S, counts, chunks, C, O, th, tw, Hp, Wp, H, W, oh, ow, pt,
 * pl, Cp, group): the input gradient of winogradConv's convolution in the adjoint form of
 * Winograd's method, a few images at a time: each image's dy [O, oh, ow] padded to whole
 * tiles (pad2d) and transformed, A·dY·Aᵀ (winogradGrad), into Z (T = images·th·tw columns),
 * the 16 products U_ξᵀ [Cp, O] (winogradWeights swapped, at U) · Z_ξ (gemmRows, Z_ξ read
 * as it lies) into M, then per image B·M·Bᵀ added up into a zeroed padded plane block
 * (winogradInT) and its H×W part at row pt, column pl copied out to dx (crop2d). S is this
 * call's scratch: the padded dy (4·O·th·tw floats), Z (16·O·group·th·tw), 8 floats, M
 * (16·Cp·Np, Np = group·th·tw rounded up to 8), the padded planes (C·Hp·Wp).
 */
function winogradInputGradConv(index: (name: string) => number): FunctionDef {
  const [D, U, dx, S, counts, chunks, C, O, th, tw, Hp, Wp, H, W, oh, ow, pt, pl, Cp, group] = Array.from({ length: 20 }, (_, k) => k);
  const [ch, i, xi, Tn, Np, Dp, Z, M, Qp, imgD, imgX, k, g0, gn, T] = Array.from({ length: 15 }, (_, j) => 20 + j);
  const th2 = mulI32(op.get(th), op.i32(2));
  const tw2 = mulI32(op.get(tw), op.i32(2));
  const body = [
    ...mulI32(op.get(th), op.get(tw)), ...op.set(Tn),
    ...op.get(S), ...op.set(Dp),
    ...op.get(Dp), ...bytesOf(op.i32(4), op.get(O), op.get(Tn)), ...op.i32Add, ...op.set(Z),
    // M after Z and 8 floats that the products' last panel may read past Z's end
    ...op.get(Z), ...bytesOf(op.i32(16), op.get(O), op.get(Tn), op.get(group)), ...op.i32Add, ...op.i32(32), ...op.i32Add, ...op.set(M),
    ...op.get(M), ...bytesOf(op.i32(16), op.get(Cp), roundUp8(mulI32(op.get(Tn), op.get(group)))), ...op.i32Add, ...op.set(Qp),
    ...bytesOf(op.get(O), op.get(oh), op.get(ow)), ...op.set(imgD),
    ...bytesOf(op.get(C), op.get(H), op.get(W)), ...op.set(imgX),
    ...overImageGroups({ ch, chunks, counts, k, g0, gn, group, T, Tn, Np }, [
      ...forUp(i, op.get(gn), [
        ...op.get(D), ...op.get(Dp), ...op.get(O), ...op.get(oh), ...op.get(ow), ...th2, ...tw2, ...op.i32(0), ...op.i32(0), ...op.call(index('pad2d')),
        ...op.get(Dp), ...op.get(Z), ...op.get(i), ...bytesOf(op.get(Tn)), ...op.i32Mul, ...op.i32Add, ...op.i32(1), ...op.get(O), ...op.get(th), ...op.get(tw), ...op.get(O), ...op.get(T), ...op.call(index('winogradGrad')),
        ...op.get(D), ...op.get(imgD), ...op.i32Add, ...op.set(D),
      ]),
      ...winogradProducts(index, xi, U, Cp, O, Z, T, M, Np),
      ...forUp(i, op.get(gn), [
        ...op.get(Qp), ...op.i32(0), ...bytesOf(op.get(C), op.get(Hp), op.get(Wp)), ...op.memoryFill,
        ...op.get(M), ...op.get(i), ...bytesOf(op.get(Tn)), ...op.i32Mul, ...op.i32Add,
        ...op.get(Qp), ...op.i32(1), ...op.get(C), ...op.get(th), ...op.get(tw), ...op.get(Hp), ...op.get(Wp), ...op.get(Np), ...bytesOf(op.get(Cp), op.get(Np)), ...op.call(index('winogradInT')),
        ...op.get(Qp), ...op.get(dx), ...op.get(C), ...op.get(Hp), ...op.get(Wp), ...op.get(H), ...op.get(W), ...op.get(pt), ...op.get(pl), ...op.call(index('crop2d')),
        ...op.get(dx), ...op.get(imgX), ...op.i32Add, ...op.set(dx),
      ]),
    ]),
  ];
  return { name: 'winogradInputGradConv', params: new Array<number>(20).fill(I32), locals: [{ count: 15, type: I32 }], body };
}

/** The four floats at (local at) + a·rowW + 4j bytes: row a of a window's rows, shifted by j columns. */
function shiftedRow(at: number, rowW: number, a: number, j: number): number[] {
  const down = a === 0 ? [] : [...op.get(rowW), ...(a === 1 ? [] : [...op.i32(a), ...op.i32Mul]), ...op.i32Add];
  return [...op.get(at), ...down, ...op.v128Load(4 * j)];
}

/**
 * For `rows` (1 or 2) neighbouring output rows of a 3×3 window: each of the rows + 2 input
 * rows at local `at` (rowW bytes apart) shifted by 0–2 columns, loaded once into local `X`,
 * then `use(s, q, X)` for every output row s it feeds with window position q = 3i + j.
 */
function windowRows(at: number, rowW: number, X: number, rows: number, use: (s: number, q: number) => number[]): number[] {
  const out: number[] = [];
  for (let a = 0; a < rows + 2; a++) {
    for (let j = 0; j < 3; j++) {
      out.push(...shiftedRow(at, rowW, a, j), ...op.set(X));
      for (let s = 0; s < rows; s++) if (a - s >= 0 && a - s <= 2) out.push(...use(s, 3 * (a - s) + j));
    }
  }
  return out;
}

/** `for (r = 0; r + 1 < limit; r += 2) pair; if (r < limit) single` over the local r (limit ≥ 1). */
function rowPairs(r: number, limit: number, pair: number[], single: number[]): number[] {
  return [
    ...forStep(r, op.i32(0), [...op.get(limit), ...op.i32(1), ...op.i32Sub], 2, pair),
    ...op.get(r), ...op.get(limit), ...op.i32LtS, ...op.if, ...single, ...op.end,
  ];
}

/**
 * conv3x3(x, w, bias, y, N, C, Hp, Wp, O): a 3×3, stride-1 convolution computed directly,
 * for few input channels (where a patch matrix would be K = 9·C short and the product's
 * layout change cost more than the products): x [N, C, Hp, Wp] already padded, w [O, C,
 * 3, 3], y [N, O, Hp − 2, Wp − 2] (+ bias[o] when bias ≠ 0). For each image, output
 * channel and input channel the nine weights stay in registers while two output rows of
 * four at a time take their multiply-adds from four input rows, each shifted row loaded
 * once; channels after the first add to y. The last four of a row start at ow − 4 (ow ≥
 * 4): the first channel writes its overlap twice with the same values, the others add
 * only the lanes not done.
 */
function conv3x3(fma: boolean): FunctionDef {
  const [x, w, bias, y, N, C, Hp, Wp, O] = Array.from({ length: 9 }, (_, k) => k);
  const [n, o, c, r, xv, tx, xrow, yrow, rowW, oh, ow, wat, xat, yat, owB, sat] = Array.from({ length: 16 }, (_, k) => 9 + k);
  const k9 = Array.from({ length: 9 }, (_, q) => 25 + q);
  const [acc0, acc1, mask, b, X] = [34, 35, 36, 37, 38];
  const acc = [acc0, acc1];
  const store = (s: number) => [
    ...op.get(yat), ...(s === 0 ? [] : [...op.get(owB), ...op.i32Add]), ...op.set(sat),
    ...op.get(c), ...op.i32Eqz, ...op.if,
    ...op.get(sat), ...op.get(acc[s]), ...op.get(b), ...op.f32x4Add, ...op.v128Store(0),
    ...op.else,
    ...op.get(xv), ...op.get(tx), ...op.i32GtU, ...op.if, ...op.get(acc[s]), ...op.get(mask), ...op.v128And, ...op.set(acc[s]), ...op.end,
    ...op.get(sat), ...op.get(sat), ...op.v128Load(0), ...op.get(acc[s]), ...op.f32x4Add, ...op.v128Store(0),
    ...op.end,
  ];
  const rowsAt = [
    ...planeRow(x, n, C, c, Hp, op.get(r), op.get(rowW)), ...op.set(xrow),
    ...planeRow(y, n, O, o, oh, op.get(r), op.get(owB)), ...op.set(yrow),
  ];
  const rows = (R: number) => [
    ...rowsAt,
    ...forStep(xv, op.i32(0), op.get(ow), 4, [
      ...lastColumnClamp(tx, xv, ow),
      ...op.get(xv), ...op.get(tx), ...op.i32GtU, ...op.if, ...lanesFrom(mask, xv, tx), ...op.end,
      ...op.get(xrow), ...op.get(tx), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.set(xat),
      ...op.get(yrow), ...op.get(tx), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.set(yat),
      ...acc.slice(0, R).flatMap((a) => [...op.v128Zero, ...op.set(a)]),
      ...windowRows(xat, rowW, X, R, (s2, q) => multiplyAdd(fma, acc[s2], op.get(k9[q]), op.get(X))),
      ...acc.slice(0, R).flatMap((_, s2) => store(s2)),
    ]),
  ];
  const body = [
    ...op.get(Hp), ...op.i32(2), ...op.i32Sub, ...op.set(oh),
    ...op.get(Wp), ...op.i32(2), ...op.i32Sub, ...op.set(ow),
    ...op.get(Wp), ...op.i32(4), ...op.i32Mul, ...op.set(rowW),
    ...op.get(ow), ...op.i32(4), ...op.i32Mul, ...op.set(owB),
    ...forUp(n, op.get(N), forUp(o, op.get(O), [
      ...op.v128Zero, ...op.set(b),
      ...op.get(bias), ...op.if, ...op.get(bias), ...op.get(o), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.v128Load32Splat(0), ...op.set(b), ...op.end,
      ...forUp(c, op.get(C), [
        // the filter w[o][c]: w + (o·C + c)·36
        ...op.get(w), ...op.get(o), ...op.get(C), ...op.i32Mul, ...op.get(c), ...op.i32Add, ...op.i32(36), ...op.i32Mul, ...op.i32Add, ...op.set(wat),
        ...k9.flatMap((reg, q) => [...op.get(wat), ...op.v128Load32Splat(4 * q), ...op.set(reg)]),
        ...rowPairs(r, oh, rows(2), rows(1)),
      ]),
    ])),
  ];
  return { name: 'conv3x3', params: new Array<number>(9).fill(I32), locals: [{ count: 16, type: I32 }, { count: 14, type: V128 }], body };
}

/**
 * conv3x3Grad(x, dy, dw, N, C, Hp, Wp, Ostride, O): conv3x3's weight gradient for output
 * channels o < O (dy [N, Ostride, Hp − 2, Wp − 2] from the first of them, dw [O, C, 3, 3]):
 * dw[o][c][i][j] = Σ over images and outputs of dy · x shifted by (i, j), nine vector
 * sums per (o, c) over all images, two rows of dy at a time (each shifted input row loaded
 * once for both), each sum reduced across its lanes at the end. The last four of a row
 * start at ow − 4, the lanes done before masked off; the sums' order does not depend on
 * how output channels are split across threads.
 */
function conv3x3Grad(fma: boolean): FunctionDef {
  const [x, dy, dw, N, C, Hp, Wp, Ostride, O] = Array.from({ length: 9 }, (_, k) => k);
  const [n, o, c, r, xv, tx, xrow, drow, rowW, oh, ow, out, xat, owB] = Array.from({ length: 14 }, (_, k) => 9 + k);
  const s9 = Array.from({ length: 9 }, (_, q) => 23 + q);
  const [d0, d1, mask, X] = [32, 33, 34, 35];
  const d = [d0, d1];
  const rows = (R: number) => [
    ...planeRow(x, n, C, c, Hp, op.get(r), op.get(rowW)), ...op.set(xrow),
    ...planeRow(dy, n, Ostride, o, oh, op.get(r), op.get(owB)), ...op.set(drow),
    ...forStep(xv, op.i32(0), op.get(ow), 4, [
      ...lastColumnClamp(tx, xv, ow),
      ...d.slice(0, R).flatMap((reg, s2) => [...op.get(drow), ...(s2 === 0 ? [] : [...op.get(owB), ...op.i32Add]), ...op.get(tx), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.v128Load(0), ...op.set(reg)]),
      ...op.get(xv), ...op.get(tx), ...op.i32GtU, ...op.if, ...lanesFrom(mask, xv, tx), ...d.slice(0, R).flatMap((reg) => [...op.get(reg), ...op.get(mask), ...op.v128And, ...op.set(reg)]), ...op.end,
      ...op.get(xrow), ...op.get(tx), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.set(xat),
      ...windowRows(xat, rowW, X, R, (s2, q) => multiplyAdd(fma, s9[q], op.get(d[s2]), op.get(X))),
    ]),
  ];
  const laneSum = (reg: number) => [
    ...op.get(reg), ...op.f32x4ExtractLane(0), ...op.get(reg), ...op.f32x4ExtractLane(1), ...op.f32Add,
    ...op.get(reg), ...op.f32x4ExtractLane(2), ...op.get(reg), ...op.f32x4ExtractLane(3), ...op.f32Add, ...op.f32Add,
  ];
  const body = [
    ...op.get(Hp), ...op.i32(2), ...op.i32Sub, ...op.set(oh),
    ...op.get(Wp), ...op.i32(2), ...op.i32Sub, ...op.set(ow),
    ...op.get(Wp), ...op.i32(4), ...op.i32Mul, ...op.set(rowW),
    ...op.get(ow), ...op.i32(4), ...op.i32Mul, ...op.set(owB),
    ...forUp(o, op.get(O), forUp(c, op.get(C), [
      ...s9.flatMap((reg) => [...op.v128Zero, ...op.set(reg)]),
      ...forUp(n, op.get(N), rowPairs(r, oh, rows(2), rows(1))),
      // dw + (o·C + c)·36
      ...op.get(dw), ...op.get(o), ...op.get(C), ...op.i32Mul, ...op.get(c), ...op.i32Add, ...op.i32(36), ...op.i32Mul, ...op.i32Add, ...op.set(out),
      ...s9.flatMap((reg, q) => [...op.get(out), ...laneSum(reg), ...op.f32Store(4 * q)]),
    ])),
  ];
  return { name: 'conv3x3Grad', params: new Array<number>(9).fill(I32), locals: [{ count: 14, type: I32 }, { count: 13, type: V128 }], body };
}

/**
 * dropoutMask(out, n, st, cut, scale): n float32 values of an inverted-dropout mask at out —
 * scale where a uniform draw on [0, 1), rounded to float32, is ≥ cut (a float64 on [0, 1]),
 * else 0 — from the xoshiro128** state of four uint32s at st, advanced in place: each draw
 * is @ml/tensor's (27 high bits of one output, 26 of the next, a float64 over 2⁵³), redrawn
 * when it rounds up to 1 in float32, so the mask and the state after it equal the
 * JavaScript generator's bit for bit.
 */
function dropoutMask(): FunctionDef {
  const [out, n, st, cut, scale] = [0, 1, 2, 3, 4];
  const [i, s0, s1, s2, s3, r, t, hi, bits] = Array.from({ length: 9 }, (_, k) => 5 + k);
  const [u] = [14]; // f32
  const g = (x: number) => op.get(x);
  const xorInto = (a: number, b: number) => [...g(a), ...g(b), ...op.i32Xor, ...op.set(a)];
  // r = rotl(s1·5, 7)·9, then the state moves on one step
  const step = [
    ...g(s1), ...op.i32(5), ...op.i32Mul, ...op.i32(7), ...op.i32Rotl, ...op.i32(9), ...op.i32Mul, ...op.set(r),
    ...g(s1), ...op.i32(9), ...op.i32Shl, ...op.set(t),
    ...xorInto(s2, s0), ...xorInto(s3, s1), ...xorInto(s1, s2), ...xorInto(s0, s3), ...xorInto(s2, t),
    ...g(s3), ...op.i32(11), ...op.i32Rotl, ...op.set(s3),
  ];
  const draw = [
    ...op.block, ...op.loop,
    ...step, ...g(r), ...op.i32(5), ...op.i32ShrU, ...op.set(hi),
    ...step,
    // u = float32((hi·2²⁶ + (r >>> 6)) / 2⁵³); again while it rounds up to 1
    ...g(hi), ...op.f64ConvertI32U, ...op.f64Const(2 ** 26), ...op.f64Mul, ...g(r), ...op.i32(6), ...op.i32ShrU, ...op.f64ConvertI32U, ...op.f64Add,
    ...op.f64Const(2 ** -53), ...op.f64Mul, ...op.f32DemoteF64, ...op.set(u),
    ...g(u), ...op.f32Const1, ...op.f32Ge, ...op.brIf(0),
    ...op.end, ...op.end,
  ];
  const body = [
    ...g(scale), ...op.i32ReinterpretF32, ...op.set(bits),
    ...[s0, s1, s2, s3].flatMap((reg, k) => [...g(st), ...op.i32Load(4 * k), ...op.set(reg)]),
    ...forUp(i, g(n), [
      ...draw,
      // scale's bits where u ≥ cut, else 0, without a branch (a float select would be one,
      // taken at random): the bits and −(u ≥ cut)
      ...g(out), ...g(i), ...op.i32(4), ...op.i32Mul, ...op.i32Add,
      ...g(bits), ...op.i32(0), ...g(u), ...op.f64PromoteF32, ...g(cut), ...op.f64Ge, ...op.i32Sub, ...op.i32And, ...op.i32Store(0),
    ]),
    ...[s0, s1, s2, s3].flatMap((reg, k) => [...g(st), ...g(reg), ...op.i32Store(4 * k)]),
  ];
  return { name: 'dropoutMask', params: [I32, I32, I32, F64, F32], locals: [{ count: 9, type: I32 }, { count: 1, type: F32 }], body };
}

export const MAX_PAGES = 65536; // 4 GiB of 64 KiB pages

/**
 * The kernels' module; `shared` memory lets worker threads instantiate it on the same
 * data; `fma` builds the GEMM with relaxed SIMD's fused multiply-add.
 */
export function kernelModule(shared: boolean, fma = false): Uint8Array<ArrayBuffer> {
  const kernels = [gemm(fma), adam(), maxpool(), maxpoolBack(), maxpool2x2(), patches('im2row'), patches('row2im'), packB(), packBT(), transpose(), swapBlocks(), relu(false), relu(true), maxpoolBack2x2(), rowSum(), rowSum(true), fill32(), binary('add'), binary('sub'), binary('mul'), binary('div'), colSum(), pad2d(), winogradIn(), winogradOut(), winogradWeights(), winogradGrad(), winogradWeightsGrad(), sumBlocks(), copyRows(), gemm(fma, true), gemm(fma, false, true), crop2d(), winogradInT(), conv3x3(fma), conv3x3Grad(fma), dropoutMask(), fmaPeak(fma)];
  const index = (name: string) => kernels.findIndex((f) => f.name === name);
  return moduleBytes([...kernels, winogradConv(index), winogradGradConv(index), winogradInputGradConv(index)], { initialPages: 16, maximumPages: shared ? 16384 : MAX_PAGES, shared });
}



/** f32x4.relaxed_madd alone in a function: whether the engine validates relaxed SIMD. */
const RELAXED_PROBE = Uint8Array.from([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b, // type (v128, v128, v128) → v128
  0x03, 0x02, 0x01, 0x00, // one function of that type
  0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x85, 0x02, 0x0b, // a·b + c
]);

/**
 * Whether fused multiply-add (relaxed SIMD) is available: shipped in current browsers and
 * Node ≥ 22; Node 20 has it behind a V8 flag, which this turns on when `enable` is set
 * (process-wide; it only adds the relaxed instructions).
 */
export function relaxedSimd(enable: boolean): boolean {
  if (typeof WebAssembly !== 'object') return false;
  if (WebAssembly.validate(RELAXED_PROBE)) return true;
  if (!enable) return false;
  const p = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const v8 = p?.getBuiltinModule?.('node:v8') as { setFlagsFromString?: (flags: string) => void } | undefined;
  v8?.setFlagsFromString?.('--experimental-wasm-relaxed-simd');
  return WebAssembly.validate(RELAXED_PROBE);
}
