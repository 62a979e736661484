// fit driven by a page (the browser entry): progress through callbacks, the event loop
// turning between batches, a stop through an AbortSignal. The Node entry's default path
// (no yielding) is checked in fit-node-defaults.test.ts.
import { Linear } from '@ml/nn';
import { manualSeed, randn } from '@ml/tensor';
import { describe, expect, it, vi } from 'vitest';
import { LambdaCallback, compile, evaluate, fit, predict, type Logs } from '../src/index.js';

function problem(n = 64) {
  manualSeed(4);
  const x = randn([n, 1]);
  const y = x.mul(3).add(1);
  const model = new Linear({ inFeatures: 1, outFeatures: 1 });
  compile(model, { optimizer: 'sgd', lr: 0.05, loss: 'mse' });
  return { x, y, model };
}

describe('fit in a page', () => {
  it('yieldEvery: 1 yields to the event loop after every batch: a timer set before fit runs while it trains', async () => {
    const { x, y, model } = problem();
    const seen: string[] = [];
    setTimeout(() => seen.push('timer'), 0);
    await fit(model, x, y, { epochs: 2, batchSize: 8, verbose: 0, yieldEvery: 1, callbacks: [new LambdaCallback({ onBatchEnd: (b) => void seen.push(`batch ${b}`) })] });
    seen.push('fit done');
    expect(seen.indexOf('timer')).toBe(1); // right after the first batch
  });

  it("by default ('auto') it yields by time, every 8 ms of work: far fewer yields than batches, and the page's events run", async () => {
    const { x, y, model } = problem(16384);
    const Real = globalThis.MessageChannel;
    let yields = 0;
    globalThis.MessageChannel = class extends Real {
      constructor() {
        super();
        yields++;
      }
    };
    const seen: string[] = [];
    setTimeout(() => seen.push('timer'), 0);
    const t0 = performance.now();
    try {
      await fit(model, x, y, { epochs: 1, batchSize: 8, verbose: 0 });
    } finally {
      globalThis.MessageChannel = Real;
    }
    seen.push('fit done');
    const ms = performance.now() - t0;
    expect(yields).toBeLessThanOrEqual(Math.ceil(ms / 8) + 1);
    expect(yields).toBeLessThan(2048 / 4);
    if (ms > 20) expect(seen).toEqual(['timer', 'fit done']);
  });

  it('yieldEvery: 0 does not yield: the timer waits for the end', async () => {
    const { x, y, model } = problem();
    const seen: string[] = [];
    setTimeout(() => seen.push('timer'), 0);
    await fit(model, x, y, { epochs: 2, batchSize: 8, verbose: 0, yieldEvery: 0 });
    seen.push('fit done');
    await new Promise((r) => setTimeout(r, 5));
    expect(seen).toEqual(['fit done', 'timer']);
  });

  it('an AbortSignal stops after the batch in flight: rejects with the reason, onTrainEnd runs, the weights are those of the batches done', async () => {
    const { x, y, model } = problem();
    const controller = new AbortController();
    const batches: number[] = [];
    let ended = false;
    const progress = new LambdaCallback({
      onBatchEnd: (b) => {
        batches.push(b);
        if (b === 2) controller.abort();
      },
      onTrainEnd: () => void (ended = true),
    });
    const e = await fit(model, x, y, { epochs: 3, batchSize: 8, verbose: 0, signal: controller.signal, callbacks: [progress] }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(DOMException);
    expect((e as DOMException).name).toBe('AbortError');
    expect(batches).toEqual([0, 1, 2]);
    expect(ended).toBe(true);
  });

  it('a page can abort from an event (here a timer) while fit runs; a reason given to abort() is what fit rejects with', async () => {
    const { x, y, model } = problem(4096);
    const controller = new AbortController();
    let batches = 0;
    setTimeout(() => controller.abort(new Error('stopped by the user')), 0);
    await expect(
      fit(model, x, y, { epochs: 50, batchSize: 8, verbose: 0, signal: controller.signal, callbacks: [new LambdaCallback({ onBatchEnd: () => void batches++ })] }),
    ).rejects.toThrow('stopped by the user');
    expect(batches).toBeGreaterThan(0);
    expect(batches).toBeLessThan(50 * 512);
  });

  it('an already aborted signal trains nothing', async () => {
    const { x, y, model } = problem();
    const before = Array.from(await model.weight.data());
    const onTrainBegin = vi.fn();
    await expect(fit(model, x, y, { verbose: 0, signal: AbortSignal.abort(), callbacks: [new LambdaCallback({ onTrainBegin })] })).rejects.toMatchObject({ name: 'AbortError' });
    expect(onTrainBegin).not.toHaveBeenCalled();
    expect(Array.from(await model.weight.data())).toEqual(before);
  });

  it('progress for a page: onBatchEnd has the running logs, onEpochEnd the epoch logs; verbose 1 prints a line per epoch to the console', async () => {
    const { x, y, model } = problem();
    const batchLogs: Logs[] = [];
    const epochLogs: Logs[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await fit(model, x, y, {
        epochs: 2,
        batchSize: 16,
        callbacks: [new LambdaCallback({ onBatchEnd: (_b, l) => void batchLogs.push(l), onEpochEnd: (_e, l) => void epochLogs.push(l) })],
      });
      expect(log.mock.calls.map((c) => String(c[0]).replace(/ - [\d.]+s - /, ' - ?s - ').replace(/[\d.]+$/, 'L'))).toEqual(['Epoch 1/2 - ?s - loss: L', 'Epoch 2/2 - ?s - loss: L']);
    } finally {
      log.mockRestore();
    }
    expect(batchLogs).toHaveLength(8);
    expect(epochLogs).toHaveLength(2);
    expect(epochLogs[1].loss).toBeLessThan(epochLogs[0].loss);
  });

  it('evaluate and predict yield between batches as well', async () => {
    const { x, y, model } = problem(16384);
    for (const run of [() => evaluate(model, x, y, { batchSize: 8 }), () => predict(model, x, { batchSize: 8 })]) {
      const seen: string[] = [];
      setTimeout(() => seen.push('timer'), 0);
      const t0 = performance.now();
      await run();
      seen.push('done');
      if (performance.now() - t0 > 20) expect(seen).toEqual(['timer', 'done']);
    }
  });

  it('refuses a yieldEvery that is not an integer ≥ 0', async () => {
    const { x, y, model } = problem();
    await expect(fit(model, x, y, { verbose: 0, yieldEvery: -1 })).rejects.toThrow("fit: yieldEvery must be an integer ≥ 0 or 'auto' (every 8 ms), got -1");
    await expect(fit(model, x, y, { verbose: 0, yieldEvery: 'often' as never })).rejects.toThrow(/got often$/);
  });
});
