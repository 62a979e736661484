import { CpuBackend, hostData, zeros, type DataId, type Im2ColParams, type Kernel, type TypedArray, type View } from '@ml/tensor';
import { WasmGemm } from './gemm.js';

export interface WasmOptions {
  threads?: number;
  name?: string;
}

/** Below this many multiply-adds the copies into WebAssembly memory cost more than they save. */
const MIN_WORK = 4096;

interface CpuData {
  values: TypedArray;
}

/**
 * The WebAssembly backend: float32 matrix products (and so dense layers, attention,
 * recurrent cells and convolutions, which lower to im2col + matmul) run on the SIMD GEMM
 * kernel; every other primitive, and float64/int matmuls, are the CPU backend's own code
 * on the same buffers (plain typed arrays, so `toBackend` between the two is a copy).
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

  /** the threads large products run on */
  get threads(): number {
    return this.gemm.threads;
  }

  /** The convolution's patch matrix (see CpuBackend.im2row) built by the kernel, for float32. */
  override im2row(x: View, p: Im2ColParams): DataId {
    if (x.dtype !== 'float32' || !contiguous(x)) return super.im2row(x, p);
    const g = patchGeometry(x.shape as Shape4, p);
    const f = this.gemm.scratch(4 * (g.rowsAt + g.rows + 4));
    f.set(values(x).subarray(x.offset, x.offset + g.n), 0);
    this.#patches('im2row', g, p);
    const out = this.scratch('float32', g.rows);
    out.set(this.gemm.scratch(0).subarray(g.rowsAt, g.rowsAt + g.rows));
    return { values: out } satisfies CpuData as unknown as DataId;
  }

  /** The adjoint of im2row on the kernel, for float32. */
  override row2im(rows: View, outShape: Shape4, p: Im2ColParams): DataId {
    if (rows.dtype !== 'float32' || !contiguous(rows)) return super.row2im(rows, outShape, p);
    const g = patchGeometry(outShape, p);
    const f = this.gemm.scratch(4 * (g.rowsAt + g.rows + 4));
    f.fill(0, 0, g.n);
    f.set(values(rows).subarray(rows.offset, rows.offset + g.rows), g.rowsAt);
    this.#patches('row2im', g, p);
    const out = this.scratch('float32', g.n);
    out.set(this.gemm.scratch(0).subarray(0, g.n));
    return { values: out } satisfies CpuData as unknown as DataId;
  }

  #patches(kernel: 'im2row' | 'row2im', g: ReturnType<typeof patchGeometry>, p: Im2ColParams): void {
    const [kh, kw] = p.kernel;
    const vec = p.dilation[1] === 1 && kw <= 4 ? 1 : 0;
    this.gemm.kernels[kernel](0, 4 * g.rowsAt, g.N, g.C, g.H, g.W, kh, kw, p.stride[0], p.stride[1], p.dilation[0], p.dilation[1], p.pad[0], p.pad[2], g.oh, g.ow, vec, p.padValue);
  }

  /** Max pooling on the kernel when windows tile the image (stride = kernel, no padding or dilation). */
  override maxPool2d(x: View, p: Im2ColParams): DataId {
    const g = tiledPool(x, p);
    if (g === null) return super.maxPool2d(x, p);
    const f = this.gemm.scratch(4 * (g.n + g.L));
    f.set(values(x).subarray(x.offset, x.offset + g.n), 0);
    if (g.kh === 2 && g.kw === 2) this.gemm.kernels.maxpool2x2(0, 4 * g.n, g.planes, g.H, g.W, g.oh, g.ow);
    else this.gemm.kernels.maxpool(0, 4 * g.n, g.planes, g.H, g.W, g.kh, g.kw, g.oh, g.ow);
    const out = this.scratch('float32', g.L);
    out.set(f.subarray(g.n, g.n + g.L));
    return { values: out } satisfies CpuData as unknown as DataId;
  }

  override maxPool2dBackward(x: View, y: View, dy: View, p: Im2ColParams): DataId {
    const g = tiledPool(x, p);
    if (g === null || !contiguous(y) || !contiguous(dy)) return super.maxPool2dBackward(x, y, dy, p);
    const { n, L } = g;
    const f = this.gemm.scratch(4 * (2 * n + 2 * L));
    f.set(values(x).subarray(x.offset, x.offset + n), 0);
    f.set(values(y).subarray(y.offset, y.offset + L), n);
    f.set(values(dy).subarray(dy.offset, dy.offset + L), n + L);
    const o = n + 2 * L;
    f.fill(0, o, o + n); // elements no window covers (a ragged edge) get no gradient
    this.gemm.kernels.maxpoolBack(0, 4 * n, 4 * (n + L), 4 * o, g.planes, g.H, g.W, g.kh, g.kw, g.oh, g.ow);
    const out = this.scratch('float32', n);
    out.set(f.subarray(o, o + n));
    return { values: out } satisfies CpuData as unknown as DataId;
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
    const [B, M, K] = a.shape;
    const N = b.shape[2];
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || B * M * K * N < MIN_WORK) {
      this.stats.fallback++;
      return super.matmul(a, b);
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

function contiguous(v: View): boolean {
  let s = 1;
  for (let i = v.shape.length - 1; i >= 0; i--) {
    if (v.shape[i] !== 1 && v.strides[i] !== s) return false;
    s *= v.shape[i];
  }
  return true;
}

/** The geometry of a float32 max pooling whose windows tile the planes, else null. */
function tiledPool(x: View, p: Im2ColParams) {
  const [kh, kw] = p.kernel;
  const tiles = p.stride[0] === kh && p.stride[1] === kw && p.dilation[0] === 1 && p.dilation[1] === 1 && p.pad.every((q) => q === 0);
  if (!tiles || x.dtype !== 'float32' || !contiguous(x)) return null;
  const [N, C, H, W] = x.shape;
  const [oh, ow] = [Math.floor(H / kh), Math.floor(W / kw)];
  return { planes: N * C, H, W, kh, kw, oh, ow, n: N * C * H * W, L: N * C * oh * ow };
}

type Shape4 = readonly [number, number, number, number];

/** Sizes of an image [N,C,H,W] and its patch matrix; the rows start after the image plus 16 bytes. */
function patchGeometry(shape: Shape4, p: Im2ColParams) {
  const [N, C, H, W] = shape;
  const [kh, kw] = p.kernel;
  const oh = Math.floor((H + p.pad[0] + p.pad[1] - p.dilation[0] * (kh - 1) - 1) / p.stride[0]) + 1;
  const ow = Math.floor((W + p.pad[2] + p.pad[3] - p.dilation[1] * (kw - 1) - 1) / p.stride[1]) + 1;
  const n = N * C * H * W;
  return { N, C, H, W, oh, ow, n, rows: N * oh * ow * C * kh * kw, rowsAt: (n + 4 + 3) & ~3 };
}
