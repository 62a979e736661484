import type { Backend, DType, Im2ColParams, TypedArray } from '../src/index.js';
import type { ArgReduceOp, BinaryOp, DataId, ReduceOp, UnaryOp, View } from '../src/backend-api.js';
import { CpuBackend } from '../src/backend-api.js';

/**
 * Test-only backend: every primitive runs on a private CpuBackend, but reads are
 * asynchronous (they resolve after a macrotask) and there is no `readSync`, like a GPU
 * backend. The buffer is read only after the delay, so a buffer freed while a read is
 * pending is caught too.
 */
export class AsyncCpuBackend implements Backend {
  readonly name = 'async-cpu';
  readonly #cpu = new CpuBackend();

  write(values: TypedArray, dtype: DType): DataId {
    return this.#cpu.write(values, dtype);
  }
  async read(data: DataId): Promise<TypedArray> {
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
    return this.#cpu.read(data);
  }
  dispose(data: DataId): void {
    this.#cpu.dispose(data);
  }

  fill(size: number, dtype: DType, value: number): DataId {
    return this.#cpu.fill(size, dtype, value);
  }
  copy(x: View): DataId {
    return this.#cpu.copy(x);
  }
  cast(x: View, dtype: DType): DataId {
    return this.#cpu.cast(x, dtype);
  }
  unary(op: UnaryOp, x: View): DataId {
    return this.#cpu.unary(op, x);
  }
  binary(op: BinaryOp, a: View, b: View, outDtype: DType): DataId {
    return this.#cpu.binary(op, a, b, outDtype);
  }
  where(cond: View, a: View, b: View): DataId {
    return this.#cpu.where(cond, a, b);
  }
  reduce(op: ReduceOp, x: View, axes: readonly number[]): DataId {
    return this.#cpu.reduce(op, x, axes);
  }
  argReduce(op: ArgReduceOp, x: View, axis: number): DataId {
    return this.#cpu.argReduce(op, x, axis);
  }
  matmul(a: View, b: View): DataId {
    return this.#cpu.matmul(a, b);
  }
  gather(x: View, axis: number, index: View): DataId {
    return this.#cpu.gather(x, axis, index);
  }
  scatterAdd(base: View, axis: number, index: View, src: View): DataId {
    return this.#cpu.scatterAdd(base, axis, index, src);
  }
  pad(x: View, low: readonly number[], high: readonly number[], interior: readonly number[], value: number): DataId {
    return this.#cpu.pad(x, low, high, interior, value);
  }
  concat(xs: readonly View[], axis: number, outShape: readonly number[]): DataId {
    return this.#cpu.concat(xs, axis, outShape);
  }
  im2col(x: View, p: Im2ColParams): DataId {
    return this.#cpu.im2col(x, p);
  }
  col2im(cols: View, outShape: readonly [number, number, number, number], p: Im2ColParams): DataId {
    return this.#cpu.col2im(cols, outShape, p);
  }
}
