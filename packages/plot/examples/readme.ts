import { decisionRegions, lossCurves, lossSurface, saveSvg, toHtml } from '@ml/plot';
import { writeFile } from 'node:fs/promises';

// a made-up Keras-style history, as model.fit returns it
const epoch = Array.from({ length: 30 }, (_, i) => i);
const history = {
  epoch,
  history: {
    loss: epoch.map((e) => 0.08 + 2.2 * Math.exp(-e / 6)),
    val_loss: epoch.map((e) => 0.2 + 2.2 * Math.exp(-e / 7) + 0.012 * e),
    accuracy: epoch.map((e) => 0.98 - 0.7 * Math.exp(-e / 5)),
    val_accuracy: epoch.map((e) => 0.93 - 0.7 * Math.exp(-e / 6)),
  },
};
await saveSvg(lossCurves(history, { title: 'Training history' }), 'loss-curves.svg');

// two interleaved half-moons and a 1-nearest-neighbour classifier
const x: number[][] = [];
const y: number[] = [];
for (let i = 0; i < 100; i++) {
  const a = (Math.PI * i) / 99;
  x.push([Math.cos(a), Math.sin(a) - 0.25 + 0.1 * Math.sin(37 * i)], [1 - Math.cos(a), 0.25 - Math.sin(a) + 0.1 * Math.cos(53 * i)]);
  y.push(0, 1);
}
const nearest = ([u, v]: number[]) => {
  let best = 0;
  for (let i = 1; i < x.length; i++) {
    if ((x[i][0] - u) ** 2 + (x[i][1] - v) ** 2 < (x[best][0] - u) ** 2 + (x[best][1] - v) ** 2) best = i;
  }
  return y[best];
};
const regions = decisionRegions({ predict: (points) => points.map(nearest), x, y, labels: ['upper moon', 'lower moon'], title: 'Decision regions' });
await saveSvg(regions, 'decision-regions.svg');

// the mean squared error of y = w·x + b on points of y = 2x + 1, and gradient descent on it
const xs = [-1, -0.5, 0, 0.5, 1, 1.5, 2];
const ys = xs.map((v) => 2 * v + 1);
const mse = (w: number, b: number) => xs.reduce((s, v, i) => s + (w * v + b - ys[i]) ** 2, 0) / xs.length;
const descend = (lr: number, steps: number) => {
  let [w, b] = [-2, 3];
  const points: [number, number][] = [[w, b]];
  for (let k = 0; k < steps; k++) {
    // ∂mse/∂w = 2·mean((w·x + b − y)·x), ∂mse/∂b = 2·mean(w·x + b − y)
    const gw = xs.reduce((s, v, i) => s + 2 * (w * v + b - ys[i]) * v, 0) / xs.length;
    const gb = xs.reduce((s, v, i) => s + 2 * (w * v + b - ys[i]), 0) / xs.length;
    [w, b] = [w - lr * gw, b - lr * gb];
    points.push([w, b]);
  }
  return points;
};
const surface = lossSurface({
  f: mse,
  wRange: [-3, 5],
  bRange: [-2, 4],
  logScale: true,
  paths: [
    { name: 'lr 0.1', points: descend(0.1, 30) },
    { name: 'lr 0.45', points: descend(0.45, 30) },
  ],
  title: 'MSE of y = w·x + b',
});
await saveSvg(surface, 'loss-surface.svg');

// an interactive page (tooltips, export menu) that loads vega-embed
await writeFile('loss-surface.html', toHtml(surface));
