// Over 600 lines on purpose: the backend is one class, every primitive and fused kernel an entry point needing its private dispatch.
import { checkOptions, optionKeys, sizeOf, type Backend, type DType, type HeapInfo, type Im2ColParams, type Shape4, type TypedArray } from '@ml/tensor';
import { isContiguousView, patchOutputSize, type AdamStep, type ArgReduceOp, type BinaryOp, type DataId, type ReduceOp, type RnnSequenceAttrs, type SaveForBackward, type SequenceAttrs, type UnaryOp, type View } from '@ml/tensor/backend';
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
  type KernelCall,
} from './kernels.js';
import { conv2dBackwardInputKernel, conv2dBackwardWeightKernel, conv2dKernel, convProducts, convShapes, gemmFits, splitK } from './fused/conv.js';
import { avgPool2dKernel, disjointWindows, maxPool2dKernel, maxPoolGatherKernel, maxPoolScatterKernel, maxPoolShareKernel, type PoolShapes } from './fused/pool.js';
import { crossEntropyBackwardKernel, crossEntropyKernel, logSoftmaxKernel, reluBackwardKernel, softmaxKernel, sumOverKernel } from './fused/softmax.js';
import { attentionBackwardGpu, attentionGpu } from './fused/attention.js';
import * as norm from './fused/norm.js';
import * as seq from './fused/recurrent.js';
import { type GpuSteps } from './fused/steps.js';

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

  // ---------------------------------------------------------------- fused kernels
  // The optional parts of the backend contract (FusedKernels in @ml/tensor), built in
  // fused/. Each declines (null: the composite of primitives runs) what it does not
  // cover: dtypes other than float32, grouped convolutions, grids past the device's, and
  // softmax over an empty dim (which the composite refuses with its own message).

  conv2d(x: View, weight: View, bias: View | null, p: Im2ColParams, groups: number): DataId | null {
    const s = convShapes(x.shape, weight.shape[0], p);
    const g = convProducts(s, p).forward;
    if (groups !== 1 || !float32(x, weight, bias) || !gemmFits(g)) return null;
    const inputs = bias === null ? [x, weight] : [x, weight, bias];
    return this.run('conv2d', inputs, ([vx, vw, vb]) => conv2dKernel(vx, vw, vb ?? null, p, s), g.M * g.N, 'float32');
  }
  conv2dBackwardInput(dy: View, weight: View, xShape: Shape4, p: Im2ColParams, groups: number): DataId | null {
    const s = convShapes(xShape, weight.shape[0], p);
    const g = convProducts(s, p).input;
    if (groups !== 1 || !float32(dy, weight) || !gemmFits(g)) return null;
    return this.run('conv2dBackwardInput', [dy, weight], ([vd, vw]) => conv2dBackwardInputKernel(vd, vw, p, s), g.M * g.N, 'float32');
  }
  conv2dBackwardWeight(dy: View, x: View, wShape: Shape4, p: Im2ColParams, groups: number): DataId | null {
    const s = convShapes(x.shape, wShape[0], p);
    const g = convProducts(s, p).weight;
    if (groups !== 1 || !float32(dy, x) || !gemmFits(g)) return null;
    const split = splitK(g.M, g.N, g.K);
    const size = g.M * g.N;
    const parts = this.run('conv2dBackwardWeight', [dy, x], ([vd, vx]) => conv2dBackwardWeightKernel(vd, vx, p, s, split), split.splits * size, 'float32');
    if (split.splits === 1) return parts;
    // the partial products over ranges of (n, l), summed
    const out = this.reduce('sum', { data: parts, dtype: 'float32', shape: [split.splits, size], strides: [size, 1], offset: 0 }, [0]);
    this.dispose(parts);
    return out;
  }
  maxPool2d(x: View, p: Im2ColParams): DataId | null {
    if (!float32(x)) return null;
    const s = poolShapes(x.shape, p);
    return this.run('maxPool2d', [x], ([v]) => maxPool2dKernel(v, p, s), s.N * s.C * s.oh * s.ow, 'float32');
  }
  maxPool2dBackward(x: View, y: View, dy: View, p: Im2ColParams): DataId | null {
    if (!float32(x, y, dy)) return null;
    const s = poolShapes(x.shape, p);
    if (disjointWindows(p)) {
      const bound = [x, y, dy].map((v) => this.bind(v, 'maxPool2dBackward'));
      const dx = this.fill(s.N * s.C * s.H * s.W, 'float32', 0) as GpuData;
      const [vx, vy, vd] = bound.map((b) => b.view);
      if (s.N * s.C * s.oh * s.ow > 0) this.dispatch(maxPoolScatterKernel(vx, vy, vd, p, s), [...bound.map((b) => b.binding), dx.buffer!]);
      return dx;
    }
    const shares = this.run('maxPool2dBackward', [x, y, dy], ([vx, vy, vd]) => maxPoolShareKernel(vx, vy, vd, p, s), s.N * s.C * s.oh * s.ow, 'float32');
    const dx = this.run('maxPool2dBackward', [x, y], ([vx, vy]) => maxPoolGatherKernel(vx, vy, p, s), s.N * s.C * s.H * s.W, 'float32', [this.data(shares, 'maxPool2dBackward').buffer]);
    this.dispose(shares);
    return dx;
  }
  avgPool2d(x: View, p: Im2ColParams, countIncludePad: boolean): DataId | null {
    if (!float32(x)) return null;
    const s = poolShapes(x.shape, p);
    return this.run('avgPool2d', [x], ([v]) => avgPool2dKernel(v, p, s, countIncludePad), s.N * s.C * s.oh * s.ow, 'float32');
  }
  reluBackward(x: View, dy: View): DataId | null {
    if (!float32(x, dy)) return null;
    return this.run('reluBackward', [x, dy], ([vx, vd]) => reluBackwardKernel(vx, vd), sizeOf(x.shape), 'float32');
  }
  softmax(x: View, dim: number): DataId | null {
    if (!float32(x) || x.shape.length === 0 || x.shape[dim] === 0) return null; // the composite says what is wrong
    return this.run('softmax', [x], ([v]) => softmaxKernel(v, dim), sizeOf(x.shape), 'float32');
  }
  logSoftmax(x: View, dim: number): DataId | null {
    if (!float32(x) || x.shape.length === 0 || x.shape[dim] === 0) return null; // the composite says what is wrong
    return this.run('logSoftmax', [x], ([v]) => logSoftmaxKernel(v, dim), sizeOf(x.shape), 'float32');
  }
  softmaxCrossEntropy(logits: View, target: View, divisor: number | null): DataId | null {
    if (!float32(logits) || target.dtype !== 'int32' || logits.shape[1] === 0) return null;
    const N = logits.shape[0];
    const losses = this.run('softmaxCrossEntropy', [logits, target], ([vx, vt]) => crossEntropyKernel(vx, vt), N, 'float32', [this.errors]);
    if (divisor === null) return losses;
    const out = this.output('softmaxCrossEntropy', 1, 'float32');
    this.dispatch(sumOverKernel(N, divisor), [this.data(losses, 'softmaxCrossEntropy').buffer, out.buffer!]);
    this.dispose(losses);
    return out;
  }
  softmaxCrossEntropyBackward(logits: View, target: View, dy: View, divisor: number): DataId | null {
    if (!float32(logits, dy) || target.dtype !== 'int32' || logits.shape[1] === 0) return null;
    const build = ([vx, vt, vd]: View[]) => crossEntropyBackwardKernel(vx, vt, vd, divisor);
    return this.run('softmaxCrossEntropyBackward', [logits, target, dy], build, sizeOf(logits.shape), 'float32', [this.errors]);
  }
  /**
   * One Adam step in one kernel instead of a dozen: m and v updated in place, the new
   * parameters returned. Declines strided tensors, and devices with fewer than 5 storage
   * buffers per stage.
   */
  adamUpdate(p: View, grad: View, m: View, v: View, s: AdamStep): DataId | null {
    const all = [p, grad, m, v];
    if (!float32(...all) || !all.every(isContiguousView)) return null;
    if (this.device.limits.maxStorageBuffersPerShaderStage < 5) return null;
    const n = sizeOf(p.shape);
    const bound = all.map((t) => this.bind(t, 'adamUpdate'));
    const out = this.output('adamUpdate', n, 'float32');
    if (n > 0) this.dispatch(adamKernel(n, s, bound.map((b) => b.view.offset)), [...bound.map((b) => b.binding), out.buffer!]);
    return out;
  }

  // The multi-kernel fused ops (fused/recurrent.ts, norm.ts, attention.ts) run on these steps.
  private readonly steps: GpuSteps = {
    alloc: (op, n) => this.output(op, n, 'float32'),
    queue: (op, inputs, outputs, build) => {
      const bound = inputs.map((v) => this.bind(v, op));
      this.dispatch(build(bound.map((b) => b.view)), [...bound.map((b) => b.binding), ...outputs.map((o) => this.data(o, op).buffer)]);
    },
    matmul: (a, b) => this.matmul(a, b),
    copy: (v) => this.copy(v),
    dispose: (d) => this.dispose(d),
    maxBuffers: () => this.device.limits.maxStorageBuffersPerShaderStage,
  };

  layerNorm(x: View, weight: View | null, bias: View | null, D: number, eps: number, save: SaveForBackward = null): DataId | null {
    return norm.layerNormGpu(this.steps, x, weight, bias, D, eps, save);
  }
  layerNormBackward(x: View, weight: View | null, dy: View, D: number, eps: number, saved: readonly View[] = []): DataId | null {
    return norm.layerNormBackwardGpu(this.steps, x, weight, dy, D, eps, saved);
  }
  gelu(x: View, approximate: 'none' | 'tanh', save: SaveForBackward = null): DataId | null {
    return norm.geluGpu(this.steps, x, approximate, save);
  }
  geluBackward(x: View, dy: View, approximate: 'none' | 'tanh', saved: readonly View[] = []): DataId | null {
    return norm.geluBackwardGpu(this.steps, x, dy, approximate, saved);
  }
  scaledDotProductAttention(q: View, k: View, v: View, masks: readonly View[], scale: number, causal: boolean, save: SaveForBackward = null): DataId | null {
    return attentionGpu(this.steps, q, k, v, masks, scale, causal, save);
  }
  scaledDotProductAttentionBackward(q: View, k: View, v: View, dy: View, masks: readonly View[], scale: number, causal: boolean, saved: readonly View[] = []): DataId | null {
    return attentionBackwardGpu(this.steps, q, k, v, dy, masks, scale, causal, saved);
  }
  lstmSequence(xw: View, h0: View, c0: View, whh: View, o: SequenceAttrs, save: SaveForBackward = null): DataId | null {
    return seq.lstmSequenceGpu(this.steps, xw, h0, c0, whh, o.reverse, save);
  }
  lstmSequenceBackward(xw: View, h0: View, c0: View, whh: View, y: View, dy: View, o: SequenceAttrs, saved: readonly View[] = []): DataId | null {
    return seq.lstmSequenceBackwardGpu(this.steps, xw, h0, c0, whh, y, dy, o.reverse, saved);
  }
  gruSequence(xp: View, h0: View, whh: View, bhh: View | null, o: SequenceAttrs, save: SaveForBackward = null): DataId | null {
    return seq.gruSequenceGpu(this.steps, xp, h0, whh, bhh, o.reverse, save);
  }
  gruSequenceBackward(xp: View, h0: View, whh: View, bhh: View | null, y: View, dy: View, o: SequenceAttrs, saved: readonly View[] = []): DataId | null {
    return seq.gruSequenceBackwardGpu(this.steps, xp, h0, whh, bhh, y, dy, o.reverse, saved);
  }
  rnnSequence(xp: View, h0: View, whh: View, o: RnnSequenceAttrs): DataId | null {
    return seq.rnnSequenceGpu(this.steps, xp, h0, whh, o.reverse, o.nonlinearity === 'relu');
  }
  rnnSequenceBackward(_xp: View, h0: View, whh: View, y: View, dy: View, o: RnnSequenceAttrs): DataId | null {
    return seq.rnnSequenceBackwardGpu(this.steps, h0, whh, y, dy, o.reverse, o.nonlinearity === 'relu');
  }

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

/** Whether every view given is float32 (the fused kernels' one dtype). */
function float32(...views: (View | null)[]): boolean {
  return views.every((v) => v === null || v.dtype === 'float32');
}

/** A pooling's sizes: x [N, C, H, W] → [N, C, oh, ow]. */
function poolShapes(xShape: readonly number[], p: Im2ColParams): PoolShapes {
  const [N, C, H, W] = xShape;
  const [oh, ow] = patchOutputSize(xShape, p);
  return { N, C, H, W, oh, ow };
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
