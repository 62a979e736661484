/** Shared pieces of the conformance cases: the case type, dtype shorthands and the unary-case builder. */
import { getBackend, memory, tensor, type Tensor } from '../index.js';
import { assertClose, assertThrows } from './assert.js';

export type CaseDef = readonly [string, () => Promise<void>];
export const f32 = { dtype: 'float32' } as const;
export const i32 = { dtype: 'int32' } as const;
export const f64 = { dtype: 'float64' } as const;
export const bool = { dtype: 'bool' } as const;

/** Whether the current backend holds float64 tensors (see `Backend.dtypes`). */
export function float64Here(): boolean {
  return getBackend().dtypes?.includes('float64') ?? true;
}

/**
 * Run a case's float64 checks where the backend has float64; where it has not, check
 * instead that it refuses a float64 tensor with an error that names the dtype.
 */
export async function ifFloat64(fn: () => Promise<void>): Promise<void> {
  if (float64Here()) return fn();
  assertThrows(() => tensor([1], f64), /float64/, 'a backend without float64 refuses it');
}

export function backendStats(): { numStorages: number; numTensors: number; numBytes: number } {
  const name = getBackend().name;
  return memory().backends[name] ?? { numStorages: 0, numTensors: 0, numBytes: 0 };
}

/** U: the shared input of the float unary/activation cases. */
export const U = [-3, -1.5, -0.5, 0, 0.25, 1, 2.5];
/** P: positive inputs for log/sqrt/reciprocal. */
export const P = [0.1, 0.5, 1, 2, 10];

export function unaryCase(name: string, fn: (x: Tensor) => Tensor, input: number[], expected: number[], extra?: () => Promise<void>): CaseDef {
  return [
    `unary: ${name}`,
    async () => {
      await assertClose(fn(tensor(input)), expected, f32);
      // the same values read through a strided (non-contiguous) view: every other element
      const strided = tensor(input.flatMap((v) => [v, 123])).index([undefined, undefined, 2]);
      await assertClose(fn(strided), expected, { ...f32, label: 'strided input' });
      if (extra) await extra();
    },
  ];
}
