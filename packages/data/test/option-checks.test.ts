import { describe, expect, it } from 'vitest';
import { tensor } from '@ml/tensor';
import {
  circles,
  csvToTensors,
  DataLoader,
  encodeIdx,
  fashionMnist,
  IterableDataset,
  kFold,
  MinMaxScaler,
  mnist,
  noisyLine,
  normalize,
  parseCsv,
  parseIdx,
  parseJsonRecords,
  polynomial,
  randomSplit,
  readCsv,
  readIdx,
  readJsonRecords,
  rings,
  slidingWindows,
  spirals,
  stratifiedKFold,
  TensorDataset,
  trainValidationSplit,
  twoGaussians,
  weeklySeries,
  xor,
} from '../src/node.js';

// Keras/PyTorch/scikit-learn spellings are refused with ours named, never ignored: each of
// these ran with the option silently dropped before the checks.
const ds = new TensorDataset(tensor([1, 2, 3, 4]));
const table = parseCsv('a,b\n1,2\n3,4');
const idx = encodeIdx(new Uint8Array([1, 2]), [2]);

describe('option checks in @ml/data', () => {
  const cases: [string, () => unknown, string][] = [
    ['DataLoader', () => new DataLoader(ds, { batch_size: 2 } as never), "DataLoader: unknown option 'batch_size'; did you mean 'batchSize'?"],
    ['DataLoader', () => new DataLoader(ds, { collate_fn: (s: unknown) => s } as never), "DataLoader: unknown option 'collate_fn'; did you mean 'collate'?"],
    ['DataLoader', () => new DataLoader(ds, { shufle: true } as never), "DataLoader: unknown option 'shufle'; did you mean 'shuffle'?"],
    ['randomSplit', () => randomSplit(ds, [0.5, 0.5], { generator: 1 } as never), "randomSplit: unknown option 'generator'; did you mean 'seed'?"],
    ['trainValidationSplit', () => trainValidationSplit(ds, { test_size: 0.5 } as never), "trainValidationSplit: unknown option 'test_size'; did you mean 'validationFraction'?"],
    ['kFold', () => kFold(4, 2, { random_state: 0 } as never), "kFold: unknown option 'random_state'; did you mean 'seed'?"],
    ['stratifiedKFold', () => stratifiedKFold([0, 1, 0, 1], 2, { shuffled: true } as never), "stratifiedKFold: unknown option 'shuffled'; did you mean 'shuffle'?"],
    ['MinMaxScaler', () => new MinMaxScaler({ feature_range: [0, 1] } as never), "MinMaxScaler: unknown option 'feature_range'; did you mean 'featureRange'?"],
    ['normalize', () => normalize(0, 1, { axis: 1 } as never), "normalize: unknown option 'axis'; did you mean 'dim'?"],
    ['slidingWindows', () => slidingWindows([1, 2, 3, 4], { window: 2 } as never), "slidingWindows: unknown option 'window'; did you mean 'lookback'?"],
    ['parseCsv', () => parseCsv('a\n1', { sep: ';' } as never), "parseCsv: unknown option 'sep'; did you mean 'delimiter'?"],
    ['csvToTensors', () => csvToTensors(table, { features: ['a'], drop_missing: true } as never), "csvToTensors: unknown option 'drop_missing'; did you mean 'dropMissing'?"],
    ['parseJsonRecords', () => parseJsonRecords('[]', { max_cells: 3 } as never), "parseJsonRecords: unknown option 'max_cells'; did you mean 'maxCells'?"],
    ['parseIdx', () => parseIdx(idx, { md5: 'x' } as never), "parseIdx: unknown option 'md5'; did you mean 'expectedMd5'?"],
    ['IdxArray.toTensor', () => parseIdx(idx).toTensor({ scal: 2 } as never), "IdxArray.toTensor: unknown option 'scal'; did you mean 'scale'?"],
    ['IterableDataset.from', () => IterableDataset.from(() => [1], { len: 1 } as never), "IterableDataset.from: unknown option 'len'; did you mean 'length'?"],
    ['noisyLine', () => noisyLine({ n_samples: 3 } as never), "noisyLine: unknown option 'n_samples'; did you mean 'n'?"],
    ['polynomial', () => polynomial({ n: 3, coeffs: [1], coef: [1] } as never), "polynomial: unknown option 'coef'; did you mean 'coeffs'?"],
    ['twoGaussians', () => twoGaussians({ n: 3, sigma: 1 } as never), "twoGaussians: unknown option 'sigma'"],
    ['circles', () => circles({ n: 3, random_state: 1 } as never), "circles: unknown option 'random_state'; did you mean 'seed'?"],
    ['rings', () => rings({ n: 3, clases: 2 } as never), "rings: unknown option 'clases'; did you mean 'classes'?"],
    ['xor', () => xor({ n: 3, margn: 0.1 } as never), "xor: unknown option 'margn'; did you mean 'margin'?"],
    ['spirals', () => spirals({ n: 3, turn: 2 } as never), "spirals: unknown option 'turn'; did you mean 'turns'?"],
    ['weeklySeries', () => weeklySeries({ days: 14, periode: 7 } as never), "weeklySeries: unknown option 'periode'; did you mean 'period'?"],
  ];
  for (const [op, call, message] of cases) {
    it(`${op} refuses an unknown key, naming ours`, () => {
      expect(call).toThrow(TypeError);
      expect(call).toThrow(message);
    });
  }

  it('the Node readers and loaders reject, under their own names', async () => {
    await expect(readCsv('a\n1', { delimeter: ';' } as never)).rejects.toThrow("readCsv: unknown option 'delimeter'; did you mean 'delimiter'?");
    await expect(readJsonRecords('x.json', { type: {} } as never)).rejects.toThrow("readJsonRecords: unknown option 'type'; did you mean 'types'?");
    await expect(readIdx(idx, { sha256: 'x' } as never)).rejects.toThrow("readIdx: unknown option 'sha256'; did you mean 'expectedSha256'?");
    await expect(mnist({ root: '.' } as never)).rejects.toThrow("mnist: unknown option 'root'; did you mean 'dir'?");
    await expect(fashionMnist({ flaten: true } as never)).rejects.toThrow("fashionMnist: unknown option 'flaten'; did you mean 'flatten'?");
  });

  it('valid options still pass, and required options objects are asked for by name', () => {
    expect(new DataLoader(ds, { batchSize: 2, shuffle: true, seed: 1, dropLast: true, prefetch: 0 }).batchSize).toBe(2);
    expect(() => slidingWindows([1, 2, 3], undefined as never)).toThrow("slidingWindows: options with lookback are required, e.g. { lookback: 7 }");
    expect(() => noisyLine(undefined as never)).toThrow('noisyLine: options are required');
    expect(() => csvToTensors(table, undefined as never)).toThrow('csvToTensors: options with features are required');
    expect(() => new DataLoader(ds, [] as never)).toThrow('DataLoader: options must be an object, got an array');
  });
});

describe('StandardScaler takes no options', () => {
  it("refuses scikit-learn's with_mean instead of centring anyway", async () => {
    const { StandardScaler } = await import('../src/node.js');
    expect(() => new StandardScaler({ with_mean: false } as never)).toThrow("StandardScaler: unknown option 'with_mean'; it takes none");
    expect(new StandardScaler().fit(tensor([[1], [3]])).mean?.dataSync()[0]).toBe(2);
  });
});
