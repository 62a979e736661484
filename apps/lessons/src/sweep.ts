/**
 * The notes' depth sweep: the same ReLU layer (here `width` units) stacked 1, 2, 3, 4 times,
 * each network trained on a small noisy training set and measured on held-out data. The
 * training loss keeps falling with depth; the held-out loss stops following it and rises:
 * the deeper networks fit the noise (over-fitting), as the notes' 4-layer row shows.
 */
import { Adam } from '@ml/optim';
import { SCHEMA, type TopLevelSpec } from '@ml/plot';
import { add, keep, manualSeed, matmul, mean, mul, noGrad, rand, randn, relu, sub, tidy, type Tensor } from './deps.js';
import { backward } from '@ml/autograd';

export interface SweepOptions {
  /** hidden-layer counts to compare (default [1, 2, 3, 4]) */
  depths?: readonly number[];
  /** ReLU units per hidden layer (default 64) */
  width?: number;
  /** training points (default 30) and held-out points (default 200) */
  trainPoints?: number;
  heldOutPoints?: number;
  /** noise standard deviation on the targets (default 0.3) */
  noise?: number;
  /** full-batch Adam steps per network (default 1500) and learning rate (default 0.01) */
  steps?: number;
  lr?: number;
  seed?: number;
}

export interface DepthResult {
  hiddenLayers: number;
  parameters: number;
  train: number;
  heldOut: number;
}

/** The curve under the data: 1.5·sin(2πx)·(1 − x²) on [−1, 1]. */
function target(x: Tensor): Tensor {
  return mul(x.mul(2 * Math.PI).sin(), sub(1, mul(x, x)).mul(1.5));
}

/** n points x ~ U(−1, 1), y = target(x) + N(0, noise²). */
function makeSet(n: number, noise: number): { x: Tensor; y: Tensor } {
  const x = keep(sub(mul(rand([n, 1]), 2), 1));
  const y = keep(add(target(x), mul(randn([n, 1]), noise)));
  return { x, y };
}

interface Layer {
  w: Tensor;
  b: Tensor;
}

function mlp(hiddenLayers: number, width: number): Layer[] {
  const sizes = [1, ...Array.from({ length: hiddenLayers }, () => width), 1];
  return sizes.slice(1).map((out, i) => {
    const fanIn = sizes[i];
    const w = keep(mul(randn([fanIn, out]), Math.sqrt(2 / fanIn)));
    const b = keep(mul(randn([out]), 0));
    w.requiresGrad = true;
    b.requiresGrad = true;
    return { w, b };
  });
}

function predict(net: readonly Layer[], x: Tensor): Tensor {
  let a = x;
  net.forEach(({ w, b }, l) => {
    const z = add(matmul(a, w), b);
    a = l === net.length - 1 ? z : relu(z);
  });
  return a;
}

const mse = (p: Tensor, y: Tensor): Tensor => mean(mul(sub(p, y), sub(p, y)));

/** Train one network per depth on the same data; report train and held-out MSE. */
export function depthSweep(o: SweepOptions = {}): { results: DepthResult[]; chart: TopLevelSpec } {
  const depths = o.depths ?? [1, 2, 3, 4];
  const width = o.width ?? 64;
  const noise = o.noise ?? 0.3;
  const steps = o.steps ?? 1500;
  const lr = o.lr ?? 0.01;
  manualSeed(o.seed ?? 42);
  const train = makeSet(o.trainPoints ?? 30, noise);
  const held = makeSet(o.heldOutPoints ?? 200, noise);
  const results: DepthResult[] = [];
  for (const hiddenLayers of depths) {
    const net = mlp(hiddenLayers, width);
    const params = net.flatMap(({ w, b }) => [w, b]);
    const opt = new Adam(params, { lr });
    for (let step = 0; step < steps; step++) {
      tidy(() => {
        opt.zeroGrad();
        backward(mse(predict(net, train.x), train.y));
        opt.step();
      });
    }
    const [tr, ho] = noGrad(() => tidy(() => [mse(predict(net, train.x), train.y).item(), mse(predict(net, held.x), held.y).item()]));
    const parameters = params.reduce((s, p) => s + p.size, 0);
    results.push({ hiddenLayers, parameters, train: tr, heldOut: ho });
    for (const p of params) {
      p.grad?.dispose();
      p.dispose();
    }
  }
  for (const t of [train.x, train.y, held.x, held.y]) t.dispose();
  const rows = results.flatMap((r) => [
    { layers: r.hiddenLayers, loss: r.train, set: 'training' },
    { layers: r.hiddenLayers, loss: r.heldOut, set: 'held-out' },
  ]);
  const chart: TopLevelSpec = {
    $schema: SCHEMA,
    title: `ReLU networks of 1–${Math.max(...depths)} hidden layers (${width} units each): training vs held-out MSE`,
    background: 'white',
    width: 420,
    height: 280,
    data: { values: rows },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'layers', type: 'ordinal', title: 'hidden layers', axis: { labelAngle: 0 } },
      y: { field: 'loss', type: 'quantitative', scale: { type: 'log' }, title: 'mean squared error' },
      color: { field: 'set', type: 'nominal', title: null, sort: ['training', 'held-out'] },
    },
  };
  return { results, chart };
}
