import { CpuBackend, type DataId, type TypedArray, type View } from '@ml/tensor';
import { WasmGemm } from './gemm.js';

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
  override readonly name: string = 'wasm';
  readonly gemm: WasmGemm;
  /** how many matmuls ran on the kernel and how many fell back, for the debug log and tests */
  readonly stats = { wasm: 0, fallback: 0 };

  /** `threads`: for large products (default: the machine's cores in Node, 1 elsewhere) */
  constructor(options: { threads?: number } = {}) {
    super();
    this.gemm = new WasmGemm(options);
  }

  /** the threads large products run on */
  get threads(): number {
    return this.gemm.threads;
  }

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
