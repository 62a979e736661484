import { formatShape, type DType } from '@ml/tensor';

/** The batch dimension of a symbolic shape is `null` (Keras's `None`). */
export type SymbolicShape = readonly (number | null)[];

/** What produced a symbolic tensor: a layer applied to other symbolic tensors. */
export interface SymbolicNode {
  readonly layer: { readonly name: string; forward(...args: never[]): unknown };
  readonly inputs: readonly SymbolicTensor[];
  /** which output of the layer this is, when the layer returns several */
  readonly outputIndex: number;
}

/**
 * A placeholder in a functional graph (Keras's `KerasTensor`): it has a shape and a
 * dtype, but no values. Calling a layer on it records the call and returns a new one.
 */
export class SymbolicTensor {
  constructor(
    readonly shape: SymbolicShape,
    readonly dtype: DType,
    readonly node: SymbolicNode | null,
    readonly name: string,
  ) {}

  toString(): string {
    return `SymbolicTensor(name=${this.name}, shape=${formatSymbolicShape(this.shape)}, dtype=${this.dtype})`;
  }
}

export function isSymbolic(v: unknown): v is SymbolicTensor {
  return v instanceof SymbolicTensor;
}

/** `(None, 32, 26, 26)`, as Keras prints shapes. */
export function formatSymbolicShape(shape: SymbolicShape): string {
  const parts = shape.map((d) => (d === null ? 'None' : String(d)));
  return `(${parts.join(', ')}${parts.length === 1 ? ',' : ''})`;
}

/** Concrete shape with `null` replaced by `batch`, for a probe run. */
export function concreteShape(shape: SymbolicShape, batch: number): number[] {
  return shape.map((d) => (d === null ? batch : d));
}

export function describeShapes(shapes: readonly (readonly number[])[]): string {
  return shapes.map((s) => formatShape(s)).join(', ');
}
