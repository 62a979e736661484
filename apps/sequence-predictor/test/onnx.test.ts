// The app's RNN, LSTM, GRU and Transformer forecasters, built and trained briefly as the app does
// (buildModel + trainNeural), exported to ONNX and run in ONNX Runtime (CPU) on 100 real windows
// of the Mauna Loa CO2 series: every forecast within |ort − ml| ≤ 1e-5·max(1, |ml|) of @ml's own
// forward (fp32). Traced at batch 1, run at batch 100 (the dynamic batch dim).
//
// The forecasters' forward (unsqueeze, recurrent layer or embed + positions + encoder, last step,
// head) is custom, so each gets an exporter here, composed from @ml/onnx's layer exporters.
import { exportEncoderLayer, exportOnnx, exportPositionalEncoding, exportRecurrent, registerOnnxExporter, type OnnxExportContext } from '@ml/onnx';
import type { Linear } from '@ml/nn';
import type { Tensor } from '@ml/tensor';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { prepare, trainNeural, windows, type Setup } from '../src/forecast.js';
import { RecurrentForecaster, TransformerForecaster } from '../src/models.js';
import { co2 } from '../src/series.js';

function node(ctx: OnnxExportContext, op: string, inputs: readonly string[], base: string, attrs: Parameters<OnnxExportContext['addNode']>[3] = {}): string {
  const out = ctx.unique(base);
  ctx.addNode(op, inputs, [out], attrs);
  return out;
}

/** x·Wᵀ + b on a value of any rank. */
function linear(ctx: OnnxExportContext, layer: Linear, x: string, name: string): string {
  const wt = node(ctx, 'Transpose', [ctx.addInitializer(`${name}.weight`, layer.weight)], `${name}.weight_t`);
  const y = node(ctx, 'MatMul', [x, wt], `${name}_matmul`);
  return layer.bias ? node(ctx, 'Add', [y, ctx.addInitializer(`${name}.bias`, layer.bias)], name) : y;
}

/** [N, L] → [N, L, 1]: one feature per time step, as the forecasters' x.unsqueeze(−1). */
const steps = (ctx: OnnxExportContext, x: string): string => node(ctx, 'Unsqueeze', [x, ctx.addConstant('axes', [2], [1], 'int64')], 'steps');
/** [N, L, F] → [N, F]: the last time step. */
const lastStep = (ctx: OnnxExportContext, h: string, L: number): string => node(ctx, 'Gather', [h, ctx.addConstant('last', [L - 1], [], 'int64')], 'last_step', { axis: 1 });

registerOnnxExporter(RecurrentForecaster, (ctx, m, [x]) => {
  const L = ctx.shapeOf(x)[1];
  const [out] = exportRecurrent(ctx, m.cell, steps(ctx, x), [], L);
  return [linear(ctx, m.head, lastStep(ctx, out, L), 'head')];
});

registerOnnxExporter(TransformerForecaster, (ctx, m, [x]) => {
  const L = ctx.shapeOf(x)[1];
  const embedded = linear(ctx, m.embed, steps(ctx, x), 'embed');
  const h = exportEncoderLayer(ctx, m.encoder, exportPositionalEncoding(ctx, m.position, embedded, L, 3, 'position'), { prefix: 'encoder' });
  return [linear(ctx, m.head, lastStep(ctx, h, L), 'head')];
});

async function ortRun(bytes: Uint8Array, x: Tensor): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const out = await session.run({ input: new ort.Tensor('float32', Float32Array.from(x.dataSync()), [...x.shape]) });
    return { data: out.output.data as Float32Array, dims: out.output.dims };
  } finally {
    await session.release();
  }
}

describe('sequence-predictor models in ONNX Runtime', () => {
  for (const kind of ['rnn', 'lstm', 'gru', 'transformer'] as const) {
    it(`the ${kind} forecaster gives the same forecasts on 100 real CO2 windows`, async () => {
      const series = await co2();
      const setup: Setup = { lookback: series.lookback, horizon: 3, testFraction: 0.2, epochs: 2, seed: 0, maxWindows: 200, verbose: 0 };
      const p = prepare(series.values, setup);
      const { model } = await trainNeural(kind, series.values, p, setup);
      const origins = [...p.trainOrigins, ...p.testOrigins].slice(-100);
      expect(origins).toHaveLength(100);
      const { x, y } = windows(series.values, origins, p, setup);
      y.dispose();

      const bytes = exportOnnx(model!, { inputShapes: [[1, setup.lookback]] });
      model!.eval();
      const expected = (model!.forward as (t: Tensor) => Tensor)(x);
      const got = await ortRun(bytes, x);
      expect([...got.dims]).toEqual([100, setup.horizon]);
      const b = expected.dataSync();
      let worst = 0;
      for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(got.data[i] - b[i]) / Math.max(1, Math.abs(b[i])));
      expect(worst).toBeLessThanOrEqual(1e-5);
      // the model learned something: its forecasts are not all one number
      expect(new Set(Array.from(b, (v) => v.toFixed(4))).size).toBeGreaterThan(10);
    });
  }
});
