import '@ml/autograd';
import { full, memory, tensor, type Tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import {
  Linear,
  Module,
  ModuleConfigError,
  ReLU,
  Sequential,
  checkModuleConfig,
  input,
  Model,
  moduleFromConfig,
  moduleToConfig,
  registerModuleClass,
  type ModuleConfig,
  type ModuleOptions,
} from '../src/index.js';

const leaf = (className: string, config: Record<string, unknown>): ModuleConfig => ({ className, config });

describe('loadStateDict with keys named like Object.prototype members', () => {
  it("reports 'constructor' and 'toString' as unexpected keys", () => {
    const m = new Linear({ inFeatures: 2, outFeatures: 1 });
    const sd: Record<string, Tensor> = { ...m.stateDict(), constructor: tensor([1]), toString: tensor([2]) };
    expect(() => m.loadStateDict(sd)).toThrow(/unexpected keys: 'constructor', 'toString'/);
    expect(m.loadStateDict(sd, { strict: false }).unexpectedKeys).toEqual(['constructor', 'toString']);
  });

  it("does not read a missing key through the prototype", () => {
    class Odd extends Module {
      constructor() {
        super();
        this.registerParameter('constructor', full([1], 5));
      }
      forward(x: Tensor): Tensor {
        return x;
      }
    }
    const m = new Odd();
    expect(m.loadStateDict({}, { strict: false }).missingKeys).toEqual(['constructor']);
    expect((m.stateDict() as Record<string, Tensor>)['constructor'].dataSync()[0]).toBe(5);
  });
});

describe('moduleFromConfig on untrusted configs', () => {
  it('bounds the nesting depth with a clear error instead of overflowing the stack', () => {
    let c: ModuleConfig = leaf('ReLU', {});
    for (let i = 0; i < 5000; i++) c = { className: 'Sequential', config: {}, layers: [c] };
    let caught: unknown;
    try {
      moduleFromConfig(c);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ModuleConfigError);
    expect((caught as Error).message).toMatch(/^config(\.layers\[0\]){65} is nested more than 64 levels deep$/);
  });

  const bad: [string, unknown, RegExp][] = [
    ['not an object', 5, /^config must be an object, got 5$/],
    ['className missing', { config: {} }, /^config\.className must be a string, got undefined$/],
    ['an inherited className', leaf('toString', {}), /^config\.className: unknown layer class "toString"/],
    ['__proto__ as className', leaf('__proto__', {}), /^config\.className: unknown layer class "__proto__"/],
    ['inFeatures "x"', { className: 'Sequential', config: {}, layers: [leaf('ReLU', {}), leaf('ReLU', {}), leaf('Linear', { inFeatures: 'x', outFeatures: 2 })] }, /^config\.layers\[2\]\.config\.inFeatures must be a positive integer, got "x"$/],
    ['a missing required option', leaf('Linear', { inFeatures: 2 }), /^config\.config\.outFeatures is required by Linear$/],
    ['an unknown option', leaf('ReLU', { inplace: true }), /^config\.config\.inplace is not an option of ReLU$/],
    ['a bad initializer name', leaf('Linear', { inFeatures: 2, outFeatures: 2, weightInit: 'constructor' }), /weightInit must be one of zeros/],
    ['Sequential without layers', { className: 'Sequential', config: {} }, /^config\.layers must be an array, got undefined$/],
    ['Model without graph', { className: 'Model', config: {} }, /^config\.graph must be an object, got undefined$/],
    ['a constructor-level error', leaf('Dropout', { p: 2 }), /^config: Dropout rejects its config: Dropout: p must be in \[0, 1\], got 2$/],
    ['a graph input of a billion elements', {
      className: 'Model', config: {}, graph: { inputs: [{ name: 'x', shape: [null, 1_000_000, 1000], dtype: 'float32' }], layers: [], calls: [], outputs: ['x'], multiOutput: false },
    }, /^config\.graph\.inputs\[0\]\.shape describes 1000000000 elements per sample/],
  ];
  for (const [name, cfg, message] of bad) {
    it(`rejects ${name}, naming the JSON path`, () => {
      let caught: unknown;
      try {
        moduleFromConfig(cfg as ModuleConfig);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(ModuleConfigError);
      expect((caught as Error).message).toMatch(message);
    });
  }

  it('refuses an architecture larger than maxStateElements before building anything', () => {
    const before = memory().numBytes;
    expect(() => moduleFromConfig(leaf('Linear', { inFeatures: 20000, outFeatures: 20000 }), { maxStateElements: 100 })).toThrow(
      /^config describes 400020000 parameter and buffer elements, more than the 100 allowed$/,
    );
    // nothing was allocated (building it first took 5 s and 1.6 GB)
    expect(memory().numBytes).toBe(before);
  });

  it('a graph whose calls blow up the probe size is refused', () => {
    const calls = [];
    let prev = 'x';
    for (let i = 0; i < 40; i++) {
      calls.push({ layer: 'cat', inputs: [prev, prev], outputs: [`c${i}`] });
      prev = `c${i}`;
    }
    const cfg = {
      className: 'Model', config: {},
      graph: { inputs: [{ name: 'x', shape: [null, 1000], dtype: 'float32' }], layers: [leaf('Concatenate', { name: 'cat' })], calls, outputs: [prev], multiOutput: false },
    };
    expect(() => moduleFromConfig(cfg as ModuleConfig)).toThrow(/^config\.graph\.calls\[\d+\]\.inputs hold \d+ elements per sample, more than the 4194304 a call may take$/);
  });

  it('counts the state of registered custom layers once they are built', () => {
    class Big extends Module {
      constructor(options: ModuleOptions & { n?: number } = {}) {
        super(options);
        this.registerParameter('w', full([options.n ?? 1], 0));
      }
      forward(x: Tensor): Tensor {
        return x;
      }
    }
    registerModuleClass(Big, 'BigForUntrustedTest');
    const cfg = { className: 'Sequential', config: {}, layers: [leaf('BigForUntrustedTest', { n: 10 }), leaf('BigForUntrustedTest', { n: 10 })] };
    expect(() => moduleFromConfig(cfg, { maxStateElements: 15 })).toThrow(/^config\.layers\[1\] brings the architecture to 20 parameter and buffer elements, more than the 15 allowed$/);
    expect(Object.keys(moduleFromConfig(cfg, { maxStateElements: 20 }).stateDict())).toEqual(['0.w', '1.w']);
  });
});

describe('checkModuleConfig counts exactly what the built-in layers allocate', () => {
  const samples: ModuleConfig[] = [
    leaf('Linear', { inFeatures: 3, outFeatures: 5 }),
    leaf('Dense', { inFeatures: 3, outFeatures: 5, bias: false }),
    leaf('Conv2d', { inChannels: 4, outChannels: 6, kernelSize: [3, 2], groups: 2 }),
    leaf('Conv2d', { inChannels: 3, outChannels: 2, kernelSize: 3, bias: false, padding: 'same' }),
    leaf('Conv1d', { inChannels: 4, outChannels: 8, kernelSize: 5, groups: 4 }),
    leaf('BatchNorm1d', { numFeatures: 7 }),
    leaf('BatchNorm2d', { numFeatures: 7, affine: false }),
    leaf('BatchNorm2d', { numFeatures: 7, trackRunningStats: false }),
    leaf('LayerNorm', { normalizedShape: [3, 4] }),
    leaf('LayerNorm', { normalizedShape: 5, elementwiseAffine: false }),
    leaf('Embedding', { numEmbeddings: 11, embeddingDim: 3, paddingIdx: 0 }),
    leaf('RNN', { inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, nonlinearity: 'relu' }),
    leaf('LSTM', { inputSize: 3, hiddenSize: 4, numLayers: 3, bias: false }),
    leaf('GRU', { inputSize: 5, hiddenSize: 2, bidirectional: true }),
    leaf('RNNCell', { inputSize: 3, hiddenSize: 4 }),
    leaf('LSTMCell', { inputSize: 3, hiddenSize: 4, bias: false }),
    leaf('GRUCell', { inputSize: 3, hiddenSize: 4 }),
    leaf('EchoStateNetwork', { inputSize: 2, reservoirSize: 10, outputSize: 3, connectivity: 0.5 }),
    leaf('MultiheadAttention', { embedDim: 8, numHeads: 2 }),
    leaf('MultiheadAttention', { embedDim: 8, numHeads: 2, kdim: 3, vdim: 5, bias: false }),
    leaf('SinusoidalPositionalEncoding', { dModel: 6, maxLen: 10 }),
    leaf('LearnedPositionalEncoding', { dModel: 6, maxLen: 10 }),
    leaf('MaxPool2d', { kernelSize: 2 }),
    leaf('GELU', { approximate: 'tanh' }),
    leaf('TransformerEncoderLayer', { dModel: 8, nhead: 2, dimFeedforward: 16 }),
    leaf('TransformerDecoderLayer', { dModel: 8, nhead: 2, dimFeedforward: 12, normFirst: true, activation: 'gelu', batchFirst: true }),
    leaf('Transformer', { dModel: 8, nhead: 2, numEncoderLayers: 2, numDecoderLayers: 1, dimFeedforward: 16 }),
  ];
  for (const cfg of samples) {
    it(`${cfg.className} ${JSON.stringify(cfg.config)}`, () => {
      const m = moduleFromConfig(cfg);
      const actual = Object.values(m.stateDict()).reduce((a, t) => a + t.size, 0);
      expect(checkModuleConfig(cfg).stateElements).toBe(actual);
      // a saved config passes the same checks
      expect(checkModuleConfig(moduleToConfig(m)).stateElements).toBe(actual);
    });
  }

  it('a functional model round-trips through the checked path', () => {
    const x = input({ shape: [4] });
    const h = new Linear({ inFeatures: 4, outFeatures: 3, name: 'h' }).call(x);
    const y = new Linear({ inFeatures: 3, outFeatures: 2, name: 'y' }).call(new ReLU({ name: 'r' }).call(h));
    const m = new Model({ inputs: x, outputs: y });
    const cfg = moduleToConfig(m);
    expect(checkModuleConfig(cfg).stateElements).toBe(4 * 3 + 3 + 3 * 2 + 2);
    const back = moduleFromConfig(JSON.parse(JSON.stringify(cfg)) as ModuleConfig, { maxStateElements: 23 });
    expect(Object.keys(back.stateDict())).toEqual(Object.keys(m.stateDict()));
    const s = new Sequential([new Linear({ inFeatures: 2, outFeatures: 2 })]);
    expect(() => moduleFromConfig(moduleToConfig(s), { maxStateElements: 5 })).toThrow(/describes 6 parameter and buffer elements, more than the 5 allowed/);
  });
});
