// Under Node's entry fit keeps its path: no yielding to the event loop unless asked, and
// the terminal ProgressBar for verbose 1.
import { Linear } from '@ml/nn';
import { manualSeed, randn } from '@ml/tensor';
import { expect, it } from 'vitest';
import { ProgressBar, compile, fit } from '../src/index.node.js';

function problem() {
  manualSeed(4);
  const x = randn([64, 1]);
  const model = new Linear({ inFeatures: 1, outFeatures: 1 });
  compile(model, { optimizer: 'sgd', lr: 0.05, loss: 'mse' });
  return { x, y: x.mul(3), model };
}

it('does not yield by default: a timer set before fit runs after it', async () => {
  const { x, y, model } = problem();
  const seen: string[] = [];
  setTimeout(() => seen.push('timer'), 0);
  await fit(model, x, y, { epochs: 2, batchSize: 8, verbose: 0 });
  seen.push('fit done');
  await new Promise((r) => setTimeout(r, 5));
  expect(seen).toEqual(['fit done', 'timer']);
});

it('yields when asked (yieldEvery), e.g. to serve requests while training', async () => {
  const { x, y, model } = problem();
  const seen: string[] = [];
  setTimeout(() => seen.push('timer'), 0);
  await fit(model, x, y, { epochs: 2, batchSize: 8, verbose: 0, yieldEvery: 4 });
  seen.push('fit done');
  expect(seen).toEqual(['timer', 'fit done']);
});

it('verbose 1 adds the terminal ProgressBar (one line per epoch when not a terminal)', async () => {
  const { x, y, model } = problem();
  const write = process.stdout.write;
  const lines: string[] = [];
  process.stdout.write = ((s: string) => lines.push(s) > 0) as typeof process.stdout.write;
  try {
    await fit(model, x, y, { epochs: 1, batchSize: 32 });
  } finally {
    process.stdout.write = write;
  }
  // (a terminal also gets the bar, cleared before that line)
  expect(lines.join('')).toMatch(/Epoch 1\/1 - [\d.]+s - loss: [\d.]+\n$/);
  expect(new ProgressBar({ write: () => true }).stream.isTTY).toBeUndefined();
});
