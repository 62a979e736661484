#!/usr/bin/env node
import { BACKEND_CHOICES, selectBackend, enableRelaxedSimd } from '@ml/backend-wasm';
import { UsageError, finiteNumber, nonNegativeInt, oneOf, parseFlags, positiveInt, runCli } from '@ml/cli-kit';
import { saveSvgs, type TopLevelSpec } from '@ml/plot';
import { cars } from './cars.js';
import { classify, transforms } from './classify.js';
import { fitLine, type LineOptions } from './line.js';
import { descentPaths } from './paths.js';
import { polynomialFit } from './poly.js';

// This program asks for WebAssembly's relaxed SIMD (fused multiply-adds in the wasm
// backend's products): on Node 20 it sits behind a V8 flag, set here for this process.
enableRelaxedSimd();

const HELP = `regression-demo — regression and classification from the course notes, on @ml

Usage:
  regression-demo <command> [options]

Commands:
  line        fit y = w·x + b by gradient descent (autograd) and compare with the closed form
  paths       closed form (formula and normal equations) vs gradient descent, SGD and
              mini-batch, with each path drawn on the loss-surface contour
  poly        polynomial regression: degree chosen by validation, then L2 chosen by validation
  cars        MPG of cars (vega-datasets): 9-feature linear regression; MLP vs linear
              regression from horsepower and weight
  classify    generative Gaussian classifier vs logistic regression; softmax regression
  transform   circles and XOR: logistic regression on raw (a, b) vs on r = √(a²+b²) and a·b
  all         every command above, then one results table

Options:
  --out <dir>      where the charts go (every command but line)   (default ./regression-charts)
  --seed <n>       random seed                                      (default 42)
  --epochs <n>     cars: MLP training epochs                        (default 300)
  --cars <file>    cars: a cars.json of your own                    (default: vega-datasets')
  --slope <n>      line: true slope of the generated data           (default 2.5)
  --intercept <n>  line: true intercept                             (default -1)
  --points <n>     line, paths: number of points                    (default 200)
  --noise <n>      line: noise standard deviation                   (default 0.1)
  --steps <n>      line, paths: gradient-descent steps              (default 500)
  --lr <n>         line: learning rate                              (default 0.1)
  --backend <name> cpu, wasm or auto: wasm where supported          (default auto)
  -h, --help       show this help
`;

const COMMANDS = ['line', 'paths', 'poly', 'cars', 'classify', 'transform', 'all'] as const;
type Command = (typeof COMMANDS)[number];

const f4 = (n: number) => n.toFixed(4).padStart(9);
const pct = (n: number) => `${(100 * n).toFixed(1)}%`.padStart(7);

interface Summary {
  what: string;
  result: string;
}

async function charts(out: string, specs: Record<string, TopLevelSpec>): Promise<string[]> {
  const files = await saveSvgs(specs, out);
  console.log(`  charts: ${files.join(', ')}`);
  return files;
}

function runLine(o: LineOptions, summary: Summary[]): void {
  console.log(`Fitting y = w·x + b to ${o.points} points from y = ${o.slope}·x + ${o.intercept} + N(0, ${o.noise}²)`);
  const r = fitLine(o, (step, loss) => console.log(`  step ${String(step).padStart(5)}  mse ${loss.toFixed(6)}`));
  const f = (n: number) => n.toFixed(4).padStart(8);
  console.log('');
  console.log('                     w         b');
  console.log(`  true          ${f(o.slope)}  ${f(o.intercept)}`);
  console.log(`  gradient desc ${f(r.gd.w)}  ${f(r.gd.b)}   (final mse ${r.gd.loss.toFixed(6)})`);
  console.log(`  closed form   ${f(r.closedForm.w)}  ${f(r.closedForm.b)}`);
  summary.push({ what: 'line: |w_GD − w_closed|', result: Math.abs(r.gd.w - r.closedForm.w).toExponential(1) });
}

async function runPaths(points: number, steps: number, seed: number, out: string, summary: Summary[]): Promise<void> {
  console.log(`\nOne line, four ways (${points} points of y = 2x + 1 + noise, from (w, b) = (−4, 4), ${steps} updates each)`);
  const r = descentPaths({ points, steps, seed });
  console.log('                              w         b        mse');
  console.log(`  closed form (formula)  ${f4(r.formula.w)} ${f4(r.formula.b)}`);
  console.log(`  normal equations       ${f4(r.normal.w)} ${f4(r.normal.b)}`);
  for (const d of r.descents) console.log(`  ${d.name.padEnd(22)} ${f4(d.w)} ${f4(d.b)} ${d.loss.toFixed(5).padStart(10)}`);
  const gd = r.descents[0];
  const gap = Math.max(Math.abs(gd.w - r.formula.w), Math.abs(gd.b - r.formula.b));
  console.log(`  gradient descent is within ${gap.toExponential(1)} of the closed form; SGD and mini-batch hover around it`);
  summary.push({ what: 'paths: max |GD − closed form|', result: gap.toExponential(1) });
  await charts(out, { 'loss-surface': r.chart });
}

async function runPoly(seed: number, out: string, summary: Summary[]): Promise<void> {
  console.log('\nPolynomial regression on a noisy cubic (30 training, 30 validation, 200 test points)');
  const r = polynomialFit({ seed, maxDegree: 12 });
  console.log('  degree   train mse   val mse');
  for (const d of r.degrees) console.log(`  ${String(d.degree).padStart(6)} ${d.train.toFixed(5).padStart(11)} ${d.val.toFixed(5).padStart(9)}${d.degree === r.bestDegree ? '   ← lowest validation error' : ''}`);
  console.log('  degree 12 with an L2 penalty λ‖w‖²:');
  console.log('  λ          train mse   val mse');
  for (const l of r.lambdas) console.log(`  ${String(l.lambda).padEnd(8)} ${l.train.toFixed(5).padStart(11)} ${l.val.toFixed(5).padStart(9)}${l.lambda === r.bestLambda ? '   ← chosen' : ''}`);
  console.log(`  test mse: degree ${r.bestDegree} ${r.test.chosenDegree.toFixed(5)}, degree 12 ${r.test.maxDegree.toFixed(5)}, degree 12 + L2 (λ = ${r.bestLambda}) ${r.test.maxDegreeL2.toFixed(5)}`);
  summary.push({ what: `poly: test mse, degree ${r.bestDegree} / 12 / 12 + L2`, result: `${r.test.chosenDegree.toFixed(4)} / ${r.test.maxDegree.toFixed(4)} / ${r.test.maxDegreeL2.toFixed(4)}` });
  await charts(out, { polynomial: r.chart });
}

async function runCars(seed: number, epochs: number, file: string | undefined, summary: Summary[]): Promise<void> {
  console.log('\nMiles per gallon (vega-datasets cars.json, 20% of the cars held out)');
  const r = await cars({ seed, epochs, file });
  console.log(`  ${r.rows} cars (${r.dropped} without MPG or horsepower left out)`);
  console.log('  9-feature linear regression, standardized coefficients:');
  for (const c of r.linear9.coefficients) console.log(`    ${c.feature.padEnd(15)} ${f4(c.weight)}`);
  console.log(`    ${'intercept'.padEnd(15)} ${f4(r.linear9.intercept)}`);
  console.log('  model                              test RMSE (mpg)    R²');
  console.log(`  linear, 9 features                 ${f4(r.linear9.rmse)}     ${r.linear9.r2.toFixed(3)}`);
  console.log(`  linear, horsepower + weight        ${f4(r.linear2.rmse)}     ${r.linear2.r2.toFixed(3)}`);
  console.log(`  MLP 2-32-32-1, horsepower + weight ${f4(r.mlp2.rmse)}     ${r.mlp2.r2.toFixed(3)}   (${r.mlp2.params} parameters, ${r.mlp2.epochs} epochs)`);
  summary.push({ what: 'cars: test RMSE linear-9 / linear-2 / MLP-2', result: `${r.linear9.rmse.toFixed(2)} / ${r.linear2.rmse.toFixed(2)} / ${r.mlp2.rmse.toFixed(2)} mpg` });
}

async function runClassify(seed: number, out: string, summary: Summary[]): Promise<void> {
  console.log('\nTwo overlapping Gaussian classes (400 training, 400 test points)');
  const r = classify(seed);
  console.log('  classifier                                train    test');
  console.log(`  generative (Gaussians, shared covariance) ${pct(r.generative.train)} ${pct(r.generative.test)}`);
  console.log(`  logistic regression                       ${pct(r.logistic.train)} ${pct(r.logistic.test)}`);
  console.log(`  softmax regression, 3 classes             ${pct(r.softmax.train)} ${pct(r.softmax.test)}`);
  summary.push({ what: 'classify: test accuracy generative / logistic', result: `${(100 * r.generative.test).toFixed(1)}% / ${(100 * r.logistic.test).toFixed(1)}%` });
  summary.push({ what: 'classify: softmax regression, 3 classes', result: `${(100 * r.softmax.test).toFixed(1)}%` });
  await charts(out, r.charts);
}

async function runTransform(seed: number, out: string, summary: Summary[]): Promise<void> {
  console.log('\nFeature transforms for logistic regression (400 training, 400 test points)');
  const r = transforms(seed);
  console.log('  data      features          train    test');
  console.log(`  circles   (a, b)          ${pct(r.circles.raw.train)} ${pct(r.circles.raw.test)}`);
  console.log(`  circles   r = √(a²+b²)    ${pct(r.circles.radius.train)} ${pct(r.circles.radius.test)}`);
  console.log(`  XOR       (a, b)          ${pct(r.xor.raw.train)} ${pct(r.xor.raw.test)}`);
  console.log(`  XOR       a·b             ${pct(r.xor.product.train)} ${pct(r.xor.product.test)}`);
  summary.push({ what: 'transform: circles raw → r', result: `${(100 * r.circles.raw.test).toFixed(1)}% → ${(100 * r.circles.radius.test).toFixed(1)}%` });
  summary.push({ what: 'transform: XOR raw → a·b', result: `${(100 * r.xor.raw.test).toFixed(1)}% → ${(100 * r.xor.product.test).toFixed(1)}%` });
  await charts(out, r.charts);
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseFlags(argv, {
    help: { type: 'boolean', short: 'h' },
    out: { type: 'string' },
    seed: { type: 'string' },
    epochs: { type: 'string' },
    cars: { type: 'string' },
    slope: { type: 'string' },
    intercept: { type: 'string' },
    points: { type: 'string' },
    noise: { type: 'string' },
    steps: { type: 'string' },
    lr: { type: 'string' },
    backend: { type: 'string' },
  });
  const { values: v, positionals } = parsed;
  const command = positionals[0] as Command | undefined;
  if (v.help || command === undefined) {
    process.stdout.write(HELP);
    return v.help ? 0 : 2;
  }
  if (!COMMANDS.includes(command)) throw new UsageError(`unknown command '${command}' (use ${COMMANDS.join(', ')})`);
  if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`);
  selectBackend(oneOf('backend', v.backend, BACKEND_CHOICES, 'auto'));
  const seed = nonNegativeInt('seed', v.seed) ?? 42;
  const out = v.out ?? 'regression-charts';
  const line: LineOptions = {
    slope: finiteNumber('slope', v.slope, 2.5),
    intercept: finiteNumber('intercept', v.intercept, -1),
    points: positiveInt('points', v.points) ?? 200,
    noise: finiteNumber('noise', v.noise, 0.1),
    steps: positiveInt('steps', v.steps) ?? 500,
    lr: finiteNumber('lr', v.lr, 0.1),
    seed,
  };
  const epochs = positiveInt('epochs', v.epochs) ?? 300;
  const summary: Summary[] = [];
  const all = command === 'all';
  if (command === 'line' || all) runLine(line, summary);
  if (command === 'paths' || all) await runPaths(line.points, line.steps, seed, out, summary);
  if (command === 'poly' || all) await runPoly(seed, out, summary);
  if (command === 'cars' || all) await runCars(seed, epochs, v.cars, summary);
  if (command === 'classify' || all) await runClassify(seed, out, summary);
  if (command === 'transform' || all) await runTransform(seed, out, summary);
  if (all) {
    console.log('\nResults');
    const w = Math.max(...summary.map((s) => s.what.length));
    for (const s of summary) console.log(`  ${s.what.padEnd(w)}  ${s.result}`);
  }
  return 0;
}

runCli('regression-demo', () => main(process.argv.slice(2)));
