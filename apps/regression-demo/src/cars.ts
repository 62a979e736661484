import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { readJsonRecords } from '@ml/data';
import { Linear, ReLU, Sequential } from '@ml/nn';
import { fromArray, manualSeed } from '@ml/tensor';
import '@ml/train';
import { fitScaler, leastSquares, mse, r2, splitIndices } from './linalg.js';

export interface CarsOptions {
  seed: number;
  /** MLP training epochs (default 300) */
  epochs: number;
  /** the cars.json file (default: the vega-datasets package's) */
  file?: string;
}

export interface CarsResult {
  rows: number;
  dropped: number;
  /** the 9-feature linear model: standardized coefficients by feature, test RMSE and R² */
  linear9: { coefficients: { feature: string; weight: number }[]; intercept: number; rmse: number; r2: number };
  /** MPG from horsepower and weight: linear regression vs an MLP, test RMSE and R² */
  linear2: { rmse: number; r2: number };
  mlp2: { rmse: number; r2: number; epochs: number; params: number };
}

export const FEATURES = ['Cylinders', 'Displacement', 'Horsepower', 'Weight_in_lbs', 'Acceleration', 'Year', 'Origin=USA', 'Origin=Europe', 'Origin=Japan'] as const;

export function carsFile(): string {
  // vega-datasets exports only build/index.js; its data/ folder sits next to build/
  return join(dirname(dirname(createRequire(import.meta.url).resolve('vega-datasets'))), 'data', 'cars.json');
}

/**
 * Miles per gallon of 1970s–80s cars (vega-datasets' cars.json): a 9-feature linear
 * regression (six numbers, the model year, the origin one-hot) by the normal equations on
 * standardized features; then MPG from horsepower and weight alone, linear regression
 * against a 2-32-32-1 MLP trained with Adam. 20% of the cars (seeded) are the test set;
 * scalers are fitted on the training cars only. Cars without MPG or horsepower are dropped.
 */
export async function cars(o: CarsOptions): Promise<CarsResult> {
  const table = await readJsonRecords(o.file ?? carsFile());
  for (const c of ['Miles_per_Gallon', 'Cylinders', 'Displacement', 'Horsepower', 'Weight_in_lbs', 'Acceleration', 'Year', 'Origin']) {
    if (!table.columns.includes(c)) throw new Error(`${o.file ?? 'cars.json'}: no '${c}' field in the records`);
  }
  const usable = table.rows.filter((r) => typeof r.Miles_per_Gallon === 'number' && typeof r.Horsepower === 'number');
  const year = (v: unknown) => (v instanceof Date ? v.getUTCFullYear() : Number(String(v).slice(0, 4)));
  const X9 = usable.map((r) => [
    r.Cylinders as number,
    r.Displacement as number,
    r.Horsepower as number,
    r.Weight_in_lbs as number,
    r.Acceleration as number,
    year(r.Year),
    r.Origin === 'USA' ? 1 : 0,
    r.Origin === 'Europe' ? 1 : 0,
    r.Origin === 'Japan' ? 1 : 0,
  ]);
  const y = usable.map((r) => r.Miles_per_Gallon as number);
  manualSeed(o.seed);
  const [tr, te] = splitIndices(usable.length, 0.2);
  const pick = <T>(a: T[], idx: number[]) => idx.map((i) => a[i]);

  // 9 features: standardize the six numeric columns (the one-hot columns stay 0/1, and one
  // of them is redundant with the intercept, so a tiny ridge keeps the system solvable)
  const numeric = (rows: number[][]) => rows.map((r) => r.slice(0, 6));
  const sc9 = fitScaler(numeric(pick(X9, tr)));
  const prep9 = (rows: number[][]) => sc9.apply(numeric(rows)).map((r, i) => [...r, ...rows[i].slice(6)]);
  const lin9 = leastSquares(prep9(pick(X9, tr)), pick(y, tr), 1e-8);
  const pred9 = prep9(pick(X9, te)).map((r) => lin9.b + r.reduce((s, v, j) => s + v * lin9.w[j], 0));
  const yTest = pick(y, te);

  // 2 features: horsepower and weight
  const two = (rows: number[][]) => rows.map((r) => [r[2], r[3]]);
  const sc2 = fitScaler(two(pick(X9, tr)));
  const xTr2 = sc2.apply(two(pick(X9, tr)));
  const xTe2 = sc2.apply(two(pick(X9, te)));
  const lin2 = leastSquares(xTr2, pick(y, tr));
  const predLin2 = xTe2.map((r) => lin2.b + r[0] * lin2.w[0] + r[1] * lin2.w[1]);

  const yMean = pick(y, tr).reduce((a, b) => a + b) / tr.length;
  const model = new Sequential([new Linear({ inFeatures: 2, outFeatures: 32 }), new ReLU(), new Linear({ inFeatures: 32, outFeatures: 32 }), new ReLU(), new Linear({ inFeatures: 32, outFeatures: 1 })]);
  model.compile({ optimizer: 'adam', lr: 3e-3, loss: 'mse' });
  // the network learns MPG minus the training mean (a centred target trains faster)
  const xT = fromArray(Float32Array.from(xTr2.flat()), [tr.length, 2]);
  const yT = fromArray(Float32Array.from(pick(y, tr).map((v) => v - yMean)), [tr.length, 1]);
  await model.fit(xT, yT, { epochs: o.epochs, batchSize: 32, seed: o.seed, verbose: 0 });
  const out = await model.predict(fromArray(Float32Array.from(xTe2.flat()), [te.length, 2]));
  const predMlp = Array.from(out.dataSync(), (v) => v + yMean);

  const rmse = (p: number[]) => Math.sqrt(mse(p, yTest));
  return {
    rows: usable.length,
    dropped: table.rows.length - usable.length,
    linear9: { coefficients: FEATURES.map((feature, j) => ({ feature, weight: lin9.w[j] })), intercept: lin9.b, rmse: rmse(pred9), r2: r2(pred9, yTest) },
    linear2: { rmse: rmse(predLin2), r2: r2(predLin2, yTest) },
    mlp2: { rmse: rmse(predMlp), r2: r2(predMlp, yTest), epochs: o.epochs, params: model.parameters().reduce((a, t) => a + t.size, 0) },
  };
}
