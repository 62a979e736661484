/**
 * What the multi-kernel fused ops (layer norm, the whole-sequence recurrent ops, attention)
 * need from the backend: fresh buffers, kernels queued over bound views, its primitives.
 * Everything is recorded into the backend's command encoder; nothing is read back.
 */
import { type DataId, type View } from '@ml/tensor/backend';
import { type KernelCall } from '../kernels.js';

export interface GpuSteps {
  /** a fresh float32 buffer of `n` elements for `op` (contents undefined: the kernels write every one) */
  alloc(op: string, n: number): DataId;
  /**
   * Queue the kernel `build` makes for `inputs` (bound read-only, in order, as the views
   * the kernel must address: rebased when only a window of a large buffer is bound),
   * followed by `outputs` (whole buffers, read-write).
   */
  queue(op: string, inputs: readonly View[], outputs: readonly DataId[], build: (views: View[]) => KernelCall): void;
  /** the backend's matmul primitive: a [B,M,K] · b [B,K,N] → [B,M,N] */
  matmul(a: View, b: View): DataId;
  /** the backend's contiguous copy of a view */
  copy(v: View): DataId;
  dispose(data: DataId): void;
  /** storage buffers one kernel may bind on this device */
  maxBuffers(): number;
}

/** A contiguous float32 view [shape] of a fresh buffer. */
export function flatView(data: DataId, shape: readonly number[]): View {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d];
  }
  return { data, dtype: 'float32', shape: [...shape], strides, offset: 0 };
}
