/**
 * The error every problem of an ONNX file or of running its graph becomes: a malformed or
 * truncated file, a graph that does not hold together, an operator or attribute this
 * importer does not know, or a node whose inputs do not fit. The message names what is wrong
 * (the node, the tensor, the values); `cause` keeps the underlying error when there is one.
 */
export class OnnxError extends Error {
  override name = 'OnnxError';
}
