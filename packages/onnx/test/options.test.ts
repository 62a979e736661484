import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeOptionsContract } from '@ml/api-check';
import { Linear, Module, TransformerDecoderLayer, TransformerEncoderLayer } from '@ml/nn';
import type { Tensor } from '@ml/tensor';
import { afterAll, describe, it } from 'vitest';
import { exportDecoderLayer, exportEncoderLayer, exportOnnx, importOnnx, registerOnnxExporter, type DecoderLayerMasks, type EncoderLayerMasks } from '../src/index.js';
import { saveOnnx } from '../src/node.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const dir = await mkdtemp(join(tmpdir(), 'ml-onnx-options-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

// exportEncoderLayer/exportDecoderLayer run inside an exporter: these wrappers export one
// layer with the masks options a recipe gives
const layerOptions = { dModel: 8, nhead: 2, dimFeedforward: 16, dropout: 0, batchFirst: true };
class EncoderWith extends Module {
  readonly layer = new TransformerEncoderLayer(layerOptions);
  constructor(readonly masks: EncoderLayerMasks) {
    super();
  }
  forward(x: Tensor): Tensor {
    return this.layer.forward(x);
  }
}
class DecoderWith extends Module {
  readonly layer = new TransformerDecoderLayer(layerOptions);
  constructor(readonly masks: DecoderLayerMasks) {
    super();
  }
  forward(x: Tensor): Tensor {
    return this.layer.forward(x, x);
  }
}
registerOnnxExporter(EncoderWith, (ctx, m, [x]) => [exportEncoderLayer(ctx, m.layer, x, m.masks)]);
registerOnnxExporter(DecoderWith, (ctx, m, [x]) => [exportDecoderLayer(ctx, m.layer, x, x, m.masks)]);

const linearBytes = (): Uint8Array => exportOnnx(new Linear(3, 2), { inputShapes: [[1, 3]] });

describeOptionsContract(packageDir, { describe, it }, {
  entries: ['src/index.ts', 'src/node.ts'],
  recipes: {
    exportOnnx: (o) => exportOnnx(new Linear(3, 2), { inputShapes: [[1, 3]], ...o }),
    saveOnnx: (o) => saveOnnx(new Linear(3, 2), join(dir, 'm.onnx'), { inputShapes: [[1, 3]], ...o }),
    importOnnx: (o) => importOnnx(linearBytes(), o),
    exportEncoderLayer: (o) => exportOnnx(new EncoderWith(o as EncoderLayerMasks), { inputShapes: [[1, 4, 8]] }),
    exportDecoderLayer: (o) => exportOnnx(new DecoderWith(o as DecoderLayerMasks), { inputShapes: [[1, 4, 8]] }),
  },
  exempt: {
    OnnxModel: 'built by importOnnx, which checks these options; its first parameter is the parsed graph, internal to the package',
  },
});
