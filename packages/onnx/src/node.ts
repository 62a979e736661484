/**
 * @ml/onnx's Node entry (`@ml/onnx/node`): the browser-safe API plus writing a model file.
 */
import type { AnyModule } from '@ml/nn';
import { checkOptions } from '@ml/tensor';
import { writeFileAtomic } from '@ml/tensor/node';
import { EXPORT_ALIASES, EXPORT_KEYS, exportOnnx, type ExportOnnxOptions } from './export.js';

export * from './index.js';

/**
 * Export `model` (see `exportOnnx`) and write it to `path` atomically and durably: a temp file,
 * fsync, rename, directory fsync, so a crash leaves the old file or the new one, never half.
 * Returns the bytes written.
 */
export async function saveOnnx(model: AnyModule, path: string, options: ExportOnnxOptions = {}): Promise<Uint8Array> {
  checkOptions('saveOnnx', options, EXPORT_KEYS, EXPORT_ALIASES);
  const bytes = exportOnnx(model, options);
  await writeFileAtomic(path, bytes);
  return bytes;
}
