/**
 * What MNIST and Fashion-MNIST share with every platform: the types, the class names and the
 * error. The loaders, which read files, are in node/mnist.ts (the Node entry).
 */
import { optionKeys, type Tensor } from '@ml/tensor';

/** A dataset's files are not where they were looked for; the message says what to install. */
export class DatasetNotFoundError extends Error {
  override name = 'DatasetNotFoundError';
}

export interface MnistOptions {
  /**
   * folder with train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
   * t10k-labels-idx1-ubyte (each may be gzipped, with .gz). Default: the installed data.
   */
  dir?: string;
  /** pixels as float32 in [0, 1] (default true); false keeps the stored 0..255 as float32 */
  normalize?: boolean;
  /** images as [N, 784] rows instead of [N, 1, 28, 28] (default false) */
  flatten?: boolean;
  /** compare each file's MD5 with the published one (default true) */
  verify?: boolean;
}

/** @internal the keys of MnistOptions */
export const MNIST_KEYS = optionKeys<MnistOptions>()(['dir', 'normalize', 'flatten', 'verify']);

export interface MnistSplit {
  /** [N, 1, 28, 28] float32 (or [N, 784] with flatten) */
  images: Tensor;
  /** [N] int32 class indices 0..9 */
  labels: Tensor;
}

export interface MnistData {
  train: MnistSplit;
  test: MnistSplit;
}

/** The Fashion-MNIST class names, by label. */
export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'] as const;
