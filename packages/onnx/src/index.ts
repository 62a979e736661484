/**
 * @ml/onnx — ONNX export of @ml models (and, from its own files, import), checked against
 * ONNX Runtime. The public API, nothing else.
 */
export {
  registerOnnxExporter, findOnnxExporter, UnsupportedModuleError,
  type OnnxExporter, type OnnxExportContext, type OnnxAttributes, type OnnxAttributeValue, type OnnxValueInfo,
} from './context.js';
export { exportOnnx, DEFAULT_OPSET, MIN_OPSET, MAX_OPSET, type ExportOnnxOptions } from './export.js';
export { exportRecurrent, exportCell } from './export-recurrent.js';
export { importOnnx, OnnxModel, type ImportOnnxOptions } from './import.js';
export { OnnxError } from './import-errors.js';
export {
  exportMultiheadAttention, exportEncoderLayer, exportDecoderLayer, exportPositionalEncoding,
  type AttentionCall, type EncoderLayerMasks, type DecoderLayerMasks,
} from './export-attention.js';
