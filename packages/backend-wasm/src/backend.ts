import { checkOptions, CpuBackend, contiguousStrides, isContiguousView, optionKeys, patchOutputSize, rowStride, sizeOf, withArraySource, type AdamStep, type ArraySource, type BinaryOp, type DataId, type DType, type HeapInfo, type Im2ColParams, type ReduceOp, type SaveForBackward, type TypedArray, type UnaryOp, type View } from '@ml/tensor';
import { WasmGemm, type KernelExports } from './gemm.js';
import { MemoryFullError } from './heap.js';
import { BINARY_KERNELS, GEMM_ROWS } from './kernels.js';

export interface WasmOptions {
  threads?: number;
  name?: string;
  /** fused multiply-add in the product (default: where the engine has relaxed SIMD) */
  fma?: boolean;
  /**
   * 3×3 stride-1 convolutions with at least 8 channels in and out (forward, input and weight
   * gradients) by Winograd's F(2×2, 3×3) (default true; false: all through patch matrices)
   */
  winograd?: boolean;
  /**
   * 3×3 stride-1 convolutions of at most 4 input channels (an image's first layer: forward,
   * input and weight gradients) computed directly (default true; false: through patch
   * matrices)
   */
  direct?: boolean;
  /**
   * bytes the module memory may grow to (default and most: 1 GiB); tensors take up to 7/8
   * of it, the rest is kept for the kernels' work, and tensors beyond that are ordinary arrays
   */
  maxMemory?: number;
}

/** WasmOptions' keys, for the options check. */
export const WASM_KEYS = optionKeys<WasmOptions>()(['threads', 'name', 'fma', 'winograd', 'direct', 'maxMemory']);

/** Below this many multiply-adds the product's packing costs more than the kernel saves. */
const MIN_WORK = 4096;

interface CpuData {
  values: TypedArray;
}

/** The primitives that allocate: each runs in a scope that gives back its temporaries. */
const PRIMITIVES = [
  'fill', 'copy', 'cast', 'unary', 'binary', 'where', 'reduce', 'argReduce', 'matmul', 'gather', 'scatterAdd', 'pad', 'concat',
  'im2col', 'col2im', 'im2row', 'row2im', 'conv2d', 'conv2dBackwardInput', 'conv2dBackwardWeight', 'maxPool2d', 'maxPool2dBackward', 'reluBackward', 'logSoftmaxLast',
  'softmaxCrossEntropy', 'softmaxCrossEntropyBackward',
] as const satisfies readonly (keyof CpuBackend)[];

/**
 * The WebAssembly backend. Its tensors live in the module's memory (where the memory can
 * be shared, i.e. wherever SharedArrayBuffer exists), allocated by `gemm.heap`, which
 * reuses freed blocks; `memory()` reports that memory under `backends.wasm.heap`. Float32
 * matrix products (dense layers, attention, recurrent cells), convolutions forward and
 * backward, max pooling, relu and the fused Adam step run on the SIMD kernels of
 * `kernels.ts` straight on those blocks; every other primitive, and other dtypes, are the
 * CPU backend's own code writing into blocks of the same memory. Each primitive runs in a
 * scope: its work blocks and temporaries go back to the allocator when it returns.
 */
export class WasmBackend extends CpuBackend {
  override readonly name: string;
  readonly gemm: WasmGemm;
  /**
   * how many matmuls ran on the kernel and how many fell back, and how many convolution
   * primitives ran by Winograd's method and directly, for the debug log and tests
   */
  readonly stats = { wasm: 0, fallback: 0, winograd: 0, direct: 0 };

  /** arrays and work blocks (addresses) taken by the running primitives, as stacks (each scope owns the part above its mark) */
  readonly #arrays: TypedArray[] = [];
  readonly #blocks: number[] = [];
  /** how many primitives are running (nested); arrays are tracked only inside one */
  #depth = 0;
  readonly #source: ArraySource;

  /** whether 3×3 stride-1 convolutions with enough channels run by Winograd's F(2×2, 3×3) */
  readonly winograd: boolean;
  /** whether 3×3 stride-1 convolutions of few input channels run directly (conv3x3) */
  readonly direct: boolean;

  /**
   * `threads`: for large products (default: the machine's cores in Node, 1 elsewhere);
   * `name`: the registry name (default 'wasm'; another one lets two configurations coexist).
   */
  constructor(options: WasmOptions = {}) {
    super();
    checkOptions('WasmBackend', options, WASM_KEYS);
    this.name = options.name ?? 'wasm';
    this.winograd = options.winograd ?? true;
    this.direct = options.direct ?? true;
    this.gemm = new WasmGemm({ threads: options.threads, fma: options.fma, maxMemory: options.maxMemory });
    const heap = this.gemm.heap;
    this.#source = {
      array: (dtype: DType, n: number) => {
        const a = heap.array(dtype, n);
        if (a !== null && this.#depth > 0) this.#arrays.push(a);
        return a;
      },
      filled: (dtype: DType, n: number, value: number) => {
        const a = this.#source.array(dtype, n);
        if (a !== null) this.#fill(a, dtype, value);
        return a;
      },
    };
    const self = this as unknown as Record<string, (...args: unknown[]) => DataId>;
    const cpu = CpuBackend.prototype as unknown as Record<string, (...args: unknown[]) => DataId>;
    for (const name of PRIMITIVES) {
      const method = self[name];
      self[name] = (...args: unknown[]) => {
        try {
          return this.#scoped(() => method.apply(this, args), dataValues);
        } catch (e) {
          if (!(e instanceof MemoryFullError)) throw e;
          // no room for a kernel's work blocks: the CPU code needs none
          const out = this.#scoped(() => cpu[name].apply(this, args), dataValues);
          this.#route = 'cpu code (module memory full)';
          return out;
        }
      };
    }
  }

  /**
   * Run `fn` with the CPU code's arrays coming from the module memory; when it returns, give
   * back every block it took except the one holding its result (which joins the enclosing
   * scope, if any, until that one returns it or disposes of it).
   */
  #scoped<T>(fn: () => T, result: (out: T) => TypedArray | null): T {
    const [a0, b0] = [this.#arrays.length, this.#blocks.length];
    this.#depth++;
    let keep: TypedArray | null = null;
    try {
      const out = withArraySource(this.#source, fn);
      keep = result(out);
      return out;
    } finally {
      this.#depth--;
      const heap = this.gemm.heap;
      const mine = keep !== null && heap.owns(keep) ? keep : null;
      let kept: TypedArray | undefined;
      for (let i = a0; i < this.#arrays.length; i++) {
        const a = this.#arrays[i];
        if (mine !== null && within(mine, a)) kept = a;
        else heap.freeArray(a);
      }
      for (let i = b0; i < this.#blocks.length; i++) heap.free(this.#blocks[i]);
      this.#arrays.length = a0;
      this.#blocks.length = b0;
      if (kept !== undefined && this.#depth > 0) this.#arrays.push(kept);
    }
  }

  /** A work block of `bytes` for the running primitive (its address), given back when it returns. */
  #work(bytes: number): number {
    const at = this.gemm.alloc(bytes);
    this.#blocks.push(at);
    return at;
  }

  /**
   * The byte address of a float32 operand: where it lies when it is in the memory and
   * contiguous, else a contiguous copy in a work block.
   */
  #in(v: View): number {
    if (!isContiguousView(v)) v = { ...v, data: this.copy(v), strides: contiguousStrides(v.shape), offset: 0 };
    const a = values(v);
    if (this.gemm.heap.owns(a)) return a.byteOffset + 4 * v.offset;
    const n = sizeOf(v.shape);
    const at = this.#work(4 * n);
    this.gemm.heap.f32.set(a.subarray(v.offset, v.offset + n), at >> 2);
    return at;
  }

  /**
   * A float32 output of `n` elements for a kernel to write: its byte address, and the
   * result once written (copied out of a work block when the array is not in the memory).
   * `zero`: the kernel adds into it.
   */
  #out(n: number, zero = false): [number, () => DataId] {
    const a = this.scratch('float32', n) as Float32Array;
    const result = () => wrap(a);
    const heap = this.gemm.heap;
    if (heap.owns(a)) {
      if (zero) this.gemm.kernels.fill32(a.byteOffset, n, 0);
      return [a.byteOffset, result];
    }
    const at = this.#work(4 * n);
    if (zero) this.gemm.kernels.fill32(at, n, 0);
    return [at, () => {
      a.set(heap.f32.subarray(at >> 2, (at >> 2) + n));
      return result();
    }];
  }

  /** Fill an array of the memory on the kernel (TypedArray.fill is slow on a shared memory's views). */
  #fill(a: TypedArray, dtype: DType, value: number): void {
    if (dtype === 'float32' || dtype === 'int32') this.gemm.kernels.fill32(a.byteOffset, a.length, bits32(dtype, value));
    else if (dtype === 'float64' && Object.is(value, 0)) this.gemm.kernels.fill32(a.byteOffset, 2 * a.length, 0);
    else a.fill(value);
  }

  /** A copy of a tensor's data as an ordinary array (slice() of a shared memory's view is slow). */
  override readSync(data: DataId): TypedArray {
    const v = (data as CpuData).values;
    if (!this.gemm.heap.owns(v)) return super.readSync(data);
    const out = new (v.constructor as new (n: number) => TypedArray)(v.length);
    out.set(v);
    return out;
  }

  override read(data: DataId): Promise<TypedArray> {
    return Promise.resolve(this.readSync(data));
  }

  /** Tensor data: a block of the memory where it can live there (else an ordinary array). */
  override write(values: TypedArray, dtype: DType): DataId {
    const a = this.gemm.heap.array(dtype, values.length);
    if (a === null) return super.write(values, dtype);
    a.set(values);
    return wrap(a);
  }

  override dispose(data: DataId): void {
    const d = data as { values: TypedArray | null };
    if (d.values === null || !this.gemm.heap.owns(d.values)) return super.dispose(data);
    this.gemm.heap.freeArray(d.values);
    d.values = null;
  }

  /** The module memory: bytes reserved, in live blocks and in free blocks. */
  heap(): HeapInfo {
    return this.gemm.heap.info();
  }

  /** where the last primitive ran: 'wasm', or the CPU code and why (for the debug log) */
  #route: string | null = null;

  /**
   * Where the last primitive called on this backend ran, for the ML_DEBUG=1 log: 'wasm' for
   * the WebAssembly kernels ('wasm (Winograd)' for a convolution done that way), 'wasm → cpu
   * code (why)' for an op or a case they do not cover.
   */
  lastRoute(): string {
    const r = this.#route ?? 'cpu code (no wasm kernel)';
    this.#route = null;
    return r.startsWith('wasm') ? r : `wasm → ${r}`;
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
    const n = sizeOf(x.shape);
    const xAt = this.#in(x);
    const [outAt, done] = this.#out(n);
    const n4 = (n + 3) >> 2;
    this.gemm.parallel('relu', [xAt, outAt, n4], { count: 2, ptrs: [[0, 16], [1, 16]] }, n4, 8 * n);
    return done();
  }

  /**
   * add, sub, mul and div of float32 on the SIMD kernel when both operands lie in the
   * memory with evenly spaced rows, each row contiguous or one value broadcast along it
   * (tensors of one shape, a bias over a batch, a per-row scale); every other case is the
   * CPU code. Bit-equal to it (IEEE single-precision results either way).
   */
  override binary(op: BinaryOp, a: View, b: View, outDtype: DType): DataId {
    this.#route = 'wasm';
    const plan = outDtype === 'float32' && allFloat32(a, b) ? this.#binaryPlan(op, a, b) : null;
    if (plan === null) return this.#cpu('no wasm kernel for this case', () => super.binary(op, a, b, outDtype));
    const [kernel, rows, n, ra, rb, mode] = plan;
    const at = (v: View) => values(v).byteOffset + 4 * v.offset;
    const [outAt, done] = this.#out(rows * n);
    kernel(at(a), at(b), outAt, rows, n, 4 * ra, 4 * rb, mode);
    return done();
  }

  /** The kernel, rows, row length, row strides (floats) and mode (see kernels.ts) for a binary op, or null for the CPU code. */
  #binaryPlan(op: BinaryOp, a: View, b: View): [KernelExports['add'], number, number, number, number, number] | null {
    if (!(op in BINARY_KERNELS)) return null;
    const nd = a.shape.length;
    const n = nd === 0 ? 0 : a.shape[nd - 1];
    const [ra, rb] = n < 4 ? [null, null] : [rowStride(a), rowStride(b)];
    if (ra === null || rb === null) return null;
    const [sa, sb] = [a.strides[nd - 1], b.strides[nd - 1]];
    const mode = sa === 1 && sb === 1 ? 0 : sa === 1 && sb === 0 ? 1 : sa === 0 && sb === 1 ? 2 : -1;
    const heap = this.gemm.heap;
    if (mode < 0 || !heap.owns(values(a)) || !heap.owns(values(b))) return null;
    return [this.gemm.kernels[op as keyof typeof BINARY_KERNELS], sizeOf(a.shape) / n, n, ra, rb, mode];
  }

  /**
   * Sums of float32 over trailing axes (a bias's gradient over positions) or over leading
   * axes (over a batch, rows of 4 or more) on the SIMD kernels, accumulated in
   * float64 like the CPU code (the trailing sums in another order: equal to rounding);
   * every other reduction is the CPU code.
   */
  override reduce(op: ReduceOp, x: View, axes: readonly number[]): DataId {
    this.#route = 'wasm';
    const nd = x.shape.length;
    const some = axes.length > 0 && axes.length < nd;
    const trailing = some && axes.every((a, i) => a === nd - axes.length + i);
    const leading = some && axes.every((a, i) => a === i);
    const n = sizeOf(x.shape.slice(nd - axes.length));
    const cols = sizeOf(x.shape.slice(axes.length));
    const whole = nd > 0 && axes.length === nd && n >= WHOLE_SUM_MIN;
    if (op !== 'sum' || x.dtype !== 'float32' || !((trailing && n >= 16) || (leading && cols >= 4) || whole)) return this.#cpu('no wasm kernel for this reduction', () => super.reduce(op, x, axes));
    const xAt = this.#in(x);
    if (whole) {
      // float64 sums of 64 equal parts across the threads (rowSum64), then of the parts
      // and the last n mod 64 values in order, rounded once (the CPU code sums in float64
      // too, one value after another: the same float32 result but for a float64 rounding
      // landing on a float32 tie)
      const len = Math.floor(n / WHOLE_SUM_PARTS);
      const partsAt = this.#work(8 * WHOLE_SUM_PARTS);
      this.gemm.parallel('rowSum64', [xAt, partsAt, WHOLE_SUM_PARTS, len], { count: 2, ptrs: [[0, 4 * len], [1, 8]] }, WHOLE_SUM_PARTS, 4 * n);
      const f = this.gemm.heap.f32;
      const parts = new Float64Array(f.buffer, partsAt, WHOLE_SUM_PARTS);
      let acc = 0;
      for (let k = 0; k < WHOLE_SUM_PARTS; k++) acc += parts[k];
      for (let i = WHOLE_SUM_PARTS * len; i < n; i++) acc += f[(xAt >> 2) + i];
      const [outAt, done] = this.#out(1);
      this.gemm.heap.f32[outAt >> 2] = acc;
      return done();
    }
    if (trailing) {
      const rows = sizeOf(x.shape.slice(0, nd - axes.length));
      const [outAt, done] = this.#out(rows);
      this.gemm.parallel('rowSum', [xAt, outAt, rows, n], { count: 2, ptrs: [[0, 4 * n], [1, 4]] }, rows, 4 * rows * n);
      return done();
    }
    // over leading axes (a bias's gradient over a batch): column sums
    const [outAt, done] = this.#out(cols);
    this.gemm.kernels.colSum(xAt, outAt, sizeOf(x.shape) / cols, cols);
    return done();
  }

  /** The relu gradient on the SIMD kernel (float32). */
  override reluBackward(x: View, dy: View): DataId | null {
    this.#route = 'wasm';
    if (!allFloat32(x, dy)) return this.#cpu('not float32', () => super.reluBackward(x, dy));
    const n = sizeOf(x.shape);
    const [xAt, dyAt] = [this.#in(x), this.#in(dy)];
    const [outAt, done] = this.#out(n);
    const n4 = (n + 3) >> 2;
    this.gemm.parallel('reluGrad', [xAt, dyAt, outAt, n4], { count: 3, ptrs: [[0, 16], [1, 16], [2, 16]] }, n4, 12 * n);
    return done();
  }

  /** The convolution's patch matrix (see CpuBackend.im2row) built by the kernel, for float32. */
  override im2row(x: View, p: Im2ColParams): DataId {
    this.#route = 'wasm';
    if (x.dtype !== 'float32') return this.#cpu(x.dtype, () => super.im2row(x, p));
    const g = patchGeometry(x.shape as Shape4, p);
    const xAt = this.#in(x);
    const [rowsAt, done] = this.#out(g.rows);
    this.#patches('im2row', g, p, xAt, rowsAt);
    return done();
  }

  /** The adjoint of im2row on the kernel, for float32. */
  override row2im(rows: View, outShape: Shape4, p: Im2ColParams): DataId {
    this.#route = 'wasm';
    if (rows.dtype !== 'float32') return this.#cpu(rows.dtype, () => super.row2im(rows, outShape, p));
    const g = patchGeometry(outShape, p);
    const rowsAt = this.#in(rows);
    const [imgAt, done] = this.#out(g.n, true);
    this.#patches('row2im', g, p, imgAt, rowsAt);
    return done();
  }

  /**
   * Run im2row or row2im between the image at byte address `imgAt` and the rows at
   * `rowsAt`, rows `rowStride` floats apart (default: packed, C·kh·kw).
   */
  #patches(kernel: 'im2row' | 'row2im', g: ReturnType<typeof patchGeometry>, p: Im2ColParams, imgAt: number, rowsAt: number, rowStride = g.R): void {
    const [kh, kw] = p.kernel;
    const vec = p.dilation[1] === 1 && kw <= 4 ? 1 : 0;
    const skip = 4 * (rowStride - g.R);
    const args = [imgAt, rowsAt, g.N, g.C, g.H, g.W, kh, kw, p.stride[0], p.stride[1], p.dilation[0], p.dilation[1], p.pad[0], p.pad[2], g.oh, g.ow, vec, skip, p.padValue];
    // by images; with vectors, each range's last image runs without them (their last
    // store reaches into the next image, which another thread may have written)
    const [imageBytes, rowsBytes] = [4 * g.C * g.H * g.W, 4 * g.L * rowStride];
    const plan = { count: 2, ptrs: [[0, imageBytes], [1, rowsBytes]] as const, last: vec ? ([16, 0] as const) : undefined, floats: [18] };
    this.gemm.parallel(kernel, args, plan, g.N, g.N * (imageBytes + rowsBytes));
  }

  /** The transpose kernel (see kernels.ts), its N blocks split across the threads. */
  #transpose(src: number, dst: number, N: number, R: number, C: number, ss: number, ds: number, sb: number, db: number, bias: number): void {
    this.gemm.parallel('transpose', [src, dst, N, R, C, ss, ds, sb, db, bias], { count: 2, ptrs: [[0, 4 * sb], [1, 4 * db]] }, N, 8 * N * R * C);
  }

  // ---- convolution in WebAssembly memory: the patch matrix, the product and the layout
  // changes run on the kernels, on the operands where they lie

  override conv2d(x: View, w: View, bias: View | null, p: Im2ColParams, groups = 1, save: SaveForBackward = null): DataId | null {
    if (groups !== 1) return null;
    this.#route = 'wasm';
    if (!allFloat32(x, w, ...(bias ? [bias] : []))) return this.#cpu('not float32', () => super.conv2d(x, w, bias, p));
    if (empty(x, w)) return this.#cpu('no channels or images', () => super.conv2d(x, w, bias, p));
    const g = patchGeometry(x.shape as Shape4, p);
    const O = w.shape[0];
    const { R, L, NL } = g;
    const [Mp, Np] = [roundUp(NL, GEMM_ROWS), roundUp(O, 8)];
    const [xAt, wAt, biasAt] = [this.#in(x), this.#in(w), bias ? this.#in(bias) : 0];
    if (this.#directFits(p, g.C, g.ow)) {
      const [outAt, done] = this.#out(g.N * O * L);
      this.#direct();
      const { xpAt, Hp, Wp } = this.#padded(xAt, g.N * g.C, g.H, g.W, p.pad);
      const ptrs = [[0, 4 * g.C * Hp * Wp], [3, 4 * O * L]] as const;
      this.gemm.parallel('conv3x3', [xpAt, wAt, biasAt, outAt, g.N, g.C, Hp, Wp, O], { count: 4, ptrs }, g.N, 4 * g.N * (g.C * Hp * Wp + O * L));
      return done();
    }
    if (this.#winogradFits(p, g.C, O, g.ow)) {
      const [outAt, done] = this.#out(g.N * O * L);
      const { Hp, Wp } = winogradTiles(g.H, g.W, p.pad);
      // the padded input, kept for the weight gradient as a patch matrix would be
      const padAt = this.#keepForBackward(save, 4 * g.N * g.C * Hp * Wp);
      this.#winograd(xAt, g.N, g.C, g.H, g.W, p.pad, O, wAt, biasAt, outAt, padAt);
      return done();
    }
    const [packAt, cAt] = this.#layout([Np * R, Mp * Np]);
    const rowsAt = this.#keepForBackward(save, 4 * (Mp * R + 4));
    this.#patches('im2row', g, p, xAt, rowsAt);
    this.gemm.kernels.fill32(rowsAt + 4 * NL * R, (Mp - NL) * R, 0); // padding rows
    this.gemm.run(rowsAt, packAt, cAt, Mp, R, Np, { from: wAt, transposed: true, N: O }); // B = wᵀ, stored transposed
    const [outAt, done] = this.#out(g.N * O * L);
    this.#transpose(cAt, outAt, g.N, L, O, Np, L, L * Np, O * L, biasAt); // rows (n, l) of Np → [N, O, L], + bias
    return done();
  }

  override conv2dBackwardInput(dy: View, w: View, xShape: Shape4, p: Im2ColParams, groups = 1): DataId | null {
    if (groups !== 1) return null;
    this.#route = 'wasm';
    if (!allFloat32(dy, w)) return this.#cpu('not float32', () => super.conv2dBackwardInput(dy, w, xShape, p));
    if (empty(dy, w)) return this.#cpu('no channels or images', () => super.conv2dBackwardInput(dy, w, xShape, p));
    const g = patchGeometry(xShape, p);
    const O = dy.shape[1];
    const { R, L, NL } = g;
    const [Mp, Np] = [roundUp(NL, GEMM_ROWS), roundUp(R, 8)];
    const [dyAt, wAt] = [this.#in(dy), this.#in(w)];
    if (this.#directFits(p, g.C, g.ow) && p.pad.every((v) => v <= 2) && g.W >= 4) {
      // the adjoint: a direct convolution of dy padded by 2 − p from O channels to C, with
      // the kernel turned 180° and its channel axes swapped
      this.#direct();
      const [dxAt, done] = this.#out(g.n);
      const turnedAt = this.#work(4 * O * R);
      const [f, wOff, tOff] = [this.gemm.heap.f32, wAt >> 2, turnedAt >> 2];
      for (let o = 0; o < O; o++) for (let c = 0; c < g.C; c++) for (let q = 0; q < 9; q++) f[tOff + (c * O + o) * 9 + q] = f[wOff + (o * g.C + c) * 9 + 8 - q];
      const { xpAt, Hp, Wp } = this.#padded(dyAt, g.N * O, g.oh, g.ow, p.pad.map((v) => 2 - v) as unknown as Im2ColParams['pad']);
      const ptrs = [[0, 4 * O * Hp * Wp], [3, 4 * g.C * g.H * g.W]] as const;
      this.gemm.parallel('conv3x3', [xpAt, turnedAt, 0, dxAt, g.N, O, Hp, Wp, g.C], { count: 4, ptrs }, g.N, 4 * g.N * (O * Hp * Wp + g.C * g.H * g.W));
      return done();
    }
    if (this.#winogradFits(p, g.C, O, g.ow)) {
      const [dxAt, done] = this.#out(g.n);
      this.#winogradInputGrad(dyAt, g.N, g.C, g.H, g.W, p.pad, O, wAt, dxAt);
      return done();
    }
    const [aAt, packAt, cAt] = this.#layout([Mp * O, Np * O, Mp * Np + 4]);
    this.#transpose(dyAt, aAt, g.N, O, L, L, O, O * L, L * O, 0); // [N, O, L] → rows (n, l) of O
    this.gemm.kernels.fill32(aAt + 4 * NL * O, (Mp - NL) * O, 0);
    this.gemm.run(aAt, packAt, cAt, Mp, O, Np, { from: wAt, transposed: false, N: R });
    const [imgAt, done] = this.#out(g.n, true);
    this.#patches('row2im', g, p, imgAt, cAt, Np); // the product's rows are Np wide
    return done();
  }

  override conv2dBackwardWeight(dy: View, x: View, wShape: Shape4, p: Im2ColParams, groups = 1, saved: readonly View[] = []): DataId | null {
    if (groups !== 1) return null;
    this.#route = 'wasm';
    if (!allFloat32(dy, x)) return this.#cpu('not float32', () => super.conv2dBackwardWeight(dy, x, wShape, p));
    if (empty(dy, x)) return this.#cpu('no channels or images', () => super.conv2dBackwardWeight(dy, x, wShape, p));
    const g = patchGeometry(x.shape as Shape4, p);
    const O = dy.shape[1];
    const { R, L, NL } = g;
    const [Mp, Np] = [roundUp(O, GEMM_ROWS), roundUp(R, 8)];
    const dyAt = this.#in(dy);
    if (this.#directFits(p, g.C, g.ow)) {
      const [dwAt, done] = this.#out(O * R);
      this.#direct();
      const { xpAt, Hp, Wp } = this.#padded(this.#in(x), g.N * g.C, g.H, g.W, p.pad);
      const ptrs = [[1, 4 * L], [2, 4 * R]] as const; // output channels split across the threads
      this.gemm.parallel('conv3x3Grad', [xpAt, dyAt, dwAt, g.N, g.C, Hp, Wp, O, O], { count: 8, ptrs }, O, 4 * g.N * (O * g.C * Hp * Wp + O * L));
      return done();
    }
    if (this.#winogradFits(p, g.C, O, g.ow)) {
      const [dwAt, done] = this.#out(O * R);
      // the padded input its forward kept (0: none, pad it again)
      const { Hp, Wp } = winogradTiles(g.H, g.W, p.pad);
      this.#winogradWeightGrad(this.#in(x), dyAt, g.N, g.C, g.H, g.W, p.pad, O, dwAt, this.#savedAt(saved, 4 * g.N * g.C * Hp * Wp));
      return done();
    }
    const [packAt, aAt, cAt] = this.#layout([Np * NL, Mp * NL, Mp * Np]);
    let rowsAt = this.#savedAt(saved, 4 * (roundUp(NL, GEMM_ROWS) * R + 4));
    if (rowsAt === 0) {
      rowsAt = this.#work(4 * (NL * R + 4));
      this.#patches('im2row', g, p, this.#in(x), rowsAt);
    }
    const swapArgs = [dyAt, aAt, g.N, O, L, NL]; // [N, O, L] → [O, N·L], split by images
    this.gemm.parallel('swapBlocks', swapArgs, { count: 2, ptrs: [[0, 4 * O * L], [1, 4 * L]] }, g.N, 8 * g.N * O * L);
    this.gemm.kernels.fill32(aAt + 4 * O * NL, (Mp - O) * NL, 0);
    this.gemm.run(aAt, packAt, cAt, Mp, NL, Np, { from: rowsAt, transposed: false, N: R });
    const out = this.scratch('float32', O * R) as Float32Array;
    const f = this.gemm.heap.f32;
    const c = cAt >> 2;
    if (Np === R) out.set(f.subarray(c, c + O * R));
    else for (let o = 0; o < O; o++) out.set(f.subarray(c + o * Np, c + o * Np + R), o * R);
    return wrap(out);
  }

  /**
   * Whether a convolution with `p` from C channels to ow output columns runs directly
   * (conv3x3, conv3x3Grad): 3×3 windows of stride 1 without dilation over at most
   * DIRECT_MAX_CHANNELS input channels (an image's first layer), at least 4 columns.
   */
  #directFits(p: Im2ColParams, C: number, ow: number): boolean {
    return this.direct && isPlain3x3(p) && C <= DIRECT_MAX_CHANNELS && ow >= 4;
  }

  /** Count and report a convolution primitive done directly. */
  #direct(): void {
    this.#route = 'wasm (direct)';
    this.stats.direct++;
  }

  /** `planes` H×W planes at xAt padded by `pad` (a work block; xAt itself when there is no padding). */
  #padded(xAt: number, planes: number, H: number, W: number, pad: Im2ColParams['pad']): { xpAt: number; Hp: number; Wp: number } {
    const [pt, pb, pl, pr] = pad;
    const [Hp, Wp] = [H + pt + pb, W + pl + pr];
    if (pt + pb + pl + pr === 0) return { xpAt: xAt, Hp, Wp };
    const xpAt = this.#work(4 * planes * Hp * Wp);
    this.#pad(xAt, xpAt, planes, H, W, Hp, Wp, pt, pl);
    return { xpAt, Hp, Wp };
  }

  /**
   * Whether a convolution with `p` from C to O channels, ow output columns, runs by
   * Winograd's F(2×2, 3×3): 3×3 windows of stride 1 without dilation, and enough channels
   * and columns for its products and transforms to pay (it does 2.25× fewer multiplications
   * than the patch-matrix product, in 16 products of C-long rows).
   */
  #winogradFits(p: Im2ColParams, C: number, O: number, ow: number): boolean {
    return this.winograd && isPlain3x3(p) && C >= WINOGRAD_MIN_CHANNELS && O >= WINOGRAD_MIN_CHANNELS && Math.ceil(ow / 2) >= 4;
  }

  /**
   * y [N, O, oh, ow] at outAt = the 3×3, stride-1 convolution of x [N, C, H, W] at xAt,
   * padded by `pad`, by Winograd's F(2×2, 3×3): x is padded into whole 4×4 tiles with a
   * stride of 2, each tile transformed (Bᵀ·d·B, winogradIn), then for each of the 16
   * transformed positions ξ one product U_ξ [O, C] · V_ξ [C, tiles], and each tile's 16
   * results back to a 2×2 block of y (Aᵀ·m·A, winogradOut, + bias); U_ξ = G·g·Gᵀ comes
   * from the weights [O, C, 3, 3] at wAt. The images go in chunks, one per part of a
   * thread-pool job, a few images' transformed tiles and products at a time in the part's
   * own scratch block (winogradConv), so they stay in the cache.
   */
  #winograd(xAt: number, N: number, C: number, H: number, W: number, pad: Im2ColParams['pad'], O: number, wAt: number, biasAt: number, outAt: number, padAt: number): void {
    this.#route = 'wasm (Winograd)';
    this.stats.winograd++;
    const { pt, pl, oh, ow, th, tw, Hp, Wp, Tn } = winogradTiles(H, W, pad);
    const Mp = roundUp(O, GEMM_ROWS);
    const { per, used, countsAt } = this.#chunks(N);
    // images multiplied together: as many as keep the transformed tiles and products in a
    // core's cache (≈ 512 KiB), so the products are wider (less padding to 8 columns)
    const group = Math.max(1, Math.min(per, Math.floor(WINOGRAD_CHUNK_FLOATS / (16 * (C + Mp) * Tn))));
    const Np = roundUp(group * Tn, 8);
    const scratch = 16 * C * group * Tn + 8 + 16 * Mp * Np;
    const [uAt, sAt] = this.#layout([16 * Mp * C, used * scratch]);
    const padPlane = 4 * Hp * Wp;
    this.#pad(xAt, padAt, N * C, H, W, Hp, Wp, pt, pl);
    if (Mp !== O) this.gemm.kernels.fill32(uAt, 16 * Mp * C, 0);
    this.gemm.kernels.winogradWeights(wAt, uAt, Mp, O, C, 0);
    const args = [padAt, uAt, outAt, biasAt, sAt, countsAt, used, C, O, th, tw, Hp, Wp, oh, ow, Mp, group];
    const ptrs = [[0, per * C * padPlane], [2, 4 * per * O * oh * ow], [4, 4 * scratch], [5, 4]] as const;
    this.gemm.parallel('winogradConv', args, { count: 6, ptrs }, used, N * (C * padPlane + 4 * O * oh * ow));
  }

  /**
   * dx [N, C, H, W] at dxAt: the input gradient of #winograd's convolution for dy [N, O,
   * oh, ow] at dyAt and the weights [O, C, 3, 3] at wAt, by the adjoint of its steps: each
   * dy tile transformed (A·dY·Aᵀ), for each ξ the product U_ξᵀ [C, O] · (its tiles [O,
   * tiles]), each tile's 16 results back to a 4×4 block (B·m·Bᵀ) added into the padded
   * input's planes (blocks overlap by two rows and columns), the planes cropped into dx.
   * Images go in chunks over the threads, a few at a time (winogradInputGradConv); the
   * same tiles as the forward's: th·tw products' columns an image.
   */
  #winogradInputGrad(dyAt: number, N: number, C: number, H: number, W: number, pad: Im2ColParams['pad'], O: number, wAt: number, dxAt: number): void {
    this.#route = 'wasm (Winograd)';
    this.stats.winograd++;
    const { pt, pl, oh, ow, th, tw, Hp, Wp, Tn } = winogradTiles(H, W, pad);
    const Cp = roundUp(C, GEMM_ROWS);
    const { per, used, countsAt } = this.#chunks(N);
    const group = Math.max(1, Math.min(per, Math.floor(WINOGRAD_CHUNK_FLOATS / (16 * (O + Cp) * Tn))));
    const Np = roundUp(group * Tn, 8);
    const scratch = 4 * O * Tn + 16 * O * group * Tn + 8 + 16 * Cp * Np + C * Hp * Wp;
    const [utAt, sAt] = this.#layout([16 * Cp * O, used * scratch]);
    if (Cp !== C) this.gemm.kernels.fill32(utAt, 16 * Cp * O, 0);
    this.gemm.kernels.winogradWeights(wAt, utAt, Cp, C, O, 1);
    const args = [dyAt, utAt, dxAt, sAt, countsAt, used, C, O, th, tw, Hp, Wp, H, W, oh, ow, pt, pl, Cp, group];
    const ptrs = [[0, 4 * per * O * oh * ow], [2, 4 * per * C * H * W], [3, 4 * scratch], [4, 4]] as const;
    this.gemm.parallel('winogradInputGradConv', args, { count: 5, ptrs }, used, 4 * N * (O * oh * ow + C * H * W));
  }

  /**
   * dw [O, C, 3, 3] at dwAt: the weight gradient of #winograd's convolution for x [N, C, H,
   * W] at xAt and dy [N, O, oh, ow] at dyAt, Gᵀ·(Σ over tiles of (A·dY·Aᵀ) ⊙ (Bᵀ·d·B))·G:
   * per unit of images (units spread over the parts of a thread-pool job) the 16 products
   * of the transformed dy tiles [O, tiles] with the transformed input tiles [tiles, C]
   * (winogradGradConv), then the units' sums added (sumBlocks) and transformed back
   * (winogradWeightsGrad). `kept`: the padded input its forward kept, or 0 to pad again.
   */
  #winogradWeightGrad(xAt: number, dyAt: number, N: number, C: number, H: number, W: number, pad: Im2ColParams['pad'], O: number, dwAt: number, kept: number): void {
    this.#route = 'wasm (Winograd)';
    this.stats.winograd++;
    const { pt, pl, oh, ow, th, tw, Hp, Wp, Tn } = winogradTiles(H, W, pad);
    const [Mp, Cp] = [roundUp(O, GEMM_ROWS), roundUp(C, 8)];
    // 8 units of images (fewer for a small batch), each summed in its own block, images
    // taken as many at a time as keep their transformed tiles in a core's cache (≈ 512 KiB);
    // the partial sums, and so the bits of the result, do not depend on the number of threads
    const { per: unit, used, countsAt } = this.#chunks(N, Math.ceil(N / 8));
    const per = Math.max(1, Math.min(unit, Math.floor(WINOGRAD_CHUNK_FLOATS / ((16 * C + 16 * Mp + Cp) * Tn))));
    const scratch = (16 * C + 16 * Mp + Cp) * per * Tn;
    const [padAt, dPadAt, dUAt, sAt] = this.#layout([kept === 0 ? N * C * Hp * Wp : 0, N * O * 4 * Tn, used * 16 * Mp * Cp, used * scratch]);
    const [padPlane, dPadPlane] = [4 * Hp * Wp, 16 * Tn];
    if (kept === 0) this.#pad(xAt, padAt, N * C, H, W, Hp, Wp, pt, pl);
    const xPadAt = kept === 0 ? padAt : kept;
    this.#pad(dyAt, dPadAt, N * O, oh, ow, 2 * th, 2 * tw, 0, 0); // dy to whole tiles, zeros below and right
    const args = [xPadAt, dPadAt, dUAt, sAt, countsAt, used, C, O, th, tw, Hp, Wp, Mp, Cp, per];
    const ptrs = [[0, unit * C * padPlane], [1, unit * O * dPadPlane], [2, 64 * Mp * Cp], [3, 4 * scratch], [4, 4]] as const;
    this.gemm.parallel('winogradGradConv', args, { count: 5, ptrs }, used, N * (C * padPlane + O * dPadPlane));
    const block = 16 * Mp * Cp; // floats, a multiple of 4
    this.gemm.parallel('sumBlocks', [dUAt, block / 4, used, 4 * block], { count: 1, ptrs: [[0, 16]] }, block / 4, used * 4 * block);
    this.gemm.kernels.winogradWeightsGrad(dUAt, dwAt, Mp, Cp, O, C);
  }

  /**
   * N images in chunks of `per` for a Winograd job (default: one chunk per part, up to 4 per
   * thread), the last one smaller: `used` chunks, their image counts as int32s at countsAt.
   */
  #chunks(N: number, per = Math.ceil(N / Math.min(N, 4 * this.gemm.threads))): { per: number; used: number; countsAt: number } {
    const used = Math.ceil(N / per);
    const countsAt = this.#int32s(Array.from({ length: used }, (_, k) => Math.min(per, N - k * per)));
    return { per, used, countsAt };
  }

  /** `planes` H×W planes at src into zero-bordered Hp×Wp planes at dst (row pt, column pl), split by planes. */
  #pad(src: number, dst: number, planes: number, H: number, W: number, Hp: number, Wp: number, pt: number, pl: number): void {
    const [inPlane, outPlane] = [4 * H * W, 4 * Hp * Wp];
    this.gemm.parallel('pad2d', [src, dst, planes, H, W, Hp, Wp, pt, pl], { count: 2, ptrs: [[0, inPlane], [1, outPlane]] }, planes, planes * (inPlane + outPlane));
  }

  /** A work block holding `values` as int32s (a kernel's table): its address. */
  #int32s(values: ArrayLike<number>): number {
    const at = this.#work(4 * values.length);
    new Int32Array(this.gemm.heap.f32.buffer, at, values.length).set(values);
    return at;
  }

  /**
   * A block for what a forward convolution builds and its weight gradient reads again (the
   * patch matrix, or Winograd's padded input): building it twice costs as much as keeping
   * it, so when a gradient will be asked for it is saved on the graph node (an array of the
   * memory, freed with the node), else it is a work block.
   */
  #keepForBackward(save: SaveForBackward, bytes: number): number {
    if (save === null) return this.#work(bytes);
    const kept = this.gemm.heap.array('float32', bytes >> 2);
    if (kept === null) return this.#work(bytes); // the memory is full: the gradient builds it again
    save(wrap(kept), [bytes >> 2], 'float32');
    return kept.byteOffset;
  }

  /** The address of what the forward saved (see #keepForBackward), or 0 when it saved nothing of that size. */
  #savedAt(saved: readonly View[], bytes: number): number {
    if (saved.length !== 1 || saved[0].dtype !== 'float32' || 4 * sizeOf(saved[0].shape) !== bytes) return 0;
    const a = values(saved[0]);
    return this.gemm.heap.owns(a) ? a.byteOffset : 0;
  }

  /** Work blocks of the given sizes (floats) laid out in one block: their byte addresses. */
  #layout(sizes: number[]): number[] {
    const at: number[] = [];
    let end = 0;
    for (const n of sizes) {
      at.push(end);
      end += 4 * roundUp(n, 4);
    }
    const base = this.#work(end);
    return at.map((a) => base + a);
  }

  /**
   * A float32 dropout mask drawn on the kernel (see Backend.fillDropoutMask): the same draws,
   * values and generator state after as the JavaScript loop; false when the data are not
   * in the module memory (or no room is left for the state's 16 bytes).
   */
  fillDropoutMask(data: DataId, n: number, state: Uint32Array, cut: number, scale: number): boolean {
    const a = dataValues(data);
    if (!(a instanceof Float32Array) || !this.gemm.heap.owns(a) || a.length < n) return false;
    let st: number;
    try {
      st = this.gemm.alloc(16);
    } catch (e) {
      if (e instanceof MemoryFullError) return false;
      throw e;
    }
    try {
      new Uint32Array(this.gemm.heap.f32.buffer, st, 4).set(state);
      this.gemm.kernels.dropoutMask(a.byteOffset, n, st, cut, scale);
      state.set(new Uint32Array(this.gemm.heap.f32.buffer, st, 4));
    } finally {
      this.gemm.heap.free(st);
    }
    this.#route = 'wasm';
    return true;
  }

  /** Max pooling on the kernel when windows tile the image (stride = kernel, no padding or dilation). */
  override maxPool2d(x: View, p: Im2ColParams): DataId {
    this.#route = 'wasm';
    const g = tiledPool(x, p);
    if (g === null) return this.#cpu('windows do not tile the image, or not float32', () => super.maxPool2d(x, p));
    const xAt = this.#in(x);
    const [outAt, done] = this.#out(g.L);
    const [inBytes, outBytes] = [4 * g.H * g.W, 4 * g.oh * g.ow];
    const split = (kernel: 'maxpool2x2' | 'maxpool', args: number[]) =>
      this.gemm.parallel(kernel, args, { count: 2, ptrs: [[0, inBytes], [1, outBytes]] }, g.planes, g.planes * (inBytes + outBytes));
    if (g.kh === 2 && g.kw === 2) split('maxpool2x2', [xAt, outAt, g.planes, g.H, g.W, g.oh, g.ow]);
    else split('maxpool', [xAt, outAt, g.planes, g.H, g.W, g.kh, g.kw, g.oh, g.ow]);
    return done();
  }

  override maxPool2dBackward(x: View, y: View, dy: View, p: Im2ColParams): DataId | null {
    this.#route = 'wasm';
    const g = tiledPool(x, p);
    if (g === null || !allFloat32(y, dy)) return this.#cpu('windows do not tile the image, or not float32', () => super.maxPool2dBackward(x, y, dy, p));
    const [xAt, yAt, dyAt] = [this.#in(x), this.#in(y), this.#in(dy)];
    // the kernels write every element a window covers; the others (a ragged edge) are
    // zeroed first, except by the 2×2 kernel, which writes their zeros itself
    const two = g.kh === 2 && g.kw === 2;
    const [outAt, done] = this.#out(g.n, !two && (g.oh * g.kh !== g.H || g.ow * g.kw !== g.W));
    const [inBytes, outBytes] = [4 * g.H * g.W, 4 * g.oh * g.ow];
    const split = (kernel: 'maxpoolBack2x2' | 'maxpoolBack', args: number[]) =>
      this.gemm.parallel(kernel, args, { count: 4, ptrs: [[0, inBytes], [1, outBytes], [2, outBytes], [3, inBytes]] }, g.planes, g.planes * 2 * (inBytes + outBytes));
    if (two) split('maxpoolBack2x2', [xAt, yAt, dyAt, outAt, g.planes, g.H, g.W, g.oh, g.ow]);
    else split('maxpoolBack', [xAt, yAt, dyAt, outAt, g.planes, g.H, g.W, g.kh, g.kw, g.oh, g.ow]);
    return done();
  }

  /**
   * The fused Adam step of @ml/optim on the SIMD kernel (float32): m and v are updated in
   * place, the new parameter values returned (the backend contract's `adamUpdate`).
   */
  adamUpdate(p: View, grad: View, m: View, v: View, s: AdamStep): DataId | null {
    const views = [p, grad, m, v];
    if (views.some((t) => t.dtype !== 'float32' || !isContiguousView(t))) return null;
    const [P, G, M, V] = views.map((t) => values(t).subarray(t.offset, t.offset + sizeOf(t.shape)) as Float32Array);
    try {
      return this.#adam([P, G, M, V], s);
    } catch (e) {
      if (e instanceof MemoryFullError) return null; // the composite runs instead
      throw e;
    }
  }

  #adam([P, G, M, V]: Float32Array[], s: AdamStep): DataId {
    return this.#scoped(() => {
      const n = P.length;
      const heap = this.gemm.heap;
      // the kernel works on whole vectors: it may write in place only when n fills them
      const inPlace = (x: Float32Array) => n % 4 === 0 && heap.owns(x);
      const place = (x: Float32Array) => (inPlace(x) ? x.byteOffset : this.#in({ data: wrap(x), dtype: 'float32', shape: [n], strides: [1], offset: 0 }));
      const [pAt, gAt, mAt, vAt] = [P, G, M, V].map(place);
      const out = this.scratch('float32', n) as Float32Array; // every element is written
      const outAt = inPlace(out) ? out.byteOffset : this.#work(4 * n);
      const n4 = (n + 3) >> 2;
      const args = [pAt, gAt, mAt, vAt, outAt, n4, s.b1, 1 - s.b1, s.b2, 1 - s.b2, 1 / s.sbc2, s.eps, s.stepSize, s.decay, s.l2, s.sign];
      const plan = { count: 5, ptrs: [0, 1, 2, 3, 4].map((i) => [i, 16] as const), floats: [6, 7, 8, 9, 10, 11, 12, 13, 14, 15] };
      this.gemm.parallel('adam', args, plan, n4, 28 * n); // by vectors: a square root and a division each
      const f = heap.f32;
      if (!inPlace(M)) M.set(f.subarray(mAt >> 2, (mAt >> 2) + n));
      if (!inPlace(V)) V.set(f.subarray(vAt >> 2, (vAt >> 2) + n));
      if (!inPlace(out)) out.set(f.subarray(outAt >> 2, (outAt >> 2) + n));
      return wrap(out);
    }, dataValues);
  }

  /**
   * Rows of a float32 or int32 matrix picked by an index (indexSelect along the first axis,
   * a batch drawn from a dataset): one memory copy a row on the kernel; every other gather
   * is the CPU code.
   */
  override gather(x: View, axis: number, index: View): DataId {
    const rows = this.#gatherRows(x, axis, index);
    if (rows !== null) return rows;
    return this.#cpu('not whole rows of a 4-byte dtype in the memory', () => super.gather(x, axis, index));
  }

  #gatherRows(x: View, axis: number, index: View): DataId | null {
    if (axis !== 0 || (x.dtype !== 'float32' && x.dtype !== 'int32') || index.dtype !== 'int32' || !isContiguousView(x)) return null;
    const src = values(x);
    if (!this.gemm.heap.owns(src)) return null;
    const [k, n] = [index.shape[0], x.shape[0]];
    const inner = sizeOf(x.shape) / Math.max(n, 1);
    if (inner < 16 || x.shape.some((d, i) => i > 0 && (index.shape[i] !== d || (d !== 1 && index.strides[i] !== 0)))) return null;
    const iv = values(index);
    const rows = new Int32Array(k);
    for (let i = 0; i < k; i++) {
      const j = iv[index.offset + i * index.strides[0]];
      if (!(j >= 0 && j < n)) return null; // negative or out of range: the CPU code wraps or throws
      rows[i] = j;
    }
    const out = this.scratch(x.dtype, k * inner);
    if (!this.gemm.heap.owns(out)) return null;
    this.#route = 'wasm';
    this.gemm.kernels.copyRows(src.byteOffset + 4 * x.offset, out.byteOffset, this.#int32s(rows), k, 4 * inner);
    return wrap(out);
  }

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
    const A = { data: values(a), offset: a.offset, sb: a.strides[0], si: a.strides[1], sj: a.strides[2] };
    const Bs = { data: values(b), offset: b.offset, sb: b.strides[0], si: b.strides[1], sj: b.strides[2] };
    this.gemm.matmul(A, Bs, B, M, K, N, out);
    return wrap(out);
  }
}

const F32 = new Float32Array(1);
const I32 = new Int32Array(F32.buffer);

/** The 32 bits `value` takes in an array of `dtype` (float32 or int32, as TypedArray.fill converts it). */
function bits32(dtype: 'float32' | 'int32', value: number): number {
  if (dtype === 'int32') return value | 0;
  F32[0] = value;
  return I32[0];
}

const wrap = (values: TypedArray): DataId => ({ values }) satisfies CpuData as unknown as DataId;
const dataValues = (d: DataId): TypedArray => (d as CpuData).values;

/** Whether array `part` starts inside array `whole` (a result may be a view of a temporary); both in the memory. */
function within(part: TypedArray, whole: TypedArray): boolean {
  const [p, w] = [part.byteOffset, whole.byteOffset];
  return p === w || (p > w && p < w + whole.byteLength);
}

const values = (v: View): TypedArray => dataValues(v.data);

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

/** Sizes of an image [N,C,H,W] and its patch matrix. */
function patchGeometry(shape: Shape4, p: Im2ColParams) {
  const [N, C, H, W] = shape;
  const [kh, kw] = p.kernel;
  const [oh, ow] = patchOutputSize(shape, p);
  const n = N * C * H * W;
  const [R, L] = [C * kh * kw, oh * ow];
  // R: values per patch row; L: output positions per image; NL: patch rows in all
  return { N, C, H, W, oh, ow, n, R, L, NL: N * L, rows: N * L * R };
}

const roundUp = (n: number, m: number): number => Math.ceil(n / m) * m;

/**
 * The tiles of a Winograd F(2×2, 3×3) convolution of an H×W input padded by `pad`: output
 * oh×ow, th×tw tiles of 2×2 outputs, the padded planes Hp×Wp holding whole 4×4 tiles.
 */
function winogradTiles(H: number, W: number, pad: Im2ColParams['pad']) {
  const [pt, pb, pl, pr] = pad;
  const [oh, ow] = [H + pt + pb - 2, W + pl + pr - 2];
  const [th, tw] = [Math.ceil(oh / 2), Math.ceil(ow / 2)];
  return { pt, pl, oh, ow, th, tw, Hp: 2 * th + 2, Wp: 2 * tw + 2, Tn: th * tw };
}

/** 3×3 windows, stride 1, no dilation, zero padding: the convolutions the direct and Winograd kernels do */
const isPlain3x3 = (p: Im2ColParams): boolean =>
  p.kernel[0] === 3 && p.kernel[1] === 3 && p.stride[0] === 1 && p.stride[1] === 1 && p.dilation[0] === 1 && p.dilation[1] === 1 && p.padValue === 0;

/** fewest values for a whole float32 sum on the kernel, and the parts it is cut into */
const WHOLE_SUM_MIN = 1 << 14;
const WHOLE_SUM_PARTS = 64;

/** most input channels for a direct 3×3 convolution (more: the patch-matrix product's K = 9·C pays) */
const DIRECT_MAX_CHANNELS = 4;
/** fewest input and output channels for a Winograd convolution (fewer: the products are too thin to gain) */
const WINOGRAD_MIN_CHANNELS = 8;
/** floats of transformed tiles and products a Winograd job keeps at once per thread (512 KiB: measured best of 0.25–2 MiB) */
const WINOGRAD_CHUNK_FLOATS = 1 << 17;


/**
 * Whether an operand of a convolution has no elements (no images, or no channels in or out):
 * the kernels would sum over nothing without writing their zeros (the direct one with no
 * input channels, the Winograd weight gradient over no images), so the CPU code runs.
 */
function empty(...views: View[]): boolean {
  return views.some((v) => sizeOf(v.shape) === 0);
}

function allFloat32(...views: View[]): boolean {
  return views.every((v) => v.dtype === 'float32');
}
