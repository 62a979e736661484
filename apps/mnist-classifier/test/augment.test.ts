import { describe, expect, it } from 'vitest';
import { fromArray } from '@ml/tensor';
import { augmentedBatches } from '../src/augment.js';

// Image k is a constant 12×12 square of value label/10 in the middle of a 28×28 frame: a shift
// of ±2 px and a turn of ±10° keep its centre pixel exactly (bilinear reads of a constant are
// that constant), while its edges move. So each augmented batch shows whether the labels
// still belong to their images and whether the images were changed.
function squares(labels: number[], flat: boolean) {
  const px = new Float32Array(labels.length * 784);
  labels.forEach((l, k) => {
    for (let i = 8; i < 20; i++) for (let j = 8; j < 20; j++) px[k * 784 + i * 28 + j] = l / 10;
  });
  return {
    x: fromArray(px, flat ? [labels.length, 784] : [labels.length, 1, 28, 28]),
    y: fromArray(labels, [labels.length], { dtype: 'int32' }),
    px,
  };
}

describe('--augment batches', () => {
  for (const flat of [false, true]) {
    it(`shuffle, shift and turn each ${flat ? 'flat [N, 784] (MLP)' : '[N, 1, 28, 28] (CNN)'} image, its label kept beside it`, async () => {
      const labels = Array.from({ length: 40 }, (_, i) => i % 10);
      const { x, y, px } = squares(labels, flat);
      const batches = augmentedBatches(x, y, 16, 3);
      expect(batches.length).toBe(3);
      for (let epoch = 0; epoch < 2; epoch++) {
        let seen = 0;
        let changed = 0;
        for await (const [xb, yb] of batches) {
          expect(xb.shape).toEqual(flat ? [yb.shape[0], 784] : [yb.shape[0], 1, 28, 28]);
          const img = xb.dataSync();
          const lab = yb.dataSync();
          for (let i = 0; i < lab.length; i++) {
            const centre = img[i * 784 + 14 * 28 + 14];
            expect(centre).toBeCloseTo(lab[i] / 10, 5);
            // the frame outside the square is 0 before; some of it is ink now (or the square lost some)
            const original = px.subarray(labels.indexOf(lab[i]) * 784, labels.indexOf(lab[i]) * 784 + 784);
            if (img.subarray(i * 784, (i + 1) * 784).some((v, p) => Math.abs(v - original[p]) > 1e-6)) changed++;
          }
          seen += lab.length;
        }
        expect(seen).toBe(40);
        // a draw of (0 px, 0 px, ~0°) leaves an image as it was; nearly all are changed
        expect(changed).toBeGreaterThan(30);
      }
    });
  }
});
