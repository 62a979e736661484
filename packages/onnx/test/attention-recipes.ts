// Options-contract recipes (see test/options.test.ts) for the composing exporters that take an
// all-optional masks object: each builds a module whose exporter passes the options through.
import { Module, TransformerDecoderLayer, TransformerEncoderLayer } from '@ml/nn';
import type { Tensor } from '@ml/tensor';
import { exportDecoderLayer, exportEncoderLayer, exportOnnx, registerOnnxExporter, type DecoderLayerMasks, type EncoderLayerMasks } from '../src/index.js';

const layer = { dModel: 4, nhead: 2, dimFeedforward: 8, batchFirst: true };

class EncoderWithMasks extends Module<[Tensor], Tensor> {
  readonly layer = this.registerModule('layer', new TransformerEncoderLayer(layer));
  constructor(readonly masks: EncoderLayerMasks) {
    super();
  }
  forward(x: Tensor): Tensor {
    return this.layer.forward(x);
  }
}
registerOnnxExporter(EncoderWithMasks, (ctx, m, [x]) => [exportEncoderLayer(ctx, m.layer, x, m.masks)]);

class DecoderWithMasks extends Module<[Tensor, Tensor], Tensor> {
  readonly layer = this.registerModule('layer', new TransformerDecoderLayer(layer));
  constructor(readonly masks: DecoderLayerMasks) {
    super();
  }
  forward(x: Tensor, memory: Tensor): Tensor {
    return this.layer.forward(x, memory);
  }
}
registerOnnxExporter(DecoderWithMasks, (ctx, m, [x, memory]) => [exportDecoderLayer(ctx, m.layer, x, memory, m.masks)]);

/** Recipes keyed by the exported name, for describeOptionsContract's `recipes`. */
export const attentionRecipes = {
  exportEncoderLayer: (o: object) => exportOnnx(new EncoderWithMasks(o as EncoderLayerMasks), { inputShapes: [[1, 3, 4]] }),
  exportDecoderLayer: (o: object) => exportOnnx(new DecoderWithMasks(o as DecoderLayerMasks), { inputShapes: [[1, 3, 4], [1, 5, 4]] }),
};
