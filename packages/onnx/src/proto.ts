/**
 * ONNX's schema (onnx.proto, compiled for protobufjs by the `onnx-proto` package) and the
 * few conversions the exporter needs. Nothing here writes protobuf bytes by hand.
 */
import onnxProto from 'onnx-proto';
import type { DType } from '@ml/tensor';

export const onnx = onnxProto.onnx;
export type { onnx as OnnxTypes } from 'onnx-proto';

/** TensorProto.DataType codes (onnx.proto). */
export const DataType = {
  FLOAT: 1,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  DOUBLE: 11,
} as const;

/** The ONNX element type of an @ml dtype. */
export function onnxElemType(dtype: DType | 'int64'): number {
  switch (dtype) {
    case 'float32':
      return DataType.FLOAT;
    case 'int32':
      return DataType.INT32;
    case 'int64':
      return DataType.INT64;
    case 'bool':
      return DataType.BOOL;
    default:
      // float64 models are written in float32: ONNX Runtime's CPU kernels are float32 first
      return DataType.FLOAT;
  }
}

/** Little-endian raw bytes of `values` as float32, int32 or int64 (TensorProto.raw_data). */
export function rawBytes(values: ArrayLike<number>, dtype: 'float32' | 'int32' | 'int64' | 'bool'): Uint8Array {
  const width = dtype === 'int64' ? 8 : dtype === 'bool' ? 1 : 4;
  const out = new Uint8Array(values.length * width);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (dtype === 'float32') view.setFloat32(i * 4, v, true);
    else if (dtype === 'int32') view.setInt32(i * 4, v, true);
    else if (dtype === 'int64') view.setBigInt64(i * 8, BigInt(v), true);
    else view.setUint8(i, v ? 1 : 0);
  }
  return out;
}
