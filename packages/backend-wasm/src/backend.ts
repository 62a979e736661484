import { checkOptions, optionKeys, sizeOf, type DType, type HeapInfo, type Im2ColParams, type Shape4, type TypedArray } from '@ml/tensor';
import { CpuBackend, isContiguousView, rowStride, type AdamStep, type BinaryOp, type DataId, type HostKernelIO, type PreparedProduct, type ReduceOp, type SaveForBackward, type UnaryOp, type View } from '@ml/tensor/backend';
import { empty, tiledPool, WasmConvolution } from './backend-conv.js';
import { withGatePasses } from './backend-recurrent.js';
import { WasmTransformerKernels } from './backend-transformer.js';
import { PARALLEL_MIN_BYTES, WasmGemm, type KernelExports, type Strided } from './gemm.js';
import { HeapAllocator } from './heap-allocator.js';
import { MemoryFullError } from './heap.js';
import { BINARY_KERNELS } from './kernels.js';
import { allFloat32, dataValues, Operands, values, wrap } from './operands.js';

export interface WasmOptions {
  threads?: number;
  name?: string;
  /** fused multiply-add in the product (default: where the engine has relaxed SIMD) */
  fma?: boolean;
  /**
   * 3×3 stride-1 convolutions with at least 8 channels in and out (forward, input and weight
   * gradients) by Winograd's method (default true: F(4×4, 3×3) where its tiles multiply
   * less than F(2×2, 3×3)'s, else F(2×2, 3×3); 4 or 2: always that one, where it fits;
   * false: all through patch matrices)
   */
  winograd?: boolean | 2 | 4;
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

/**
 * The WebAssembly backend. Its tensors live in the module's memory (where the memory can
 * be shared, i.e. wherever SharedArrayBuffer exists), allocated by `gemm.heap`, which
 * reuses freed blocks; `memory()` reports that memory under `backends.wasm.heap`. Float32
 * matrix products (dense layers, attention, recurrent cells), convolutions forward and
 * backward (in backend-conv.ts), max pooling, relu and the fused Adam step run on the SIMD
 * kernels of `kernels/` straight on those blocks; every other primitive, and other dtypes,
 * are the CPU backend's own code writing into blocks of the same memory: this backend
 * hands `CpuBackend` its HeapAllocator. Each primitive runs in a scope (the `primitive`
 * hook for the CPU code, `#kernel` for the kernel paths): its work blocks and temporaries
 * go back to the allocator when it returns.
 */
export class WasmBackend extends CpuBackend {
  override readonly name: string;
  readonly gemm: WasmGemm;
  /** matmuls on the kernel and fallbacks, convolutions by Winograd's method and directly (debug log, tests) */
  readonly stats = { wasm: 0, fallback: 0, winograd: 0, direct: 0 };

  /** whether 3×3 stride-1 convolutions with enough channels run by Winograd's method (see WasmOptions.winograd) */
  readonly winograd: boolean | 2 | 4;
  /** whether 3×3 stride-1 convolutions of few input channels run directly (conv3x3) */
  readonly direct: boolean;

  /** the module memory's arrays and work blocks, scoped per primitive (also `this.alloc`) */
  readonly #memory: HeapAllocator;
  readonly #io: Operands;
  readonly #conv: WasmConvolution;
  /** layerNorm, gelu, attention and its softmax rows on the SIMD kernels (backend-transformer.ts) */
  readonly transformer: WasmTransformerKernels;
  /** the last binary op's kernel arguments, from #binaryPlan (one object, not an array per op) */
  readonly #plan = { rows: 0, n: 0, ra: 0, rb: 0, mode: 0 };
  /** where the last primitive ran: 'wasm', or the CPU code and why (for the debug log) */
  #route: string | null = null;
  /** the host kernels' IO with the recurrent ops' gate passes on the SIMD kernels (backend-recurrent.ts) */
  protected declare readonly hostIO: HostKernelIO;

  /**
   * `threads`: for large products (default: the machine's cores in Node, 1 elsewhere);
   * `name`: the registry name (default 'wasm'; another one lets two configurations coexist).
   */
  constructor(options: WasmOptions = {}) {
    checkOptions('WasmBackend', options, WASM_KEYS);
    const gemm = new WasmGemm({ threads: options.threads, fma: options.fma, maxMemory: options.maxMemory });
    const memory = new HeapAllocator(gemm);
    super({ allocator: memory });
    this.name = options.name ?? 'wasm';
    this.winograd = options.winograd ?? true;
    if (![true, false, 2, 4].includes(this.winograd)) throw new Error(`WasmBackend: winograd must be true, false, 2 or 4, got ${String(options.winograd)}`);
    this.direct = options.direct ?? true;
    this.gemm = gemm;
    this.#memory = memory;
    this.#io = new Operands(gemm, memory, (v) => this.copy(v));
    this.hostIO = { ...withGatePasses(this.hostIO, gemm), prepare: (b) => this.#prepare(b) };
    this.transformer = new WasmTransformerKernels(gemm, memory, this.#io);
    this.#conv = new WasmConvolution(gemm, memory, this.#io, { winograd: this.winograd, direct: this.direct }, this.stats, (route) => {
      this.#route = route;
    });
  }

  /** The CPU code's primitives run in a scope of the module memory (see HeapAllocator.scoped). */
  protected override primitive<T extends DataId | null>(run: () => T): T {
    return this.#memory.scoped(run, resultArray);
  }

  /**
   * Run a kernel path as one primitive (in a scope that gives back its work blocks); when
   * the module memory has no room for them, run `cpuCode` (the CPU backend's, which needs none).
   */
  #kernel<T extends DataId | null>(run: () => T, cpuCode: () => T): T {
    try {
      return this.#memory.scoped(run, resultArray);
    } catch (e) {
      if (!(e instanceof MemoryFullError)) throw e;
      const out = cpuCode();
      this.#route = 'cpu code (module memory full)';
      return out;
    }
  }

  /** A copy of a tensor's data as an ordinary array (slice() of a shared memory's view is slow). */
  override readSync(data: DataId): TypedArray {
    const v = dataValues(data);
    if (!this.#memory.owns(v)) return super.readSync(data);
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

  /** The module memory: bytes reserved, in live blocks and in free blocks. */
  heap(): HeapInfo {
    return this.gemm.heap.info();
  }

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
    const cpu = () => super.unary(op, x);
    if (op !== 'relu' || x.dtype !== 'float32') return this.#cpu(op !== 'relu' ? 'no wasm kernel' : `${x.dtype}`, cpu);
    return this.#kernel(() => {
      const n = sizeOf(x.shape);
      const xAt = this.#io.in(x);
      const [outAt, done] = this.#io.out(n);
      const n4 = (n + 3) >> 2;
      this.gemm.parallel('relu', [xAt, outAt, n4], { count: 2, ptrs: [[0, 16], [1, 16]] }, n4, 8 * n);
      return done();
    }, cpu);
  }

  /**
   * add, sub, mul and div of float32 on the SIMD kernel when both operands lie in the
   * memory with evenly spaced rows, each row contiguous or one value broadcast along it
   * (tensors of one shape, a bias over a batch, a per-row scale); every other case is the
   * CPU code. Bit-equal to it (IEEE single-precision results either way).
   */
  override binary(op: BinaryOp, a: View, b: View, outDtype: DType): DataId {
    this.#route = 'wasm';
    const kernel = outDtype === 'float32' && a.dtype === 'float32' && b.dtype === 'float32' ? this.#binaryPlan(op, a, b) : null;
    if (kernel === null) return this.#cpu('no wasm kernel for this case', () => super.binary(op, a, b, outDtype));
    const { rows, n, ra, rb, mode } = this.#plan;
    const aAt = values(a).byteOffset + 4 * a.offset;
    const bAt = values(b).byteOffset + 4 * b.offset;
    // the usual case: the result straight into an array of the memory; the kernel needs no
    // work block, so no scope to run in (small ops pay for nothing they do not use)
    const out = this.#memory.inMemory('float32', rows * n);
    if (out !== null) {
      // a large op of whole-vector rows (a bias over [tokens, features]) split by rows
      // across the threads; small ones stay a single direct call
      if ((n & 3) === 0 && 12 * rows * n >= PARALLEL_MIN_BYTES && this.gemm.threads > 1) {
        const plan = { count: 3, ptrs: [[0, 4 * ra], [1, 4 * rb], [2, 4 * n]] as const };
        this.gemm.parallel(op as keyof typeof BINARY_KERNELS, [aAt, bAt, out.byteOffset, rows, n, 4 * ra, 4 * rb, mode], plan, rows, 12 * rows * n);
      } else kernel(aAt, bAt, out.byteOffset, rows, n, 4 * ra, 4 * rb, mode);
      return wrap(out);
    }
    return this.#kernel(() => {
      const [outAt, done] = this.#io.out(rows * n);
      kernel(aAt, bAt, outAt, rows, n, 4 * ra, 4 * rb, mode);
      return done();
    }, () => super.binary(op, a, b, outDtype));
  }

  /**
   * The kernel for a binary op, its rows, row length, row strides (floats) and mode (see
   * kernels/elementwise.ts) left in `#plan`; or null for the CPU code.
   */
  #binaryPlan(op: BinaryOp, a: View, b: View): KernelExports['add'] | null {
    if (!(op in BINARY_KERNELS)) return null;
    const nd = a.shape.length;
    const n = nd === 0 ? 0 : a.shape[nd - 1];
    if (n < 4) return null;
    const ra = rowStride(a);
    const rb = rowStride(b);
    if (ra === null || rb === null) return null;
    const sa = a.strides[nd - 1];
    const sb = b.strides[nd - 1];
    const mode = sa === 1 && sb === 1 ? 0 : sa === 1 && sb === 0 ? 1 : sa === 0 && sb === 1 ? 2 : -1;
    if (mode < 0 || !this.#memory.owns(values(a)) || !this.#memory.owns(values(b))) return null;
    const plan = this.#plan;
    plan.rows = sizeOf(a.shape) / n;
    plan.n = n;
    plan.ra = ra;
    plan.rb = rb;
    plan.mode = mode;
    return this.gemm.kernels[op as keyof typeof BINARY_KERNELS];
  }

  /**
   * Sums of float32 over trailing axes (a bias's gradient over positions) or over leading
   * axes (over a batch, rows of 4 or more) on the SIMD kernels, accumulated in
   * float64 like the CPU code (the trailing sums in another order: equal to rounding);
   * every other reduction is the CPU code.
   */
  override reduce(op: ReduceOp, x: View, axes: readonly number[]): DataId {
    this.#route = 'wasm';
    const cpu = () => super.reduce(op, x, axes);
    const nd = x.shape.length;
    const some = axes.length > 0 && axes.length < nd;
    const trailing = some && axes.every((a, i) => a === nd - axes.length + i);
    const leading = some && axes.every((a, i) => a === i);
    const n = sizeOf(x.shape.slice(nd - axes.length));
    const cols = sizeOf(x.shape.slice(axes.length));
    const whole = nd > 0 && axes.length === nd && n >= WHOLE_SUM_MIN;
    if (op !== 'sum' || x.dtype !== 'float32' || !((trailing && n >= 16) || (leading && cols >= 4) || whole)) return this.#cpu('no wasm kernel for this reduction', cpu);
    return this.#kernel(() => {
      const xAt = this.#io.in(x);
      if (whole) return this.#wholeSum(xAt, n);
      if (trailing) {
        const rows = sizeOf(x.shape.slice(0, nd - axes.length));
        const [outAt, done] = this.#io.out(rows);
        this.gemm.parallel('rowSum', [xAt, outAt, rows, n], { count: 2, ptrs: [[0, 4 * n], [1, 4]] }, rows, 4 * rows * n);
        return done();
      }
      // over leading axes (a bias's gradient over a batch): column sums, split by columns
      const [outAt, done] = this.#io.out(cols);
      const rows = sizeOf(x.shape) / cols;
      this.gemm.split('colSums', { x: xAt, out: outAt, rows, n: cols, width: cols }, { x: 4, out: 4 }, 4 * rows * cols);
      return done();
    }, cpu);
  }

  /**
   * The sum of n float32 at xAt: float64 sums of 64 equal parts across the threads
   * (rowSum64), then of the parts and the last n mod 64 values in order, rounded once (the
   * CPU code sums in float64 too, one value after another: the same float32 result but for
   * a float64 rounding landing on a float32 tie).
   */
  #wholeSum(xAt: number, n: number): DataId {
    const len = Math.floor(n / WHOLE_SUM_PARTS);
    const partsAt = this.#io.work(8 * WHOLE_SUM_PARTS);
    this.gemm.parallel('rowSum64', [xAt, partsAt, WHOLE_SUM_PARTS, len], { count: 2, ptrs: [[0, 4 * len], [1, 8]] }, WHOLE_SUM_PARTS, 4 * n);
    const f = this.gemm.heap.f32;
    const parts = new Float64Array(f.buffer, partsAt, WHOLE_SUM_PARTS);
    let acc = 0;
    for (let k = 0; k < WHOLE_SUM_PARTS; k++) acc += parts[k];
    for (let i = WHOLE_SUM_PARTS * len; i < n; i++) acc += f[(xAt >> 2) + i];
    const [outAt, done] = this.#io.out(1);
    this.gemm.heap.f32[outAt >> 2] = acc;
    return done();
  }

  // ---- the transformer's row passes on the SIMD kernels (backend-transformer.ts); other dtypes: the CPU code

  override layerNorm(x: View, weight: View | null, bias: View | null, D: number, eps: number, save: SaveForBackward = null): DataId | null {
    return this.#rows(() => this.transformer.layerNorm(x, weight, bias, D, eps, save), () => super.layerNorm(x, weight, bias, D, eps, save));
  }
  override layerNormBackward(x: View, weight: View | null, dy: View, D: number, eps: number, saved: readonly View[] = []): DataId | null {
    return this.#rows(() => this.transformer.layerNormBackward(x, weight, dy, D, saved), () => super.layerNormBackward(x, weight, dy, D, eps, saved));
  }
  override gelu(x: View, approximate: 'none' | 'tanh', save: SaveForBackward = null): DataId | null {
    return this.#rows(() => this.transformer.gelu(x, approximate, save), () => super.gelu(x, approximate, save));
  }
  override geluBackward(x: View, dy: View, approximate: 'none' | 'tanh', saved: readonly View[] = []): DataId | null {
    return this.#rows(() => this.transformer.geluBackward(x, dy, approximate, saved), () => super.geluBackward(x, dy, approximate, saved));
  }
  /** attention in one kernel per pass where it covers the call; else the host kernel, on this backend's products and softmax passes */
  override scaledDotProductAttention(q: View, k: View, v: View, masks: readonly View[], scale: number, causal: boolean, save: SaveForBackward = null): DataId | null {
    return this.#rows(() => this.transformer.attention(q, k, v, masks, scale, causal, save), () => super.scaledDotProductAttention(q, k, v, masks, scale, causal, save));
  }
  override scaledDotProductAttentionBackward(q: View, k: View, v: View, dy: View, masks: readonly View[], scale: number, causal: boolean, saved: readonly View[] = []): DataId | null {
    return this.#rows(() => this.transformer.attentionBackward(q, k, v, dy, masks, scale, causal, saved), () => super.scaledDotProductAttentionBackward(q, k, v, dy, masks, scale, causal, saved));
  }
  /** AttentionSteps' softmax passes for the host attention kernel (CpuBackend passes itself as its steps). */
  softmaxRowsInPlace(scores: DataId, rows: number, L: number, S: number, scale: number, causal: boolean, masks: readonly View[]): boolean {
    return this.transformer.softmaxRows(scores, rows, L, S, scale, causal, masks);
  }
  softmaxBackwardInPlace(P: View, dP: DataId, rows: number, S: number, scale: number): boolean {
    return this.transformer.softmaxBackward(P, dP, rows, S, scale);
  }
  /** strided copies and concatenations of 4-byte values by rows on the kernel (attention's heads, autograd's joins) */
  override copy(x: View): DataId {
    return this.#rows(() => this.transformer.copy(x), () => super.copy(x));
  }
  override concat(xs: readonly View[], axis: number, outShape: readonly number[]): DataId {
    return this.#rows(() => this.transformer.concat(xs, axis, outShape, (v) => this.copy(v)), () => super.concat(xs, axis, outShape));
  }
  #rows<T extends DataId | null>(run: () => DataId | null, cpu: () => T): DataId | T {
    this.#route = 'wasm';
    return this.#kernel(run, cpu) ?? this.#cpu('no wasm kernel for this case', cpu);
  }

  /** The relu gradient on the SIMD kernel (float32). */
  override reluBackward(x: View, dy: View): DataId | null {
    this.#route = 'wasm';
    const cpu = () => super.reluBackward(x, dy);
    if (!allFloat32(x, dy)) return this.#cpu('not float32', cpu);
    return this.#kernel(() => {
      const n = sizeOf(x.shape);
      const [xAt, dyAt] = [this.#io.in(x), this.#io.in(dy)];
      const [outAt, done] = this.#io.out(n);
      const n4 = (n + 3) >> 2;
      this.gemm.parallel('reluGrad', [xAt, dyAt, outAt, n4], { count: 3, ptrs: [[0, 16], [1, 16], [2, 16]] }, n4, 12 * n);
      return done();
    }, cpu);
  }

  // ---- convolution and pooling: float32 cases on the kernels (backend-conv.ts), the rest CPU code

  /** The convolution's patch matrix (see CpuBackend.im2row) built by the kernel, for float32. */
  override im2row(x: View, p: Im2ColParams): DataId {
    this.#route = 'wasm';
    const cpu = () => super.im2row(x, p);
    if (x.dtype !== 'float32') return this.#cpu(x.dtype, cpu);
    return this.#kernel(() => this.#conv.im2row(x, p), cpu);
  }

  /** The adjoint of im2row on the kernel, for float32. */
  override row2im(rows: View, outShape: Shape4, p: Im2ColParams): DataId {
    this.#route = 'wasm';
    const cpu = () => super.row2im(rows, outShape, p);
    if (rows.dtype !== 'float32') return this.#cpu(rows.dtype, cpu);
    return this.#kernel(() => this.#conv.row2im(rows, outShape, p), cpu);
  }

  override conv2d(x: View, w: View, bias: View | null, p: Im2ColParams, groups = 1, save: SaveForBackward = null): DataId | null {
    if (groups !== 1) return null;
    this.#route = 'wasm';
    const cpu = () => super.conv2d(x, w, bias, p);
    if (!allFloat32(x, w, ...(bias ? [bias] : []))) return this.#cpu('not float32', cpu);
    if (empty(x, w)) return this.#cpu('no channels or images', cpu);
    return this.#kernel<DataId | null>(() => this.#conv.conv2d(x, w, bias, p, save), cpu);
  }

  override conv2dBackwardInput(dy: View, w: View, xShape: Shape4, p: Im2ColParams, groups = 1): DataId | null {
    if (groups !== 1) return null;
    this.#route = 'wasm';
    const cpu = () => super.conv2dBackwardInput(dy, w, xShape, p);
    if (!allFloat32(dy, w)) return this.#cpu('not float32', cpu);
    if (empty(dy, w)) return this.#cpu('no channels or images', cpu);
    return this.#kernel<DataId | null>(() => this.#conv.conv2dBackwardInput(dy, w, xShape, p), cpu);
  }

  override conv2dBackwardWeight(dy: View, x: View, wShape: Shape4, p: Im2ColParams, groups = 1, saved: readonly View[] = []): DataId | null {
    if (groups !== 1) return null;
    this.#route = 'wasm';
    const cpu = () => super.conv2dBackwardWeight(dy, x, wShape, p);
    if (!allFloat32(dy, x)) return this.#cpu('not float32', cpu);
    if (empty(dy, x)) return this.#cpu('no channels or images', cpu);
    return this.#kernel<DataId | null>(() => this.#conv.conv2dBackwardWeight(dy, x, p, saved), cpu);
  }

  /** Max pooling on the kernel when windows tile the image (stride = kernel, no padding or dilation). */
  override maxPool2d(x: View, p: Im2ColParams): DataId | null {
    this.#route = 'wasm';
    const cpu = () => super.maxPool2d(x, p);
    const g = tiledPool(x, p);
    if (g === null) return this.#cpu('windows do not tile the image, or not float32', cpu);
    return this.#kernel<DataId | null>(() => this.#conv.maxPool2d(x, g), cpu);
  }

  override maxPool2dBackward(x: View, y: View, dy: View, p: Im2ColParams): DataId | null {
    this.#route = 'wasm';
    const cpu = () => super.maxPool2dBackward(x, y, dy, p);
    const g = tiledPool(x, p);
    if (g === null || !allFloat32(y, dy)) return this.#cpu('windows do not tile the image, or not float32', cpu);
    return this.#kernel<DataId | null>(() => this.#conv.maxPool2dBackward(x, y, dy, g), cpu);
  }

  /**
   * A float32 dropout mask drawn on the kernel (see Backend.fillDropoutMask): the same draws,
   * values and generator state after as the JavaScript loop; false when the data are not
   * in the module memory (or no room is left for the state's 16 bytes).
   */
  fillDropoutMask(data: DataId, n: number, state: Uint32Array, cut: number, scale: number): boolean {
    const a = dataValues(data);
    if (!(a instanceof Float32Array) || !this.#memory.owns(a) || a.length < n) return false;
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
    return this.#memory.scoped(() => {
      const n = P.length;
            // the kernel works on whole vectors: it may write in place only when n fills them
      const inPlace = (x: Float32Array) => n % 4 === 0 && this.#memory.owns(x);
      const place = (x: Float32Array) => (inPlace(x) ? x.byteOffset : this.#io.in({ data: wrap(x), dtype: 'float32', shape: [n], strides: [1], offset: 0 }));
      const [pAt, gAt, mAt, vAt] = [P, G, M, V].map(place);
      const out = this.#memory.array('float32', n) as Float32Array; // every element is written
      const outAt = inPlace(out) ? out.byteOffset : this.#io.work(4 * n);
      const n4 = (n + 3) >> 2;
      const args = [pAt, gAt, mAt, vAt, outAt, n4, s.b1, 1 - s.b1, s.b2, 1 - s.b2, 1 / s.sbc2, s.eps, s.stepSize, s.decay, s.l2, s.sign];
      const plan = { count: 5, ptrs: [0, 1, 2, 3, 4].map((i) => [i, 16] as const), floats: [6, 7, 8, 9, 10, 11, 12, 13, 14, 15] };
      this.gemm.parallel('adam', args, plan, n4, 28 * n); // by vectors: a square root and a division each
      const f = this.gemm.heap.f32;
      if (!inPlace(M)) M.set(f.subarray(mAt >> 2, (mAt >> 2) + n));
      if (!inPlace(V)) V.set(f.subarray(vAt >> 2, (vAt >> 2) + n));
      if (!inPlace(out)) out.set(f.subarray(outAt >> 2, (outAt >> 2) + n));
      return wrap(out);
    }, resultArray);
  }

  /**
   * Rows of a float32 or int32 matrix picked by an index (indexSelect along the first axis,
   * a batch drawn from a dataset): one memory copy a row on the kernel; every other gather
   * is the CPU code.
   */
  override gather(x: View, axis: number, index: View): DataId {
    const cpu = () => super.gather(x, axis, index);
    const rows = this.#wholeRows(x, axis, index);
    if (rows === null) return this.#cpu('not whole rows of a 4-byte dtype in the memory', cpu);
    return this.#kernel(() => {
      const inner = sizeOf(x.shape) / Math.max(x.shape[0], 1);
      const out = this.#memory.array(x.dtype, rows.length * inner);
      if (!this.#memory.owns(out)) {
        this.#memory.recycle(out);
        return this.#cpu('module memory full', cpu);
      }
      this.#route = 'wasm';
      this.gemm.kernels.copyRows(values(x).byteOffset + 4 * x.offset, out.byteOffset, this.#io.int32s(rows), rows.length, 4 * inner);
      return wrap(out);
    }, cpu);
  }

  /** The rows a gather along the first axis picks when it copies whole rows of at least 16 values of x in the memory, else null. */
  #wholeRows(x: View, axis: number, index: View): Int32Array | null {
    if (axis !== 0 || (x.dtype !== 'float32' && x.dtype !== 'int32') || index.dtype !== 'int32' || !isContiguousView(x)) return null;
    if (!this.#memory.owns(values(x))) return null;
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
    return rows;
  }

  /**
   * The host recurrent kernels' fixed right operand b [1, K, N] (float32; W_hh or its
   * transpose), packed once into the product's panels in a work block of the running
   * primitive (given back when it returns); each step's product then runs on those panels
   * (packedProduct) instead of packing b again. Products too small for the kernel, other
   * dtypes, and a memory too full for the panels: matmul.
   */
  #prepare(b: View): PreparedProduct | null {
    const [one, K, N] = b.shape;
    if (b.dtype !== 'float32' || one !== 1 || K * N === 0) return null;
    const bAt = this.#io.workOrNone(32 * K * Math.ceil(N / 8)); // 0: the memory is full, matmul a step
    if (bAt === 0) return null;
    this.gemm.packInto(strided(b), K, N, bAt);
    return {
      times: (a) => {
        const M = a.shape[1];
        if (a.dtype !== 'float32' || a.shape[0] !== 1 || M * K * N < MIN_WORK) return this.matmul(a, b);
        this.stats.wasm++;
        return this.#kernel(() => {
          const out = this.#memory.array('float32', M * N) as Float32Array;
          this.gemm.packedProduct(strided(a), M, K, N, bAt, out);
          return wrap(out);
        }, () => super.matmul(a, b));
      },
      dispose: () => undefined,
    };
  }

  /**
   * A Linear layer's x·Wᵀ + b (float32, x contiguous, W [out, in] contiguous, bias [out] or
   * none) as one product whose accumulators start from the bias (gemmBias): no second pass
   * over the output to add it. Small products, and other layouts and dtypes: the CPU code.
   */
  override linear(x: View, weight: View, bias: View | null): DataId | null {
    const [out, inF] = weight.shape;
    const rows = sizeOf(x.shape.slice(0, -1));
    const fits = [x, weight, ...(bias ? [bias] : [])].every((v) => v.dtype === 'float32' && isContiguousView(v));
    if (!fits || rows === 0 || rows * inF * out < MIN_WORK) return super.linear(x, weight, bias);
    this.#route = 'wasm';
    this.stats.wasm++;
    return this.#kernel(() => {
      const y = this.#memory.array('float32', rows * out) as Float32Array;
      // the bias row, zeros past `out` to whole panels (no bias: the plain product)
      let biasAt = 0;
      if (bias) {
        const Np = 8 * Math.ceil(out / 8);
        biasAt = this.#io.work(4 * Np);
        this.gemm.kernels.fill32(biasAt, Np, 0);
        this.gemm.heap.f32.set(values(bias).subarray(bias.offset, bias.offset + out), biasAt >> 2);
      }
      const A = { data: values(x), offset: x.offset, sb: 0, si: inF, sj: 1 };
      // Wᵀ [in, out]: W's rows are its columns
      const B = { data: values(weight), offset: weight.offset, sb: 0, si: 1, sj: inF };
      this.gemm.matmul(A, B, 1, rows, inF, out, y, biasAt);
      return wrap(y);
    }, () => super.linear(x, weight, bias));
  }

  override matmul(a: View, b: View): DataId {
    this.#route = 'wasm';
    const cpu = () => super.matmul(a, b);
    const [B, M, K] = a.shape;
    const N = b.shape[2];
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || B * M * K * N < MIN_WORK) {
      this.stats.fallback++;
      return this.#cpu(a.dtype !== 'float32' || b.dtype !== 'float32' ? `${a.dtype} operands` : 'small product', cpu);
    }
    this.stats.wasm++;
    return this.#kernel(() => {
      const out = this.#memory.array('float32', B * M * N) as Float32Array;
      this.gemm.matmul(strided(a), strided(b), B, M, K, N, out);
      return wrap(out);
    }, cpu);
  }
}

/** A [B, R, C] view as the product's strided operand. */
const strided = (v: View): Strided => ({ data: values(v), offset: v.offset, sb: v.strides[0], si: v.strides[1], sj: v.strides[2] });

/** The array holding a primitive's result (null: it declined), which its scope keeps. */
const resultArray = (out: DataId | null): TypedArray | null => (out === null ? null : dataValues(out));

/** fewest values for a whole float32 sum on the kernel, and the parts it is cut into */
const WHOLE_SUM_MIN = 1 << 14;
const WHOLE_SUM_PARTS = 64;
