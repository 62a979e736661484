import { CpuBackend, contiguousStrides, hostData, isContiguousView, patchOutputSize, sizeOf, zeros, type DataId, type Im2ColParams, type Kernel, type TypedArray, type UnaryOp, type View } from '@ml/tensor';
import { WasmGemm } from './gemm.js';
import { GEMM_ROWS } from './kernels.js';

export interface WasmOptions {
  threads?: number;
  name?: string;
  /** fused multiply-add in the product (default: where the engine has relaxed SIMD) */
  fma?: boolean;
}

/** Below this many multiply-adds the copies into WebAssembly memory cost more than they save. */
const MIN_WORK = 4096;

interface CpuData {
  values: TypedArray;
}

/**
 * The WebAssembly backend: float32 matrix products (dense layers, attention, recurrent
 * cells), convolutions forward and backward, max pooling, relu and the fused Adam step run
 * on the SIMD kernels of `kernels.ts`; every other primitive, and other dtypes, are the CPU
 * backend's own code on the same buffers (plain typed arrays, so `toBackend` between the
 * two is a copy). Operands are copied into the module's memory for each kernel.
 */
export class WasmBackend extends CpuBackend {
  override readonly name: string;
  readonly gemm: WasmGemm;
  /** how many matmuls ran on the kernel and how many fell back, for the debug log and tests */
  readonly stats = { wasm: 0, fallback: 0 };

  /**
   * `threads`: for large products (default: the machine's cores in Node, 1 elsewhere);
   * `name`: the registry name (default 'wasm'; another one lets two configurations coexist).
   */
  constructor(options: WasmOptions = {}) {
    super();
    this.name = options.name ?? 'wasm';
    this.gemm = new WasmGemm(options);
  }

  /** where the last primitive ran: 'wasm', or the CPU code and why (for the debug log) */
  #route: string | null = null;

  /**
   * Where the last primitive called on this backend ran, for the ML_DEBUG=1 log: 'wasm' for
   * the WebAssembly kernels, 'wasm → cpu code (why)' for an op or a case they do not cover.
   */
  lastRoute(): string {
    const r = this.#route ?? 'cpu code (no wasm kernel)';
    this.#route = null;
    return r === 'wasm' ? r : `wasm → ${r}`;
  }

  /** The view itself when contiguous, else a contiguous copy (a broadcast gradient, a transposed view). */
  #dense(v: View): View {
    if (isContiguousView(v)) return v;
    return { data: this.copy(v), dtype: v.dtype, shape: v.shape, strides: contiguousStrides(v.shape), offset: 0 };
  }

  #cpu<T>(why: string, run: () => T): T {
    const out = run();
    this.#route = `cpu code (${why})`;
    return out;
  }

  /** the threads large products run on */
  get threads(): number {
    return this.gemm.threads;
  }

  /** relu of a float32 tensor on the SIMD kernel; every other unary op is the CPU code. */
  override unary(op: UnaryOp, x: View): DataId {
    this.#route = 'wasm';
    if (op !== 'relu' || x.dtype !== 'float32') return this.#cpu(op !== 'relu' ? 'no wasm kernel' : `${x.dtype}`, () => super.unary(op, x));
    x = this.#dense(x);
    const n = sizeOf(x.shape);
    const n4 = (n + 3) >> 2;
    const f = this.gemm.scratch(4 * 8 * n4);
    f.set(values(x).subarray(x.offset, x.offset + n), 0);
    this.gemm.kernels.relu(0, 16 * n4, n4);
    return this.#copyOut(f, 4 * n4, n);
  }

  /** The relu gradient on the SIMD kernel (float32). */
  override reluBackward(x: View, dy: View): DataId {
    this.#route = 'wasm';
    if (!allFloat32(x, dy)) return this.#cpu('not float32', () => super.reluBackward(x, dy));
    [x, dy] = [this.#dense(x), this.#dense(dy)];
    const n = sizeOf(x.shape);
    const n4 = (n + 3) >> 2;
    const f = this.gemm.scratch(4 * 12 * n4);
    f.set(values(x).subarray(x.offset, x.offset + n), 0);
    f.set(values(dy).subarray(dy.offset, dy.offset + n), 4 * n4);
    this.gemm.kernels.reluGrad(0, 16 * n4, 32 * n4, n4);
    return this.#copyOut(f, 8 * n4, n);
  }

  /** The convolution's patch matrix (see CpuBackend.im2row) built by the kernel, for float32. */
  override im2row(x: View, p: Im2ColParams): DataId {
    this.#route = 'wasm';
    if (x.dtype !== 'float32') return this.#cpu(x.dtype, () => super.im2row(x, p));
    x = this.#dense(x);
    const g = patchGeometry(x.shape as Shape4, p);
    const f = this.gemm.scratch(4 * (g.rowsAt + g.rows + 4));
    f.set(values(x).subarray(x.offset, x.offset + g.n), 0);
    this.#patches('im2row', g, p);
    return this.#copyOut(f, g.rowsAt, g.rows);
  }

  /** The adjoint of im2row on the kernel, for float32. */
  override row2im(rows: View, outShape: Shape4, p: Im2ColParams): DataId {
    this.#route = 'wasm';
    if (rows.dtype !== 'float32') return this.#cpu(rows.dtype, () => super.row2im(rows, outShape, p));
    rows = this.#dense(rows);
    const g = patchGeometry(outShape, p);
    const f = this.gemm.scratch(4 * (g.rowsAt + g.rows + 4));
    f.fill(0, 0, g.n);
    f.set(values(rows).subarray(rows.offset, rows.offset + g.rows), g.rowsAt);
    this.#patches('row2im', g, p);
    return this.#copyOut(f, 0, g.n);
  }

  /**
   * Run im2row or row2im on the image at `imgAt` and the rows at `rowsAt` (floats), rows
   * `rowStride` floats apart (default: packed, C·kh·kw).
   */
  #patches(kernel: 'im2row' | 'row2im', g: ReturnType<typeof patchGeometry>, p: Im2ColParams, imgAt = 0, rowsAt = g.rowsAt, rowStride = g.R): void {
    const [kh, kw] = p.kernel;
    const vec = p.dilation[1] === 1 && kw <= 4 ? 1 : 0;
    const skip = 4 * (rowStride - g.R);
    this.gemm.kernels[kernel](4 * imgAt, 4 * rowsAt, g.N, g.C, g.H, g.W, kh, kw, p.stride[0], p.stride[1], p.dilation[0], p.dilation[1], p.pad[0], p.pad[2], g.oh, g.ow, vec, skip, p.padValue);
  }

  // ---- convolution in WebAssembly memory: the patch matrix, the product and the layout
  // changes run on the kernels, with one copy in per operand and one copy out

  override conv2d(x: View, w: View, bias: View | null, p: Im2ColParams): DataId {
    this.#route = 'wasm';
    if (!allFloat32(x, w, ...(bias ? [bias] : []))) return this.#cpu('not float32', () => super.conv2d(x, w, bias, p));
    [x, w] = [this.#dense(x), this.#dense(w)];
    if (bias) bias = this.#dense(bias);
    const g = patchGeometry(x.shape as Shape4, p);
    const O = w.shape[0];
    const { R, L, NL } = g;
    const [Mp, Np] = [roundUp(NL, GEMM_ROWS), roundUp(O, 8)];
    const [xAt, rowsAt, wAt, packAt, cAt, outAt, biasAt, end] = layout([g.n + 4, Mp * R + 4, O * R, Np * R, Mp * Np, g.N * O * L, O]);
    const f = this.gemm.scratch(4 * end);
    f.set(values(x).subarray(x.offset, x.offset + g.n), xAt);
    this.#patches('im2row', g, p, xAt, rowsAt);
    f.fill(0, rowsAt + NL * R, rowsAt + Mp * R);
    f.set(values(w).subarray(w.offset, w.offset + O * R), wAt);
    this.gemm.kernels.packBT(4 * wAt, 4 * packAt, R, O); // B = wᵀ, stored transposed
    this.gemm.run(4 * rowsAt, 4 * packAt, 4 * cAt, Mp, R, Np);
    if (bias) f.set(values(bias).subarray(bias.offset, bias.offset + O), biasAt);
    this.gemm.kernels.toChannels(4 * cAt, 4 * outAt, g.N, L, O, Np, bias ? 4 * biasAt : 0);
    return this.#copyOut(f, outAt, g.N * O * L);
  }

  override conv2dBackwardInput(dy: View, w: View, xShape: Shape4, p: Im2ColParams): DataId {
    this.#route = 'wasm';
    if (!allFloat32(dy, w)) return this.#cpu('not float32', () => super.conv2dBackwardInput(dy, w, xShape, p));
    [dy, w] = [this.#dense(dy), this.#dense(w)];
    const g = patchGeometry(xShape, p);
    const O = dy.shape[1];
    const { R, L, NL } = g;
    const [Mp, Np] = [roundUp(NL, GEMM_ROWS), roundUp(R, 8)];
    const [dyAt, aAt, wAt, packAt, cAt, imgAt, end] = layout([g.N * O * L, Mp * O, O * R, Np * O, Mp * Np + 4, g.n]);
    const f = this.gemm.scratch(4 * end);
    f.set(values(dy).subarray(dy.offset, dy.offset + g.N * O * L), dyAt);
    this.gemm.kernels.toPositions(4 * dyAt, 4 * aAt, g.N, O, L);
    f.fill(0, aAt + NL * O, aAt + Mp * O);
    f.set(values(w).subarray(w.offset, w.offset + O * R), wAt);
    this.gemm.kernels.packB(4 * wAt, 4 * packAt, O, R);
    this.gemm.run(4 * aAt, 4 * packAt, 4 * cAt, Mp, O, Np);
    f.fill(0, imgAt, imgAt + g.n);
    this.#patches('row2im', g, p, imgAt, cAt, Np); // the product's rows are Np wide

    return this.#copyOut(f, imgAt, g.n);
  }

  override conv2dBackwardWeight(dy: View, x: View, p: Im2ColParams): DataId {
    this.#route = 'wasm';
    if (!allFloat32(dy, x)) return this.#cpu('not float32', () => super.conv2dBackwardWeight(dy, x, p));
    [dy, x] = [this.#dense(dy), this.#dense(x)];
    const g = patchGeometry(x.shape as Shape4, p);
    const O = dy.shape[1];
    const { R, L, NL } = g;
    const [Mp, Np] = [roundUp(O, GEMM_ROWS), roundUp(R, 8)];
    const [xAt, rowsAt, packAt, dyAt, aAt, cAt, end] = layout([g.n + 4, NL * R + 4, Np * NL, g.N * O * L, Mp * NL, Mp * Np]);
    const f = this.gemm.scratch(4 * end);
    f.set(values(x).subarray(x.offset, x.offset + g.n), xAt);
    this.#patches('im2row', g, p, xAt, rowsAt);
    this.gemm.kernels.packB(4 * rowsAt, 4 * packAt, NL, R);
    f.set(values(dy).subarray(dy.offset, dy.offset + g.N * O * L), dyAt);
    this.gemm.kernels.swapBlocks(4 * dyAt, 4 * aAt, g.N, O, L); // [N, O, L] → [O, N·L]
    f.fill(0, aAt + O * NL, aAt + Mp * NL);
    this.gemm.run(4 * aAt, 4 * packAt, 4 * cAt, Mp, NL, Np);
    const out = this.scratch('float32', O * R) as Float32Array;
    if (Np === R) out.set(f.subarray(cAt, cAt + O * R));
    else for (let o = 0; o < O; o++) out.set(f.subarray(cAt + o * Np, cAt + o * Np + R), o * R);
    return { values: out } satisfies CpuData as unknown as DataId;
  }

  #copyOut(f: Float32Array, at: number, n: number): DataId {
    const out = this.scratch('float32', n);
    out.set(f.subarray(at, at + n));
    return { values: out } satisfies CpuData as unknown as DataId;
  }

  /** Max pooling on the kernel when windows tile the image (stride = kernel, no padding or dilation). */
  override maxPool2d(x: View, p: Im2ColParams): DataId {
    this.#route = 'wasm';
    const g = tiledPool(x, p);
    if (g === null) return this.#cpu('windows do not tile the image, or not float32', () => super.maxPool2d(x, p));
    x = this.#dense(x);
    const f = this.gemm.scratch(4 * (g.n + g.L));
    f.set(values(x).subarray(x.offset, x.offset + g.n), 0);
    if (g.kh === 2 && g.kw === 2) this.gemm.kernels.maxpool2x2(0, 4 * g.n, g.planes, g.H, g.W, g.oh, g.ow);
    else this.gemm.kernels.maxpool(0, 4 * g.n, g.planes, g.H, g.W, g.kh, g.kw, g.oh, g.ow);
    return this.#copyOut(f, g.n, g.L);
  }

  override maxPool2dBackward(x: View, y: View, dy: View, p: Im2ColParams): DataId {
    this.#route = 'wasm';
    const g = tiledPool(x, p);
    if (g === null || !allFloat32(y, dy)) return this.#cpu('windows do not tile the image, or not float32', () => super.maxPool2dBackward(x, y, dy, p));
    [x, y, dy] = [this.#dense(x), this.#dense(y), this.#dense(dy)];
    const { n, L } = g;
    const f = this.gemm.scratch(4 * (2 * n + 2 * L));
    f.set(values(x).subarray(x.offset, x.offset + n), 0);
    f.set(values(y).subarray(y.offset, y.offset + L), n);
    f.set(values(dy).subarray(dy.offset, dy.offset + L), n + L);
    const o = n + 2 * L;
    f.fill(0, o, o + n); // elements no window covers (a ragged edge) get no gradient
    if (g.kh === 2 && g.kw === 2) this.gemm.kernels.maxpoolBack2x2(0, 4 * n, 4 * (n + L), 4 * o, g.planes, g.H, g.W, g.oh, g.ow);
    else this.gemm.kernels.maxpoolBack(0, 4 * n, 4 * (n + L), 4 * o, g.planes, g.H, g.W, g.kh, g.kw, g.oh, g.ow);
    return this.#copyOut(f, o, n);
  }

  /**
   * The fused Adam step of @ml/optim on the SIMD kernel (float32): m and v are updated in
   * place, the new parameter values returned. Registered as the 'adamUpdate' kernel.
   */
  readonly adamUpdate: Kernel = ([p, grad, m, v], a) => {
    const arrays = [p, grad, m, v].map((t) => (t.dtype === 'float32' ? hostData(t) : null));
    if (arrays.some((x) => x === null)) return null;
    const [P, G, M, V] = arrays as Float32Array[];
    const n = p.size;
    const seg = (n + 3) & ~3;
    const f = this.gemm.scratch(4 * 5 * seg);
    f.set(P, 0);
    f.set(G, seg);
    f.set(M, 2 * seg);
    f.set(V, 3 * seg);
    const num = (k: string) => a[k] as number;
    this.gemm.kernels.adam(0, 4 * seg, 8 * seg, 12 * seg, 16 * seg, seg / 4, num('b1'), 1 - num('b1'), num('b2'), 1 - num('b2'), num('sbc2'), num('eps'), num('stepSize'), num('decay'), num('l2'), num('sign'));
    M.set(f.subarray(2 * seg, 2 * seg + n));
    V.set(f.subarray(3 * seg, 3 * seg + n));
    const next = zeros(p.shape, { dtype: 'float32', backend: this.name });
    (hostData(next) as Float32Array).set(f.subarray(4 * seg, 4 * seg + n));
    return next;
  };

  override matmul(a: View, b: View): DataId {
    this.#route = 'wasm';
    const [B, M, K] = a.shape;
    const N = b.shape[2];
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || B * M * K * N < MIN_WORK) {
      this.stats.fallback++;
      return this.#cpu(a.dtype !== 'float32' || b.dtype !== 'float32' ? `${a.dtype} operands` : 'small product', () => super.matmul(a, b));
    }
    this.stats.wasm++;
    const out = this.scratch('float32', B * M * N) as Float32Array;
    const A = { data: (a.data as CpuData).values, offset: a.offset, sb: a.strides[0], si: a.strides[1], sj: a.strides[2] };
    const Bs = { data: (b.data as CpuData).values, offset: b.offset, sb: b.strides[0], si: b.strides[1], sj: b.strides[2] };
    this.gemm.matmul(A, Bs, B, M, K, N, out);
    return { values: out } satisfies CpuData as unknown as DataId;
  }
}

const values = (v: View): TypedArray => (v.data as CpuData).values;


/** The geometry of a float32 max pooling whose windows tile the planes, else null. */
function tiledPool(x: View, p: Im2ColParams) {
  const [kh, kw] = p.kernel;
  const tiles = p.stride[0] === kh && p.stride[1] === kw && p.dilation[0] === 1 && p.dilation[1] === 1 && p.pad.every((q) => q === 0);
  if (!tiles || x.dtype !== 'float32') return null;
  const [N, C, H, W] = x.shape;
  const [oh, ow] = patchOutputSize(x.shape, p);
  return { planes: N * C, H, W, kh, kw, oh, ow, n: N * C * H * W, L: N * C * oh * ow };
}

type Shape4 = readonly [number, number, number, number];

/** Sizes of an image [N,C,H,W] and its patch matrix; the rows start after the image plus 16 bytes. */
function patchGeometry(shape: Shape4, p: Im2ColParams) {
  const [N, C, H, W] = shape;
  const [kh, kw] = p.kernel;
  const [oh, ow] = patchOutputSize(shape, p);
  const n = N * C * H * W;
  const [R, L] = [C * kh * kw, oh * ow];
  // R: values per patch row; L: output positions per image; NL: patch rows in all
  return { N, C, H, W, oh, ow, n, R, L, NL: N * L, rows: N * L * R, rowsAt: (n + 4 + 3) & ~3 };
}

const roundUp = (n: number, m: number): number => Math.ceil(n / m) * m;

function allFloat32(...views: View[]): boolean {
  return views.every((v) => v.dtype === 'float32');
}

/** Consecutive regions of the given sizes (floats, each start a multiple of 4): their starts, then the end. */
function layout(sizes: number[]): number[] {
  const at: number[] = [];
  let end = 0;
  for (const n of sizes) {
    at.push(end);
    end += roundUp(n, 4);
  }
  return [...at, end];
}
