import { compose, DataLoader, randomRotation, randomShift, TensorDataset, type Transform } from '@ml/data';
import { type Tensor, tidy } from '@ml/tensor';
import type { Batches } from '@ml/train';

/** `--augment`: how far each training image may move and turn, drawn anew every epoch. */
export const AUGMENT = { pixels: 2, degrees: 10 } as const;

/** Shift by up to ±2 px, then turn by up to ±10° (bilinear), per image of a [N, 1, 28, 28] batch. */
export function augmentation(seed: number): Transform<Tensor, Tensor> {
  return compose(randomShift({ pixels: AUGMENT.pixels, seed }), randomRotation({ degrees: AUGMENT.degrees, seed: seed + 1 }));
}

/**
 * The training set as shuffled batches, each image shifted and turned by `augmentation`
 * (a new draw every time it is read, so every epoch sees other variants). Flat images
 * ([N, 784], the MLP's) are augmented as 28×28 and flattened again. Each batch is freed
 * when the next one is asked for: `fit` is done with it by then.
 */
export function augmentedBatches(x: Tensor, y: Tensor, batchSize: number, seed: number): Batches & { length: number } {
  const loader = new DataLoader(new TensorDataset(x, y), { batchSize, shuffle: true, seed });
  const augment = augmentation(seed);
  const flat = x.ndim === 2;
  return {
    get length() {
      return loader.length;
    },
    async *[Symbol.asyncIterator]() {
      for await (const [xb, yb] of loader) {
        const xa = tidy(() => {
          const images = flat ? xb.reshape([xb.shape[0], 1, 28, 28]) : xb;
          const out = augment(images);
          return flat ? out.reshape(xb.shape) : out;
        });
        xb.dispose();
        try {
          yield [xa, yb] as const;
        } finally {
          xa.dispose();
          yb.dispose();
        }
      }
    },
  };
}
