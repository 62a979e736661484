/** Element types. `float64` exists on the CPU backend for gradient checks. */
export type DType = 'float32' | 'float64' | 'int32' | 'bool';

export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array;

export const DTYPES: readonly DType[] = ['bool', 'int32', 'float32', 'float64'];

const BYTES: Record<DType, number> = { float32: 4, float64: 8, int32: 4, bool: 1 };

export function bytesPerElement(dtype: DType): number {
  return BYTES[dtype];
}

export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64';
}

export function allocArray(dtype: DType, size: number): TypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(size);
    case 'float64':
      return new Float64Array(size);
    case 'int32':
      return new Int32Array(size);
    case 'bool':
      return new Uint8Array(size);
  }
}

/** Copy `values` into a fresh typed array of `dtype` (bools become 0/1, ints truncate toward zero). */
export function toTypedArray(values: ArrayLike<number | boolean>, dtype: DType): TypedArray {
  // typed arrays copy (and convert) natively, far faster than element by element
  if (ArrayBuffer.isView(values) && dtype !== 'bool') {
    const out = allocArray(dtype, values.length);
    out.set(values as unknown as ArrayLike<number>);
    return out;
  }
  const out = allocArray(dtype, values.length);
  if (dtype === 'bool') {
    for (let i = 0; i < values.length; i++) out[i] = values[i] ? 1 : 0;
  } else {
    for (let i = 0; i < values.length; i++) out[i] = Number(values[i]);
  }
  return out;
}

/** The dtype two operands combine to: bool < int32 < float32 < float64. */
export function promoteTypes(a: DType, b: DType): DType {
  return a === b || RANK[a] >= RANK[b] ? a : b;
}
/** Each dtype's place in DTYPES' order of promotion. */
const RANK: Record<DType, number> = { bool: 0, int32: 1, float32: 2, float64: 3 };

export function assertDType(dtype: string, op = 'tensor'): asserts dtype is DType {
  if (!(DTYPES as readonly string[]).includes(dtype)) {
    throw new TypeError(`${op}: unknown dtype '${dtype}' (expected one of ${DTYPES.join(', ')})`);
  }
}
