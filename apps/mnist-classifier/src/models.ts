import { Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU, Sequential } from '@ml/nn';

export type ModelKind = 'mlp' | 'cnn';

/** 784 → 256 → 128 → 10 with ReLU and dropout; input [N, 784]. */
export function mlp(): Sequential {
  return new Sequential(
    [
      new Linear({ inFeatures: 784, outFeatures: 256 }),
      new ReLU(),
      new Dropout({ p: 0.2 }),
      new Linear({ inFeatures: 256, outFeatures: 128 }),
      new ReLU(),
      new Dropout({ p: 0.2 }),
      new Linear({ inFeatures: 128, outFeatures: 10 }),
    ],
    { name: 'mlp' },
  );
}

/** conv32 → pool → conv64 → pool → dense 10 (Keras's MNIST convnet example); input [N, 1, 28, 28]. */
export function cnn(): Sequential {
  return new Sequential(
    [
      new Conv2d({ inChannels: 1, outChannels: 32, kernelSize: 3 }),
      new ReLU(),
      new MaxPool2d({ kernelSize: 2 }),
      new Conv2d({ inChannels: 32, outChannels: 64, kernelSize: 3 }),
      new ReLU(),
      new MaxPool2d({ kernelSize: 2 }),
      new Flatten(),
      new Dropout({ p: 0.5 }),
      new Linear({ inFeatures: 64 * 5 * 5, outFeatures: 10 }),
    ],
    { name: 'cnn' },
  );
}

export function buildModel(kind: ModelKind): Sequential {
  return kind === 'mlp' ? mlp() : cnn();
}

/** Shape of one input sample for each model. */
export const inputShape: Record<ModelKind, number[]> = { mlp: [784], cnn: [1, 28, 28] };
