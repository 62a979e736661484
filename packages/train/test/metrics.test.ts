import { tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { Accuracy, BinaryAccuracy, ConfusionMatrix, F1Score, MeanAbsoluteError, MeanSquaredError, Precision, R2Score, Recall, RootMeanSquaredError, TopKAccuracy } from '../src/index.js';

const i32 = (v: number[]) => tensor(v, { dtype: 'int32' });

describe('metrics (accumulated over batches)', () => {
  it('accuracy from scores and class indices, over two batches', async () => {
    const m = new Accuracy();
    await m.update(tensor([[0.1, 0.9], [0.8, 0.2]]), i32([1, 1])); // 1 of 2
    await m.update(tensor([[0.3, 0.7], [0.6, 0.4], [0.2, 0.8]]), i32([1, 0, 0])); // 2 of 3
    expect(m.result()).toBeCloseTo(3 / 5, 12);
    m.reset();
    expect(m.result()).toBe(0);
  });

  it('accuracy from one-hot targets (categorical) and from single probabilities (binary)', async () => {
    const cat = new Accuracy();
    await cat.update(tensor([[2, 1, 0], [0, 0, 3]]), tensor([[1, 0, 0], [0, 1, 0]]));
    expect(cat.result()).toBe(0.5);
    const bin = new Accuracy();
    await bin.update(tensor([[0.7], [0.2], [0.6]]), tensor([[1], [0], [0]]));
    expect(bin.result()).toBeCloseTo(2 / 3, 12);
    const logits = new BinaryAccuracy({ threshold: 0 });
    await logits.update(tensor([1.5, -0.5, 0.2]), tensor([1, 0, 0]));
    expect(logits.result()).toBeCloseTo(2 / 3, 12);
  });

  it('top-k accuracy', async () => {
    const m = new TopKAccuracy(2);
    await m.update(tensor([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7], [0.2, 0.5, 0.3]]), i32([1, 0, 2]));
    // row 0: class 1 is 2nd → hit; row 1: class 0 is 3rd → miss; row 2: class 2 is 2nd → hit
    expect(m.result()).toBeCloseTo(2 / 3, 12);
  });

  it('MAE, MSE, RMSE and R² against their formulas', async () => {
    const pred = tensor([2.5, 0, 2, 8]);
    const target = tensor([3, -0.5, 2, 7]);
    const errs = [-0.5, 0.5, 0, 1];
    const mae = new MeanAbsoluteError();
    const mse = new MeanSquaredError();
    const rmse = new RootMeanSquaredError();
    const r2 = new R2Score();
    for (const m of [mae, mse, rmse, r2]) await m.update(pred, target);
    expect(mae.result()).toBeCloseTo(errs.reduce((a, e) => a + Math.abs(e), 0) / 4, 12);
    expect(mse.result()).toBeCloseTo(1.5 / 4, 12);
    expect(rmse.result()).toBeCloseTo(Math.sqrt(1.5 / 4), 12);
    // mean target 2.875; SS_tot = 0.015625+11.390625+0.765625+17.015625 = 29.1875; SS_res = 1.5
    expect(r2.result()).toBeCloseTo(1 - 1.5 / 29.1875, 12);
  });

  it('confusion matrix, precision, recall and F1 (binary and macro)', async () => {
    // true:  1 1 1 0 0 0 1 0 ; pred: 1 0 1 0 1 0 1 0 → TP 3, FN 1, FP 1, TN 3
    const t = i32([1, 1, 1, 0, 0, 0, 1, 0]);
    const p = tensor([0.9, 0.1, 0.8, 0.3, 0.7, 0.2, 0.6, 0.4]);
    const cm = new ConfusionMatrix(2);
    await cm.update(p, t);
    expect(cm.matrix).toEqual([[3, 1], [1, 3]]);
    const [pr, rc, f1] = [new Precision(), new Recall(), new F1Score()];
    for (const m of [pr, rc, f1]) await m.update(p, t);
    expect(pr.result()).toBe(0.75);
    expect(rc.result()).toBe(0.75);
    expect(f1.result()).toBe(0.75);
    const macro = new Recall({ numClasses: 3 });
    await macro.update(tensor([[1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1]]), i32([0, 1, 2, 2]));
    // recalls: class 0 1/1, class 1 1/1, class 2 1/2
    expect(macro.result()).toBeCloseTo((1 + 1 + 0.5) / 3, 12);
  });

  it('errors name the metric and both shapes', async () => {
    await expect(new Accuracy().update(tensor([[1, 0]]), i32([1, 0]))).rejects.toThrow(/accuracy: predictions \[1,2\] and targets \[2\] have different batch sizes/);
    await expect(new ConfusionMatrix(2).update(tensor([0.9]), i32([5]))).rejects.toThrow(/class 5 is outside \[0, 2\)/);
  });
});
