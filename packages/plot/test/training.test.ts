import { tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { lossCurves } from '../src/node.js';
import { marks, render, vertices } from './helpers.js';

const epoch = [0, 1, 2, 3, 4, 5, 6, 7];
const history = {
  epoch,
  history: {
    loss: epoch.map((e) => 2 / (e + 1)),
    val_loss: epoch.map((e) => 2.2 / (e + 1) + 0.05 * e),
    accuracy: epoch.map((e) => 1 - 0.5 / (e + 1)),
    val_accuracy: epoch.map((e) => 0.95 - 0.5 / (e + 1)),
  },
};

describe('lossCurves', () => {
  it('draws one line per logged series, each through every epoch, in two panels (loss, then the metrics)', async () => {
    const spec = lossCurves(history, { title: 'Training' });
    const { doc } = await render(spec);
    const lines = marks(doc, 'line');
    expect(lines).toHaveLength(4);
    for (const line of lines) expect(vertices(line.getAttribute('d')!)).toHaveLength(epoch.length);
    expect('vconcat' in spec && spec.vconcat).toHaveLength(2);
  });

  it("takes Keras's history.history dict alone ({ loss: [...], … }), with epochs 0, 1, …: the same chart", () => {
    expect(lossCurves(history.history)).toEqual(lossCurves(history));
    expect(lossCurves({ loss: [3, 2, 1] })).toEqual(lossCurves({ epoch: [0, 1, 2], history: { loss: [3, 2, 1] } }));
  });

  it('pairs train and validation: same color per metric, solid for train and dashed for validation', async () => {
    const { doc } = await render(lossCurves(history));
    const byLabel = new Map(marks(doc, 'line').map((l) => [/series: (\w+)/.exec(l.getAttribute('aria-label')!)![1], l]));
    expect([...byLabel.keys()].sort()).toEqual(['accuracy', 'loss', 'val_accuracy', 'val_loss']);
    const stroke = (k: string) => byLabel.get(k)!.getAttribute('stroke');
    const dash = (k: string) => byLabel.get(k)!.getAttribute('stroke-dasharray');
    expect(stroke('loss')).toBe(stroke('val_loss'));
    expect(stroke('accuracy')).toBe(stroke('val_accuracy'));
    expect(stroke('loss')).not.toBe(stroke('accuracy'));
    expect(dash('val_loss')).toBe('6,3');
    expect(dash('val_accuracy')).toBe('6,3');
    expect(dash('loss')).not.toBe('6,3');
  });

  it('puts the epochs on x in order: vertex x grows with epoch, loss y grows as the loss falls', async () => {
    const { doc } = await render(lossCurves({ epoch, history: { loss: history.history.loss } }));
    const [line] = marks(doc, 'line');
    const v = vertices(line.getAttribute('d')!);
    for (let i = 1; i < v.length; i++) {
      expect(v[i][0]).toBeGreaterThan(v[i - 1][0]);
      // SVG y points down: a falling loss moves down the page
      expect(v[i][1]).toBeGreaterThan(v[i - 1][1]);
    }
  });

  it('uses one panel when only losses are logged, and a log axis on request', async () => {
    const spec = lossCurves({ epoch, history: { loss: history.history.loss, val_loss: history.history.val_loss } }, { logLoss: true });
    expect('vconcat' in spec).toBe(false);
    expect(JSON.stringify(spec)).toContain('"type":"log"');
    const { doc } = await render(spec);
    expect(marks(doc, 'line')).toHaveLength(2);
  });

  it('takes @ml/train-style History objects and Tensors, and draws only the metrics asked for', async () => {
    class History {
      readonly epoch: number[] = [0, 1, 2];
      readonly history: Record<string, number[]> = { loss: [3, 2, 1], val_loss: [3.5, 2.5, 2], lr: [0.1, 0.1, 0.01] };
    }
    const { doc } = await render(lossCurves(new History(), { metrics: ['loss', 'val_loss'] }));
    expect(marks(doc, 'line')).toHaveLength(2);
    const fromTensors = lossCurves({ epoch: tensor([0, 1, 2]), history: { loss: tensor([3, 2, 1]) } });
    expect(fromTensors).toEqual(lossCurves({ epoch: [0, 1, 2], history: { loss: [3, 2, 1] } }));
  });

  it('leaves out non-finite values (a diverged run) instead of failing', async () => {
    const { doc } = await render(lossCurves({ epoch: [0, 1, 2, 3], history: { loss: [1, 0.5, NaN, Infinity] } }));
    expect(vertices(marks(doc, 'line')[0].getAttribute('d')!)).toHaveLength(2);
  });

  it('rejects an empty history, mismatched lengths, unknown metrics and non-positive losses on a log axis', () => {
    expect(() => lossCurves({ epoch: [], history: {} })).toThrow(/no logged metrics/);
    expect(() => lossCurves({ epoch: [], history: { loss: [] } })).toThrow(/no epochs/);
    expect(() => lossCurves({ epoch: [0, 1, 2], history: { loss: [1, 2] } })).toThrow(/history\.loss has 2 values but history\.epoch has 3/);
    expect(() => lossCurves(history, { metrics: ['acc'] })).toThrow(/no metric 'acc'.*available: loss, val_loss, accuracy, val_accuracy/);
    expect(() => lossCurves({ epoch: [0, 1], history: { loss: [1, 0] } }, { logLoss: true })).toThrow(/positive losses.*epoch 1/);
    expect(() => lossCurves({ epoch: [0], history: { loss: tensor([[1, 2]]) } })).toThrow(/1-D tensor.*\[1, ?2\]/);
  });
});
