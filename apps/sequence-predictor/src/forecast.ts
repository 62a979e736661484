import { noGrad } from '@ml/autograd';
import { EchoStateNetwork, type Module } from '@ml/nn';
import { fromArray, manualSeed, tidy, type Tensor } from '@ml/tensor';
import { EarlyStopping, type History } from '@ml/train';
import { buildModel, type ModelKind } from './models.js';

export interface Setup {
  lookback: number;
  horizon: number;
  /** fraction of the series held out at the end for testing (default 0.2) */
  testFraction: number;
  epochs: number;
  seed: number;
  /** at most this many training windows (evenly strided), to bound CPU time */
  maxWindows: number;
  verbose: 0 | 1 | 2;
}

/**
 * Windows in a form every model can learn on any level of the series: inputs and targets
 * are taken relative to the window's last value and divided by the spread of one-step
 * changes in the training part. A model predicts the next `horizon` changes; adding the
 * last value back gives the forecast.
 */
export interface Prepared {
  /** index of the first held-out step */
  split: number;
  scale: number;
  /** forecast origins (index of each window's last input) for training and test windows */
  trainOrigins: number[];
  testOrigins: number[];
}

export function prepare(values: readonly number[], s: Setup): Prepared {
  const T = values.length;
  const split = Math.floor(T * (1 - s.testFraction));
  const { lookback: L, horizon: H } = s;
  if (split - L - H < 10) throw new Error(`the series has ${T} steps: too short for lookback ${L} and horizon ${H} with ${Math.round(s.testFraction * 100)}% held out`);
  const diffs: number[] = [];
  for (let i = 1; i < split; i++) diffs.push(values[i] - values[i - 1]);
  const mean = diffs.reduce((a, b) => a + b, 0) / diffs.length;
  const scale = Math.sqrt(diffs.reduce((a, d) => a + (d - mean) ** 2, 0) / diffs.length) || 1;
  const all: number[] = [];
  // origin o: inputs o−L+1 … o, targets o+1 … o+H; training targets end before the split
  for (let o = L - 1; o + H < split; o++) all.push(o);
  const stride = Math.max(1, Math.ceil(all.length / s.maxWindows));
  const trainOrigins = all.filter((_, i) => i % stride === 0);
  const testOrigins: number[] = [];
  for (let o = split - 1; o + H < T; o += H) testOrigins.push(o);
  return { split, scale, trainOrigins, testOrigins };
}

/** Normalized [N, L] inputs and [N, H] targets for the given origins. */
export function windows(values: readonly number[], origins: readonly number[], p: Prepared, s: Setup): { x: Tensor; y: Tensor } {
  const { lookback: L, horizon: H } = s;
  const x = new Float32Array(origins.length * L);
  const y = new Float32Array(origins.length * H);
  origins.forEach((o, n) => {
    const last = values[o];
    for (let i = 0; i < L; i++) x[n * L + i] = (values[o - L + 1 + i] - last) / p.scale;
    for (let h = 0; h < H; h++) y[n * H + h] = (values[o + 1 + h] - last) / p.scale;
  });
  return { x: fromArray(x, [origins.length, L]), y: fromArray(y, [origins.length, H]) };
}

/** Forecasts at each test origin: [origins][H] in the series' units. */
export type Forecasts = number[][];

export function lastValue(values: readonly number[], p: Prepared, s: Setup): Forecasts {
  return p.testOrigins.map((o) => Array.from({ length: s.horizon }, () => values[o]));
}

/** ŷ(o + h) = y(o + h − k·season), the latest value one or more whole seasons back. */
export function seasonalNaive(values: readonly number[], season: number, p: Prepared, s: Setup): Forecasts {
  return p.testOrigins.map((o) => Array.from({ length: s.horizon }, (_, i) => values[o + 1 + i - season * Math.ceil((i + 1) / season)]));
}

export interface Score {
  mae: number;
  rmse: number;
}

/** MAE and RMSE of forecasts made at `origins` (default: the held-out ones), over every step. */
export function score(values: readonly number[], f: Forecasts, p: Prepared, origins: readonly number[] = p.testOrigins): Score {
  let abs = 0;
  let sq = 0;
  let n = 0;
  origins.forEach((o, k) =>
    f[k].forEach((yhat, h) => {
      const e = yhat - values[o + 1 + h];
      abs += Math.abs(e);
      sq += e * e;
      n++;
    }),
  );
  return { mae: abs / n, rmse: Math.sqrt(sq / n) };
}

export interface Trained {
  forecasts: Forecasts;
  /** the trained network (neural models) */
  model?: Module;
  history?: History;
  seconds: number;
  params: number;
}

function toForecasts(values: readonly number[], out: Float32Array | Float64Array, p: Prepared, s: Setup, origins: readonly number[] = p.testOrigins): Forecasts {
  return origins.map((o, n) => Array.from({ length: s.horizon }, (_, h) => values[o] + p.scale * out[n * s.horizon + h]));
}

/** Train one neural model with Adam on MSE (10% of the training windows validate, with early stopping). */
export async function trainNeural(kind: Exclude<ModelKind, 'esn'>, values: readonly number[], p: Prepared, s: Setup): Promise<Trained> {
  manualSeed(s.seed);
  const model: Module = buildModel(kind, s.lookback, s.horizon);
  model.compile({ optimizer: 'adam', lr: 3e-3, loss: 'mse' });
  const train = windows(values, p.trainOrigins, p, s);
  const t0 = performance.now();
  const history = await model.fit(train.x, train.y, {
    epochs: s.epochs,
    batchSize: 32,
    validationSplit: 0.1,
    seed: s.seed,
    verbose: s.verbose,
    callbacks: [new EarlyStopping({ monitor: 'val_loss', patience: 8, restoreBestWeights: true })],
  });
  const seconds = (performance.now() - t0) / 1000;
  train.x.dispose();
  train.y.dispose();
  const forecasts = await forecastAt(model, values, p.testOrigins, p, s);
  const params = model.parameters().reduce((a, t) => a + t.size, 0);
  return { forecasts, model, history, seconds, params };
}

/** A trained network's forecasts from the windows ending at `origins`, in the series' units. */
export async function forecastAt(model: Module, values: readonly number[], origins: readonly number[], p: Prepared, s: Setup): Promise<Forecasts> {
  const { x, y } = windows(values, origins, p, s);
  const out = await model.predict(x, { batchSize: 256 });
  const forecasts = toForecasts(values, (await out.data()) as Float32Array, p, s, origins);
  for (const t of [x, y, out]) t.dispose();
  return forecasts;
}

/**
 * An echo-state network driven by the normalized one-step changes of the whole series;
 * its readout, fitted by ridge regression on the training part, maps the reservoir state
 * at each origin to the next `horizon` normalized changes from the last value.
 */
export function trainEsn(values: readonly number[], p: Prepared, s: Setup): Trained {
  manualSeed(s.seed);
  const T = values.length;
  const H = s.horizon;
  const t0 = performance.now();
  const u = new Float32Array(T);
  for (let t = 1; t < T; t++) u[t] = (values[t] - values[t - 1]) / p.scale;
  const esn = new EchoStateNetwork({ inputSize: 1, reservoirSize: 300, outputSize: H, spectralRadius: 0.95, leakingRate: 0.5, inputScaling: 0.5, washout: 50 });
  // targets at step t: the H changes after t; steps whose targets reach past the split are left out
  const fitLen = p.split - H;
  const target = new Float32Array(fitLen * H);
  for (let t = 0; t < fitLen; t++) for (let h = 0; h < H; h++) target[t * H + h] = (values[t + 1 + h] - values[t]) / p.scale;
  const forecasts = tidy(() => noGrad(() => {
    esn.fit(fromArray(u.subarray(0, fitLen), [fitLen, 1]), fromArray(target, [fitLen, H]), { ridge: 1e-4 });
    const out = esn.forward(fromArray(u, [T, 1])).dataSync();
    const picked = new Float32Array(p.testOrigins.length * H);
    p.testOrigins.forEach((o, n) => {
      for (let h = 0; h < H; h++) picked[n * H + h] = out[o * H + h];
    });
    return toForecasts(values, picked, p, s);
  }));
  const params = esn.parameters().reduce((a, t) => a + t.size, 0);
  return { forecasts, seconds: (performance.now() - t0) / 1000, params };
}
