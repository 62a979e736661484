// The README's "Keras-style construction" example, line for line; what it prints is asserted.
import { randn } from '@ml/tensor';
import { describe, expect, it, vi } from 'vitest';
import { Activation, Conv2d, Dense, Flatten, MaxPool2d, Sequential, build, isBuilt } from '../src/index.js';

describe('README: Keras-style construction', () => {
  it("the notes' CNN: Keras's Conv2D form and Activation layers, Keras's parameter counts", () => {
    const printed: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void printed.push(args.join(' ')));
    try {
      const model = new Sequential();
      model.add(new Conv2d(128, [3, 3], { padding: 'same', inputShape: [28, 28, 1], dataFormat: 'channelsLast' }));
      model.add(new Activation('relu'));
      model.add(new Conv2d(128, [3, 3], { padding: 'same', dataFormat: 'channelsLast' }));
      model.add(new Activation('relu'));
      model.add(new Flatten());
      model.add(new Dense(10));
      model.add(new Activation('softmax'));
      model.summary();
    } finally {
      log.mockRestore();
    }
    const table = printed.join('\n');
    expect(table).toMatch(/1,280\n[^]*147,584\n[^]*1,003,530\n/);
    expect(table).toMatch(/Total params: 1,152,394\n/);
  });

  it("the notes' 2-25-25-1 model's summary and a lazy channels-last CNN", () => {
    const printed: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void printed.push(args.join(' ')));
    try {
      const model = new Sequential();
      model.add(new Dense(25, { inputShape: [2], activation: 'sigmoid' }));
      model.add(new Dense(25, { activation: 'sigmoid' }));
      model.add(new Dense(1, { activation: 'sigmoid' }));
      model.summary();

      const cnn = new Sequential([
        new Conv2d({ outChannels: 32, kernelSize: 3, activation: 'relu', dataFormat: 'channelsLast' }),
        new MaxPool2d({ kernelSize: 2, dataFormat: 'channelsLast' }),
        new Flatten(),
        new Dense(10, { activation: 'softmax' }),
      ]);
      expect(isBuilt(cnn)).toBe(false);
      build(cnn, randn([1, 28, 28, 1]));
      expect(cnn.numParameters()).toBe(320 + 54_090);
      expect(cnn.at(3).parameters()[0].shape).toEqual([10, 13 * 13 * 32]);
    } finally {
      log.mockRestore();
    }
    const table = printed.join('\n');
    expect(table).toMatch(/\(None, 25\)\s+75\n[^\n]*\(None, 25\)\s+650\n[^\n]*\(None, 1\)\s+26\n/);
    expect(table).toMatch(/Total params: 751\n/);
  });
});
