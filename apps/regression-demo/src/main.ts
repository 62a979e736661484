#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { fitLine, type LineOptions } from './line.js';

const HELP = `regression-demo — regression from the course notes, on @ml/tensor + @ml/autograd

Usage:
  regression-demo line [options]    fit y = w·x + b to noisy points by gradient descent
                                    (gradients from autograd) and compare with the closed form

Options (line):
  --slope <n>      true slope of the generated data        (default 2.5)
  --intercept <n>  true intercept                          (default -1)
  --points <n>     number of points                        (default 200)
  --noise <n>      noise standard deviation                (default 0.1)
  --steps <n>      gradient-descent steps                  (default 500)
  --lr <n>         learning rate                           (default 0.1)
  --seed <n>       random seed                             (default 42)
  -h, --help       show this help
`;

function num(name: string, v: string | undefined, fallback: number, integer = false): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || (integer && (!Number.isInteger(n) || n <= 0))) {
    throw new UsageError(`--${name} expects ${integer ? 'a positive integer' : 'a number'}, got '${v}'`);
  }
  return n;
}

class UsageError extends Error {}

function main(argv: string[]): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        slope: { type: 'string' },
        intercept: { type: 'string' },
        points: { type: 'string' },
        noise: { type: 'string' },
        steps: { type: 'string' },
        lr: { type: 'string' },
        seed: { type: 'string' },
      },
    });
  } catch (e) {
    process.stderr.write(`regression-demo: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values: v, positionals } = parsed;
  const command = positionals[0];
  if (v.help || command === undefined) {
    process.stdout.write(HELP);
    return v.help ? 0 : 2;
  }
  if (command !== 'line') {
    process.stderr.write(`regression-demo: unknown command '${command}'\n\n${HELP}`);
    return 2;
  }
  let o: LineOptions;
  try {
    o = {
      slope: num('slope', v.slope, 2.5),
      intercept: num('intercept', v.intercept, -1),
      points: num('points', v.points, 200, true),
      noise: num('noise', v.noise, 0.1),
      steps: num('steps', v.steps, 500, true),
      lr: num('lr', v.lr, 0.1),
      seed: num('seed', v.seed, 42),
    };
  } catch (e) {
    process.stderr.write(`regression-demo: ${(e as Error).message}\n`);
    return 2;
  }
  console.log(`Fitting y = w·x + b to ${o.points} points from y = ${o.slope}·x + ${o.intercept} + N(0, ${o.noise}²)`);
  const r = fitLine(o, (step, loss) => console.log(`  step ${String(step).padStart(5)}  mse ${loss.toFixed(6)}`));
  const f = (n: number) => n.toFixed(4).padStart(8);
  console.log('');
  console.log('                     w         b');
  console.log(`  true          ${f(o.slope)}  ${f(o.intercept)}`);
  console.log(`  gradient desc ${f(r.gd.w)}  ${f(r.gd.b)}   (final mse ${r.gd.loss.toFixed(6)})`);
  console.log(`  closed form   ${f(r.closedForm.w)}  ${f(r.closedForm.b)}`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
