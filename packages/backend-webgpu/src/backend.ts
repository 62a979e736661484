import {
  checkOptions,
  fromData,
  optionKeys,
  patchOutputSize,
  sizeOf,
  type ArgReduceOp,
  type Backend,
  type BinaryOp,
  type DataId,
  type DType,
  type HeapInfo,
  type Kernel,
  type Im2ColParams,
  type ReduceOp,
  type TypedArray,
  type UnaryOp,
  type View,
} from '@ml/tensor';
import {
  adamKernel,
  argReduceKernel,
  binaryKernel,
  castKernel,
  col2imKernel,
  fillKernel,
  gatherKernel,
  im2colKernel,
  INDEX_ERRORS,
  matmulKernel,
  padKernel,
  placeKernel,
  reduceKernel,
  scatterAddKernel,
  unaryKernel,
  whereKernel,
  type AdamScalars,
  type KernelCall,
} from './kernels.js';

// GPUBufferUsage / GPUMapMode bits, written out so nothing depends on the globals being installed
const MAP_READ = 0x1;
const COPY_SRC = 0x4;
const COPY_DST = 0x8;
const UNIFORM = 0x40;
const STORAGE = 0x80;

/** A tensor's buffer: 4 bytes an element (float32 as f32; int32 and bool as i32). */
interface GpuData {
  buffer: GPUBuffer | null;
  /** elements */
  size: number;
  dtype: DType;
  /** bytes of the buffer (a size class: see `classBytes`) */
  bytes: number;
}

/** Bytes a buffer of `n` bytes is taken from: a multiple of 256, so buffers of nearby sizes are shared. */
function classBytes(n: number): number {
  return Math.max(256, Math.ceil(n / 256) * 256);
}

/** Bytes of parameter blocks one batch of commands can hold (each block starts at a multiple of 256). */
const ARENA_BYTES = 64 * 1024;
const PARAM_ALIGN = 256;
/** Fills of at most this many elements are written from the host. */
const SMALL_FILL = 1024;
/** Kernels queued before the batch is submitted without waiting for a read. */
const BATCH_KERNELS = 64;

export interface WebGpuOptions {
  /** the backend's registered name (default 'webgpu') */
  name?: string;
  /** bytes of freed buffers kept for reuse (default 256 MiB); past that a freed buffer is destroyed */
  poolBytes?: number;
}

const WEBGPU_KEYS = optionKeys<WebGpuOptions>()(['name', 'poolBytes']);

export interface WebGpuStats {
  /** kernels queued since the backend was made */
  kernels: number;
  /** pipelines compiled (one per distinct kernel structure) */
  pipelines: number;
  /** batches of commands submitted */
  submits: number;
}

function unsupported(op: string, dtype: DType): Error {
  return new TypeError(
    `webgpu: ${op} got a ${dtype} tensor — WGSL has no 64-bit floats; use float32 on this backend, or keep float64 work on the cpu backend (await toBackend(t, 'cpu'))`,
  );
}

/**
 * Tensors in GPU buffers, every primitive a WGSL compute kernel. Kernels are recorded into
 * one command encoder and submitted in batches (before every read, and every 64 kernels);
 * freed buffers go back to a pool by size class. Reads are asynchronous only: use
 * `await t.data()`.
 */
export class WebGpuBackend implements Backend {
  readonly name: string;
  readonly dtypes: readonly DType[] = ['float32', 'int32', 'bool'];
  readonly device: GPUDevice;
  readonly stats: WebGpuStats = { kernels: 0, pipelines: 0, submits: 0 };

  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly pool = new Map<number, GPUBuffer[]>();
  private readonly poolLimit: number;
  private pooledBytes = 0;
  private liveBytes = 0;
  private liveBlocks = 0;
  private encoder: GPUCommandEncoder | null = null;
  private queued = 0;
  private readonly arena: GPUBuffer;
  private readonly staging = new Int32Array(ARENA_BYTES / 4);
  private arenaUsed = 0;
  /** Index kernels report an out-of-range index here: [op code, index, size, 0]. */
  private readonly errors: GPUBuffer;
  private lost: string | null = null;
  /** The first error the device reported (a command it refused), surfaced at the next read. */
  private deviceError: string | null = null;

  constructor(device: GPUDevice, options: WebGpuOptions = {}) {
    checkOptions('WebGpuBackend', options, WEBGPU_KEYS);
    this.name = options.name ?? 'webgpu';
    this.device = device;
    this.poolLimit = options.poolBytes ?? 256 * 2 ** 20;
    this.arena = device.createBuffer({ size: ARENA_BYTES, usage: UNIFORM | COPY_DST });
    this.errors = device.createBuffer({ size: 16, usage: STORAGE | COPY_SRC | COPY_DST });
    void device.lost.then((info) => {
      this.lost = info.message || info.reason;
    });
    device.addEventListener('uncapturederror', (e) => {
      this.deviceError ??= (e as GPUUncapturedErrorEvent).error.message;
    });
  }

  lastRoute(): string {
    return this.name;
  }

  // ---------------------------------------------------------------- memory

  /**
   * A buffer for `size` elements: a pooled one of its size class when there is one. For a
   * write from the host (`forWrite`) not one the batch being recorded uses: the write
   * happens before that batch runs.
   */
  private alloc(size: number, dtype: DType, forWrite = false): GpuData {
    if (dtype === 'float64') throw unsupported('a new tensor', dtype);
    this.assertUsable();
    const bytes = classBytes(size * 4);
    if (bytes > this.device.limits.maxBufferSize) {
      throw new RangeError(`webgpu: a tensor of ${size} elements (${mib(bytes)}) is larger than this device's largest buffer (${mib(this.device.limits.maxBufferSize)}); keep it on the cpu backend and move parts of it`);
    }
    const list = this.pool.get(bytes);
    let buffer: GPUBuffer | undefined;
    if (list !== undefined) {
      let k = list.length - 1;
      if (forWrite) while (k >= 0 && this.usedIn.get(list[k]) === this.batch) k--;
      if (k >= 0) buffer = list.splice(k, 1)[0];
    }
    if (buffer) this.pooledBytes -= bytes;
    else buffer = this.device.createBuffer({ size: bytes, usage: STORAGE | COPY_SRC | COPY_DST });
    this.liveBytes += bytes;
    this.liveBlocks++;
    return { buffer, size, dtype, bytes };
  }

  private data(id: DataId, op: string): GpuData & { buffer: GPUBuffer } {
    const d = id as GpuData;
    if (d.buffer === null) throw new Error(`webgpu: ${op} read a buffer that was already freed`);
    return d as GpuData & { buffer: GPUBuffer };
  }

  dispose(id: DataId): void {
    const d = id as GpuData;
    if (d.buffer === null) return;
    this.liveBytes -= d.bytes;
    this.liveBlocks--;
    // Kernels still queued may read it; a later kernel that is handed the same buffer runs
    // after them (passes execute in order), so it can be reused at once. Destroying waits
    // for a submit.
    if (this.pooledBytes + d.bytes <= this.poolLimit) {
      const list = this.pool.get(d.bytes);
      if (list) list.push(d.buffer);
      else this.pool.set(d.bytes, [d.buffer]);
      this.pooledBytes += d.bytes;
    } else {
      const b = d.buffer;
      if (this.encoder === null) b.destroy();
      else this.afterSubmit.push(() => b.destroy());
    }
    d.buffer = null;
  }

  private afterSubmit: (() => void)[] = [];
  /** Batches submitted so far (the one being recorded has this number). */
  private batch = 0;
  /** The last batch each buffer was bound in. */
  private readonly usedIn = new WeakMap<GPUBuffer, number>();

  heap(): HeapInfo {
    return { reservedBytes: this.liveBytes + this.pooledBytes, liveBytes: this.liveBytes, freeBytes: this.pooledBytes, liveBlocks: this.liveBlocks };
  }

  /** Destroy the pooled buffers (live tensors keep theirs). */
  trim(): void {
    this.flush();
    for (const list of this.pool.values()) for (const b of list) b.destroy();
    this.pool.clear();
    this.pooledBytes = 0;
  }

  /** Whether the device is gone (lost, or `destroy()` was called): register the backend again for a new one. */
  get isLost(): boolean {
    return this.lost !== null;
  }

  private assertUsable(): void {
    if (this.lost !== null) throw new Error(`webgpu: the GPU device was lost (${this.lost}); register the backend again`);
  }

  // ---------------------------------------------------------------- transfers

  write(values: TypedArray, dtype: DType): DataId {
    // queue.writeBuffer runs before the kernels still being recorded, so the buffer is one
    // none of them uses (alloc's forWrite)
    const d = this.alloc(values.length, dtype, true);
    if (values.length > 0) {
      const words = dtype === 'bool' ? Int32Array.from(values as Uint8Array) : values;
      this.device.queue.writeBuffer(d.buffer!, 0, words.buffer, words.byteOffset, values.length * 4);
    }
    return d;
  }

  async read(id: DataId): Promise<TypedArray> {
    const d = this.data(id, 'read');
    const bytes = d.size * 4;
    const staging = this.device.createBuffer({ size: bytes + 16, usage: MAP_READ | COPY_DST });
    this.record((enc) => {
      if (bytes > 0) enc.copyBufferToBuffer(d.buffer, 0, staging, 0, bytes);
      enc.copyBufferToBuffer(this.errors, 0, staging, bytes, 16);
    });
    this.flush();
    try {
      await staging.mapAsync(MAP_READ);
      if (this.deviceError !== null) {
        const message = this.deviceError;
        this.deviceError = null;
        throw new Error(`webgpu: the device refused a command queued before this read (its results are not valid): ${message}`);
      }
      const mapped = staging.getMappedRange();
      const err = new Int32Array(mapped, bytes, 4);
      if (err[0] !== 0) {
        const [code, index, size] = err;
        this.device.queue.writeBuffer(this.errors, 0, new Int32Array(4));
        throw new RangeError(
          `${INDEX_ERRORS[code] ?? 'an index op'}: index ${index} is out of range for a dim of size ${size} (found on the GPU by a kernel queued before this read; that op's result is not valid)`,
        );
      }
      return convertOut(new Int32Array(mapped, 0, d.size), d.dtype);
    } finally {
      staging.destroy();
    }
  }

  // ---------------------------------------------------------------- running kernels

  private record(fn: (enc: GPUCommandEncoder) => void): void {
    this.assertUsable();
    this.encoder ??= this.device.createCommandEncoder();
    fn(this.encoder);
  }

  /** Submit what is recorded (with its parameter blocks). */
  flush(): void {
    if (this.encoder === null) return;
    if (this.arenaUsed > 0) this.device.queue.writeBuffer(this.arena, 0, this.staging.buffer, 0, this.arenaUsed);
    this.device.queue.submit([this.encoder.finish()]);
    this.stats.submits++;
    this.batch++;
    this.encoder = null;
    this.queued = 0;
    this.arenaUsed = 0;
    for (const f of this.afterSubmit.splice(0)) f();
  }

  private pipeline(source: string): GPUComputePipeline {
    let p = this.pipelines.get(source);
    if (p === undefined) {
      const module = this.device.createShaderModule({ code: source });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
      this.pipelines.set(source, p);
      this.stats.pipelines++;
    }
    return p;
  }

  /** Queue one kernel over `buffers` (bindings 1…, in the order the kernel declares them). */
  private dispatch(call: KernelCall, buffers: readonly (GPUBuffer | GPUBufferBinding)[]): void {
    const words = call.params.data();
    const need = Math.ceil(words.byteLength / PARAM_ALIGN) * PARAM_ALIGN;
    if (this.arenaUsed + need > ARENA_BYTES || this.queued >= BATCH_KERNELS) this.flush();
    const pipeline = this.pipeline(call.source);
    const at = this.arenaUsed;
    this.staging.set(words, at / 4);
    this.arenaUsed += need;
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.arena, offset: at, size: words.byteLength } }];
    buffers.forEach((b, i) => {
      const binding = 'buffer' in b ? b : { buffer: b };
      this.usedIn.set(binding.buffer, this.batch);
      entries.push({ binding: i + 1, resource: binding });
    });
    const group = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    this.record((enc) => {
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(...call.groups);
      pass.end();
    });
    this.queued++;
    this.stats.kernels++;
  }

  /**
   * A new buffer of `size` elements filled by the kernel `build` makes for the views (as
   * bound: see `bind`), with `extra` buffers bound after the output.
   */
  private run(op: string, inputs: readonly View[], build: (views: View[]) => KernelCall, size: number, dtype: DType, extra: readonly GPUBuffer[] = []): DataId {
    // bound first: a view that cannot be bound throws before the output is taken
    const bound = size > 0 ? inputs.map((v) => this.bind(v, op)) : [];
    const out = this.output(op, size, dtype);
    if (size > 0) this.dispatch(build(bound.map((b) => b.view)), [...bound.map((b) => b.binding), out.buffer!, ...extra]);
    return out;
  }

  /** A buffer for a kernel to write: one the device can bind whole. */
  private output(op: string, size: number, dtype: DType): GpuData {
    const limit = this.device.limits.maxStorageBufferBindingSize;
    if (size * 4 > limit) {
      throw new RangeError(`webgpu: ${op} would write a tensor of ${size} elements (${mib(size * 4)}); this device binds at most ${mib(limit)} at once — keep tensors this large on the cpu backend`);
    }
    return this.alloc(size, dtype);
  }

  /**
   * How a view's buffer is bound: whole, or past the device's largest binding (128 MiB
   * on many) the 256-byte-aligned window its elements lie in, the view rebased into it.
   */
  private bind(v: View, op: string): { view: View; binding: GPUBufferBinding } {
    if (v.dtype === 'float64') throw unsupported(op, v.dtype);
    const d = this.data(v.data, op);
    const limit = this.device.limits.maxStorageBufferBindingSize;
    if (d.bytes <= limit) return { view: v, binding: { buffer: d.buffer } };
    let lo = v.offset;
    let hi = v.offset;
    v.shape.forEach((n, i) => {
      const reach = (n - 1) * v.strides[i];
      if (n > 0) {
        lo += Math.min(0, reach);
        hi += Math.max(0, reach);
      }
    });
    const base = Math.floor((lo * 4) / 256) * 256;
    const size = (hi + 1) * 4 - base;
    if (size > limit) {
      throw new RangeError(
        `webgpu: ${op} reads ${mib(size)} of one ${mib(d.bytes)} buffer; this device binds at most ${mib(limit)} at once — keep large datasets on the cpu backend and move batches over (fit does)`,
      );
    }
    return { view: { ...v, offset: v.offset - base / 4 }, binding: { buffer: d.buffer, offset: base, size } };
  }

  // ---------------------------------------------------------------- primitives

  fill(size: number, dtype: DType, value: number): DataId {
    // a small one (a scalar operand) is a write from the host: cheaper than a kernel
    if (size <= SMALL_FILL) return this.write(new (dtype === 'float32' ? Float32Array : Int32Array)(size).fill(dtype === 'bool' ? +(value !== 0) : value), dtype);
    return this.run('fill', [], () => fillKernel(size, dtype, value), size, dtype);
  }
  copy(x: View): DataId {
    return this.cast(x, x.dtype);
  }
  cast(x: View, dtype: DType): DataId {
    if (dtype === 'float64') throw unsupported('cast', dtype);
    return this.run('cast', [x], ([v]) => castKernel(v, dtype), sizeOf(x.shape), dtype);
  }
  unary(op: UnaryOp, x: View): DataId {
    return this.run(op, [x], ([v]) => unaryKernel(op, v), sizeOf(x.shape), x.dtype);
  }
  binary(op: BinaryOp, a: View, b: View, outDtype: DType): DataId {
    if (outDtype === 'float64') throw unsupported(op, outDtype);
    return this.run(op, [a, b], ([va, vb]) => binaryKernel(op, va, vb, outDtype), sizeOf(a.shape), outDtype);
  }
  where(cond: View, a: View, b: View): DataId {
    return this.run('where', [cond, a, b], ([vc, va, vb]) => whereKernel(vc, va, vb), sizeOf(a.shape), a.dtype);
  }
  reduce(op: ReduceOp, x: View, axes: readonly number[]): DataId {
    const n = sizeOf(x.shape.filter((_, i) => !axes.includes(i)));
    return this.run(op, [x], ([v]) => reduceKernel(op, v, axes), n, x.dtype);
  }
  argReduce(op: ArgReduceOp, x: View, axis: number): DataId {
    const n = sizeOf(x.shape.filter((_, i) => i !== axis));
    return this.run(op, [x], ([v]) => argReduceKernel(op, v, axis), n, 'int32');
  }
  matmul(a: View, b: View): DataId {
    const [B, M] = a.shape;
    const N = b.shape[2];
    if (a.shape[2] === 0) return this.fill(B * M * N, a.dtype, 0);
    return this.run('matmul', [a, b], ([va, vb]) => matmulKernel(va, vb), B * M * N, a.dtype);
  }
  gather(x: View, axis: number, index: View): DataId {
    return this.run('gather', [x, index], ([vx, vi]) => gatherKernel(vx, axis, vi), sizeOf(index.shape), x.dtype, [this.errors]);
  }
  scatterAdd(base: View, axis: number, index: View, src: View): DataId {
    const [bi, bs] = [this.bind(index, 'scatterAdd'), this.bind(src, 'scatterAdd')];
    const out = this.copy(base) as GpuData;
    if (sizeOf(index.shape) > 0) {
      this.dispatch(scatterAddKernel(base.shape, axis, bi.view, bs.view), [bi.binding, bs.binding, out.buffer!, this.errors]);
    }
    return out;
  }
  pad(x: View, low: readonly number[], high: readonly number[], interior: readonly number[], value: number): DataId {
    const outShape = x.shape.map((d, i) => low[i] + high[i] + (d > 0 ? d + (d - 1) * interior[i] : 0));
    return this.run('pad', [x], ([v]) => padKernel(v, low, interior, outShape, value), sizeOf(outShape), x.dtype);
  }
  concat(xs: readonly View[], axis: number, outShape: readonly number[]): DataId {
    const bound = xs.map((x) => this.bind(x, 'concat'));
    const out = this.output('concat', sizeOf(outShape), xs[0].dtype);
    let at = 0;
    xs.forEach((x, k) => {
      if (sizeOf(x.shape) > 0) this.dispatch(placeKernel(bound[k].view, outShape, axis, at), [bound[k].binding, out.buffer!]);
      at += x.shape[axis];
    });
    return out;
  }
  im2col(x: View, p: Im2ColParams): DataId {
    const [N, C, H, W] = x.shape;
    const [oh, ow] = patchOutputSize(x.shape, p);
    const size = N * C * p.kernel[0] * p.kernel[1] * oh * ow;
    return this.run('im2col', [x], ([v]) => im2colKernel(v, p, { N, C, H, W, oh, ow }), size, x.dtype);
  }
  col2im(cols: View, outShape: readonly [number, number, number, number], p: Im2ColParams): DataId {
    const [N, C, H, W] = outShape;
    const [oh, ow] = patchOutputSize(outShape, p);
    return this.run('col2im', [cols], ([v]) => col2imKernel(v, p, { N, C, H, W, oh, ow }), N * C * H * W, cols.dtype);
  }

  /**
   * The fused Adam step (registered as the 'adamUpdate' kernel): one kernel per parameter
   * instead of a dozen; the moments are updated in place, the new parameters returned.
   * Declines (null: the op-by-op path runs) for other dtypes or strided tensors.
   */
  readonly adamUpdate: Kernel = ([p, grad, m, v], attrs) => {
    const all = [p, grad, m, v];
    if (all.some((t) => t.dtype !== 'float32' || !t.isContiguous || t.backend !== this)) return null;
    if (this.device.limits.maxStorageBuffersPerShaderStage < 5) return null;
    const bound = all.map((t) => this.bind(t.view_(), 'adamUpdate'));
    if (bound.some((b) => b.view.offset !== 0)) return null;
    const out = this.output('adamUpdate', p.size, 'float32');
    if (p.size > 0) this.dispatch(adamKernel(p.size, attrs as unknown as AdamScalars), [...bound.map((b) => b.binding), out.buffer!]);
    return fromData(this, out, p.shape, 'float32');
  };

  /** Wait for every queued kernel to finish. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
  }

  /** Free every buffer and the device (tensors of this backend cannot be used afterwards). */
  destroy(): void {
    this.flush();
    this.trim();
    this.device.destroy();
    this.lost = 'destroy() was called';
  }
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 2 : 0)} MiB`;
}

/** A buffer's words as the dtype's typed array (a copy: the mapped range goes away). */
function convertOut(words: Int32Array, dtype: DType): TypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(words.buffer.slice(words.byteOffset, words.byteOffset + words.byteLength));
    case 'bool':
      return Uint8Array.from(words);
    default:
      return words.slice();
  }
}
