import * as ort from 'onnxruntime-node';
import type { AnyModule } from '@ml/nn';
import { tensor, type Tensor } from '@ml/tensor';
import { expect } from 'vitest';

/** Run ONNX bytes in ONNX Runtime (CPU) on float32 or int32 inputs; returns the outputs by name. */
export async function runOrt(bytes: Uint8Array, feeds: Record<string, Tensor>): Promise<Record<string, { data: Float32Array; dims: readonly number[] }>> {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled' });
  try {
    const inputs: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) {
      const data = t.dtype === 'int32' ? Int32Array.from(t.dataSync()) : Float32Array.from(t.dataSync());
      inputs[name] = new ort.Tensor(t.dtype === 'int32' ? 'int32' : 'float32', data, [...t.shape]);
    }
    const out = await session.run(inputs);
    const result: Record<string, { data: Float32Array; dims: readonly number[] }> = {};
    for (const [name, v] of Object.entries(out)) result[name] = { data: Float32Array.from(v.data as Float32Array), dims: v.dims };
    return result;
  } finally {
    await session.release();
  }
}

/**
 * The fp32 agreement the issue asks for: |a − b| ≤ tol·max(1, |b|) elementwise (b: @ml's value),
 * same shape. Returns the largest scaled error seen.
 */
export function expectClose(actual: { data: Float32Array; dims: readonly number[] }, expected: Tensor, tol = 1e-5): number {
  expect([...actual.dims]).toEqual([...expected.shape]);
  const b = expected.dataSync();
  let worst = 0;
  let where = -1;
  for (let i = 0; i < b.length; i++) {
    const err = Math.abs(actual.data[i] - b[i]) / Math.max(1, Math.abs(b[i]));
    if (!(err <= worst)) {
      worst = err;
      where = i;
    }
  }
  if (!(worst <= tol)) throw new Error(`ONNX Runtime differs from @ml by ${worst.toExponential(2)} (scaled) at flat index ${where}: ${actual.data[where]} vs ${b[where]}`);
  return worst;
}

/** @ml's forward in eval mode. */
export function forward(model: AnyModule, ...xs: Tensor[]): Tensor[] {
  model.eval();
  const out = (model.forward as (...a: Tensor[]) => unknown)(...xs);
  return Array.isArray(out) ? (out as Tensor[]) : [out as Tensor];
}

export { tensor };
