import { getBackend, ones, setBackend } from '@ml/tensor';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BACKEND_CHOICES, closest, editDistance, finiteNumber, nonNegativeInt, onHost, oneOf, parseFlags, positiveInt, positiveNumber, runCli, selectBackendFlag, UsageError } from '../src/index.js';

describe('parseFlags', () => {
  const flags = { epochs: { type: 'string' }, 'batch-size': { type: 'string' }, quick: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const;

  it('parses values, switches and positionals as parseArgs does', () => {
    expect(parseFlags(['train', '--epochs', '3', '--quick', '-h'], flags)).toEqual({ values: { epochs: '3', quick: true, help: true }, positionals: ['train'] });
  });

  it("takes a negative number as a value (the flag's own check then refuses it), not as an ambiguous flag", () => {
    expect(parseFlags(['--epochs', '-1'], flags).values.epochs).toBe('-1');
    expect(parseFlags(['--epochs', '-0.5', 'x'], flags)).toEqual({ values: { epochs: '-0.5' }, positionals: ['x'] });
    expect(() => positiveInt('epochs', parseFlags(['--epochs', '-1'], flags).values.epochs)).toThrow(new UsageError("--epochs expects a positive integer, got '-1'"));
  });

  it('an unknown flag is a UsageError naming it and the closest valid ones', () => {
    expect(() => parseFlags(['--epoch', '3'], flags)).toThrow(new UsageError('unknown option --epoch; did you mean --epochs?'));
    expect(() => parseFlags(['--batchsize', '3'], flags)).toThrow(new UsageError('unknown option --batchsize; did you mean --batch-size?'));
    expect(() => parseFlags(['--zzzzzzzz'], flags)).toThrow(new UsageError('unknown option --zzzzzzzz'));
    expect(() => parseFlags(['-x'], flags)).toThrow(new UsageError('unknown option -x'));
  });

  it('a flag without its value, or a switch given one, is a UsageError in plain words', () => {
    expect(() => parseFlags(['--epochs'], flags)).toThrow(new UsageError('--epochs needs a value'));
    expect(() => parseFlags(['--quick=yes'], flags)).toThrow(new UsageError('--quick is a switch and takes no value'));
  });

  it('closest / editDistance: the near names, best first', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(closest('lr', ['lr', 'seed'])).toEqual(['lr']);
    expect(closest('predcit', ['train', 'predict'])).toEqual(['predict']);
    expect(closest('batch', ['batch-size', 'epochs'])).toEqual(['batch-size']);
    expect(closest('qqqqqq', ['train', 'predict'])).toEqual([]);
  });

  it('nonNegativeInt: 0 is a valid seed; negatives, fractions and words are not', () => {
    expect([nonNegativeInt('seed', '0'), nonNegativeInt('seed', '7'), nonNegativeInt('seed', undefined)]).toEqual([0, 7, undefined]);
    for (const bad of ['-1', '1.5', 'x', '', ' ']) expect(() => nonNegativeInt('seed', bad)).toThrow(new UsageError(`--seed expects an integer ≥ 0, got '${bad}'`));
  });
});

describe('flags', () => {
  it('positiveInt / positiveNumber / finiteNumber / oneOf: values, absent flags, and usage errors naming the flag', () => {
    expect([positiveInt('epochs', '3'), positiveInt('epochs', undefined)]).toEqual([3, undefined]);
    for (const bad of ['0', '-2', '1.5', 'ten', '']) expect(() => positiveInt('epochs', bad)).toThrow(new UsageError(`--epochs expects a positive integer, got '${bad}'`));
    expect([positiveNumber('lr', '0.01'), positiveNumber('lr', undefined)]).toEqual([0.01, undefined]);
    for (const bad of ['0', '-1', 'Infinity', 'NaN']) expect(() => positiveNumber('lr', bad)).toThrow(`--lr expects a positive number, got '${bad}'`);
    expect([finiteNumber('noise', '-0.5', 1), finiteNumber('noise', undefined, 1)]).toEqual([-0.5, 1]);
    expect(() => finiteNumber('noise', 'x', 1)).toThrow(UsageError);
    expect([oneOf('model', 'cnn', ['mlp', 'cnn'], 'mlp'), oneOf('model', undefined, ['mlp', 'cnn'], 'mlp')]).toEqual(['cnn', 'mlp']);
    expect(() => oneOf('model', 'rnn', ['mlp', 'cnn'], 'mlp')).toThrow("--model must be mlp, cnn; got 'rnn'");
  });
});

describe('runCli: exit codes and messages', () => {
  const stderr: string[] = [];
  const spy = () => vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (stderr.push(String(s)), true));
  afterEach(() => {
    vi.restoreAllMocks();
    stderr.length = 0;
    process.exitCode = undefined;
  });
  const settle = () => new Promise((r) => setTimeout(r, 0));

  it('the returned code, or 0', async () => {
    runCli('app', () => 3);
    await settle();
    expect(process.exitCode).toBe(3);
    runCli('app', async () => {});
    await settle();
    expect(process.exitCode).toBe(0);
  });
  it('2 with a pointer to --help for usage errors, thrown or rejected', async () => {
    spy();
    runCli('app', () => positiveInt('epochs', '0'));
    expect(process.exitCode).toBe(2);
    runCli('app', async () => {
      await settle();
      throw new UsageError('bad flag');
    });
    await settle();
    await settle();
    expect(process.exitCode).toBe(2);
    expect(stderr).toEqual(["app: --epochs expects a positive integer, got '0'\n\nRun app --help for usage.\n", 'app: bad flag\n\nRun app --help for usage.\n']);
  });
  it('1 for any other error, the message after the app’s name', async () => {
    spy();
    runCli('app', () => Promise.reject(new Error('disk full')));
    await settle();
    expect([process.exitCode, stderr]).toEqual([1, ['app: disk full\n']]);
  });
});

describe('--backend', () => {
  afterEach(() => setBackend('cpu'));
  it('offers cpu, wasm, auto and webgpu; cpu and wasm become the default backend', async () => {
    expect([...BACKEND_CHOICES]).toEqual(['cpu', 'wasm', 'auto', 'webgpu']);
    expect(await selectBackendFlag('wasm')).toEqual({ name: 'wasm' });
    expect(ones([2]).backend.name).toBe('wasm');
    expect(await selectBackendFlag('cpu')).toEqual({ name: 'cpu' });
    expect(getBackend().name).toBe('cpu');
    // auto: wasm where the engine has WebAssembly SIMD (Node 20 has), never webgpu
    expect((await selectBackendFlag('auto')).name).toBe('wasm');
  });
  it('onHost runs on the current backend when it reads synchronously, else on cpu, and restores it', async () => {
    setBackend('wasm');
    expect(await onHost(() => ones([1]).backend.name)).toBe('wasm');
    // a backend without synchronous reads (as a GPU's)
    const wasm = getBackend('wasm');
    expect(Object.hasOwn(wasm, 'readSync')).toBe(false); // a method: hidden by an own property, then unhidden
    Object.defineProperty(wasm, 'readSync', { value: undefined, configurable: true });
    try {
      expect(await onHost(async () => ones([1]).backend.name)).toBe('cpu');
      expect(getBackend().name).toBe('wasm');
      await expect(onHost(() => Promise.reject(new Error('failed on the host')))).rejects.toThrow('failed on the host');
      expect(getBackend().name).toBe('wasm');
    } finally {
      delete (wasm as { readSync?: unknown }).readSync;
    }
  });
});
