#!/usr/bin/env node
import { BACKEND_CHOICES, selectBackend, enableRelaxedSimd } from '@ml/backend-wasm';
import { UsageError, closest, nonNegativeInt, oneOf, parseFlags, positiveInt, positiveNumber, runCli } from '@ml/cli-kit';
import { saveSvgs, type TopLevelSpec } from '@ml/plot';
import { trainBackprop } from './backprop.js';
import { criticalPoints, EXAMPLES } from './saddle.js';
import { depthSweep } from './sweep.js';
import { firstOverLast, vanishing } from './vanishing.js';

// This program asks for WebAssembly's relaxed SIMD (fused multiply-adds in the wasm
// backend's products): on Node 20 it sits behind a V8 flag, set here for this process.
enableRelaxedSimd();

const DEFAULT_OUT = 'lessons-charts';

const COMMON = `  --out <dir>      where the charts go                    (default ./${DEFAULT_OUT})
  --seed <n>       random seed                             (default 42)
  --backend <name> cpu, wasm or auto: wasm where supported (default auto)
  -h, --help       show this help`;

const HELP = `lessons — the course notes' lessons that need a demo, on @ml

Usage:
  lessons <command> [options]
  lessons <command> --help

Commands:
  backprop    train a small MLP with backpropagation written by hand (δ_L, δ_l, ∂W_l = δ_l a_{l−1}ᵀ)
              and check every gradient against autograd; chart: the cost per epoch
  saddle      classify critical points by the Hessian's eigenvalues (minimum, maximum, saddle)
              and escape a saddle along the eigenvector of the negative eigenvalue; chart: contours
  vanishing   gradient norm per layer of a 10-layer MLP at initialization, sigmoid vs ReLU;
              chart: the norms on a log scale
  sweep       1–4 hidden ReLU layers on a small noisy set: training vs held-out loss (over-fitting)
  all         every command above

Options:
${COMMON}
`;

const COMMAND_HELP = {
  backprop: `lessons backprop — backpropagation by hand, checked against autograd

Trains a 2-8-8-1 network (sigmoid output) on points of [−1, 1]² labelled by a circle, by
gradient descent on C = ½‖a_L − y‖²/m with gradients from the notes' four equations in
plain tensor ops:
  δ_L = (a_L − y)/m ⊙ σ'(z_L),  δ_l = (W_{l+1}ᵀ δ_{l+1}) ⊙ σ'(z_l),
  ∂C/∂W_l = δ_l a_{l−1}ᵀ,  ∂C/∂b_l = Σ δ_l
and prints the largest difference from autograd's gradients (float64) at the first and last
epoch. Chart: backprop-cost.svg.

Options:
  --hidden <act>   hidden activation: sigmoid or relu     (default sigmoid)
  --epochs <n>     gradient-descent epochs                (default 3000)
  --lr <n>         learning rate η                        (default 5)
  --points <n>     training points                        (default 200)
${COMMON}
`,
  saddle: `lessons saddle — critical points and the Hessian

At a critical point (∇f = 0), f(θ) ≈ f(θ') + ½(θ − θ')ᵀH(θ − θ'): all eigenvalues of H
positive → local minimum, all negative → local maximum, mixed → saddle point, a zero one →
the test cannot tell. At a saddle, a step η along the eigenvector u of the most negative
eigenvalue λ lowers f by about ½λη². Examples: ${EXAMPLES.map((e) => e.formula).join('; ')}.
Charts: saddle-<example>.svg (contours, the point, the escape direction).

Options:
  --step <n>       escape step η                          (default 0.5)
${COMMON}
`,
  vanishing: `lessons vanishing — vanishing gradients, sigmoid vs ReLU

Builds an MLP of --depth weight layers, initialized with variance 1/fan_in (sigmoid) or
2/fan_in (ReLU, He), runs one batch forward and backward, and prints ‖∂C/∂W_l‖ per layer.
The sigmoid's derivative is at most ¼, so δ shrinks at every layer on the way back.
Chart: vanishing.svg (log scale).

Options:
  --depth <n>      weight layers                          (default 10)
  --width <n>      units per layer                        (default 64)
  --batch <n>      examples in the batch                  (default 64)
${COMMON}
`,
  sweep: `lessons sweep — deeper is not always better: the 1–4 hidden-layer sweep

Trains ReLU networks of 1, 2, 3 and 4 hidden layers (--width units each) on 30 noisy points
of a curve (full-batch Adam) and measures the mean squared error on 200 held-out points.
The training error keeps falling with depth; the held-out error does not follow: the deep
networks fit the noise. Chart: sweep.svg.

Options:
  --max-depth <n>  deepest network                        (default 4)
  --width <n>      units per hidden layer                 (default 64)
  --steps <n>      Adam steps per network                 (default 1500)
  --lr <n>         Adam learning rate                     (default 0.01)
  --noise <n>      noise standard deviation               (default 0.3)
${COMMON}
`,
} as const;

const COMMANDS = ['backprop', 'saddle', 'vanishing', 'sweep', 'all'] as const;
type Command = (typeof COMMANDS)[number];

/** The flags each command reads (besides out, seed, backend, help); a flag given to a command that ignores it is an error. */
const COMMAND_FLAGS: Record<Exclude<Command, 'all'>, readonly string[]> = {
  backprop: ['hidden', 'epochs', 'lr', 'points'],
  saddle: ['step'],
  vanishing: ['depth', 'width', 'batch'],
  sweep: ['max-depth', 'width', 'steps', 'lr', 'noise'],
};

async function charts(out: string, specs: Record<string, TopLevelSpec>): Promise<void> {
  console.log(`  charts: ${(await saveSvgs(specs, out)).join(', ')}`);
}

const sci = (n: number) => n.toExponential(2).padStart(10);

async function main(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseFlags(argv, {
    help: { type: 'boolean', short: 'h' },
    out: { type: 'string' },
    seed: { type: 'string' },
    backend: { type: 'string' },
    hidden: { type: 'string' },
    epochs: { type: 'string' },
    lr: { type: 'string' },
    points: { type: 'string' },
    step: { type: 'string' },
    depth: { type: 'string' },
    width: { type: 'string' },
    batch: { type: 'string' },
    'max-depth': { type: 'string' },
    steps: { type: 'string' },
    noise: { type: 'string' },
  });
  const command = positionals[0] as Command | undefined;
  if (command !== undefined && !COMMANDS.includes(command)) {
    const near = closest(command, COMMANDS);
    throw new UsageError(`unknown command '${command}'${near.length ? `; did you mean '${near[0]}'?` : ''} (commands: ${COMMANDS.join(', ')})`);
  }
  if (v.help || command === undefined) {
    process.stdout.write(command !== undefined && command !== 'all' ? COMMAND_HELP[command] : HELP);
    return v.help ? 0 : 2;
  }
  if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`);
  if (command !== 'all') {
    for (const [name, value] of Object.entries(v)) {
      if (value === undefined || ['help', 'out', 'seed', 'backend'].includes(name)) continue;
      if (!COMMAND_FLAGS[command].includes(name)) {
        const users = Object.entries(COMMAND_FLAGS).filter(([, flags]) => flags.includes(name)).map(([c]) => c);
        throw new UsageError(`--${name} does not apply to '${command}' (it is an option of ${users.join(', ')})`);
      }
    }
  }
  const backend = selectBackend(oneOf('backend', v.backend, BACKEND_CHOICES, 'auto'));
  const seed = nonNegativeInt('seed', v.seed) ?? 42;
  const out = v.out ?? DEFAULT_OUT;
  const all = command === 'all';

  if (command === 'backprop' || all) {
    const hidden = oneOf('hidden', v.hidden, ['sigmoid', 'relu'] as const, 'sigmoid');
    const epochs = positiveInt('epochs', v.epochs) ?? 3000;
    console.log(`Backpropagation by hand: 2-8-8-1 MLP, ${hidden} hidden units, ${epochs} epochs of gradient descent (${backend})`);
    const r = trainBackprop({ hidden, epochs, lr: positiveNumber('lr', v.lr) ?? 5, points: positiveInt('points', v.points) ?? 200, seed });
    const every = Math.max(1, Math.floor(epochs / 6));
    r.losses.forEach((c, i) => {
      if (i % every === 0 || i === epochs - 1) console.log(`  epoch ${String(i + 1).padStart(5)}  cost ${c.toFixed(6)}`);
    });
    console.log(`  training accuracy ${(100 * r.accuracy).toFixed(1)}%`);
    console.log(`  max |hand-written − autograd| over all ∂W, ∂b: ${r.maxDiff.first.toExponential(1)} (first epoch), ${r.maxDiff.last.toExponential(1)} (last)`);
    await charts(out, { 'backprop-cost': r.chart });
  }

  if (command === 'saddle' || all) {
    const step = positiveNumber('step', v.step) ?? 0.5;
    console.log(`${all ? '\n' : ''}Critical points and the Hessian's eigenvalues`);
    const { points, charts: specs } = criticalPoints(EXAMPLES, { step });
    for (const p of points) {
      console.log(`  ${p.formula} at (${p.point.join(', ')}): ‖∇f‖ = ${p.gradientNorm.toExponential(1)}, H = ${JSON.stringify(p.hessian)}`);
      console.log(`    eigenvalues ${p.eigenvalues.map((l) => l.toFixed(4)).join(', ')} → ${p.kind}${p.kind === 'degenerate' ? ' (a zero eigenvalue: the second-order test cannot tell)' : ''}`);
      if (p.escape) {
        const e = p.escape;
        const u = e.direction.map((c) => c.toFixed(4)).join(', ');
        console.log(`    escape direction u = ±[${u}] (λ = ${e.eigenvalue.toFixed(4)}): f(θ) = ${e.before.toFixed(4)}, f(θ + ${e.step}u) = ${e.plus.toFixed(4)}, f(θ − ${e.step}u) = ${e.minus.toFixed(4)} (½λη² predicts ${e.predicted.toFixed(4)})`);
      }
    }
    await charts(out, specs);
  }

  if (command === 'vanishing' || all) {
    const depth = positiveInt('depth', v.depth) ?? 10;
    console.log(`${all ? '\n' : ''}Gradient norms per layer at initialization: ${depth}-layer MLP`);
    const r = vanishing({ depth, width: positiveInt('width', v.width) ?? 64, batch: positiveInt('batch', v.batch) ?? 64, seed });
    console.log('  layer   ‖∂C/∂W‖ sigmoid   ‖∂C/∂W‖ ReLU (He)');
    r.sigmoid.forEach((s, i) => console.log(`  ${String(i + 1).padStart(5)}   ${sci(s)}        ${sci(r.relu[i])}`));
    console.log(`  first / last layer: sigmoid ${firstOverLast(r.sigmoid).toExponential(1)}, ReLU ${firstOverLast(r.relu).toExponential(1)}`);
    await charts(out, { vanishing: r.chart });
  }

  if (command === 'sweep' || all) {
    const maxDepth = positiveInt('max-depth', v['max-depth']) ?? 4;
    const width = positiveInt('width', v.width) ?? 64;
    const depths = Array.from({ length: maxDepth }, (_, i) => i + 1);
    console.log(`${all ? '\n' : ''}1–${maxDepth} hidden ReLU layers of ${width} units on 30 noisy points, 200 held out (${backend})`);
    const r = depthSweep({ depths, width, steps: positiveInt('steps', v.steps) ?? 1500, lr: positiveNumber('lr', v.lr) ?? 0.01, noise: positiveNumber('noise', v.noise) ?? 0.3, seed });
    console.log('  hidden layers   parameters   training mse   held-out mse');
    const best = r.results.reduce((a, b) => (b.heldOut < a.heldOut ? b : a));
    for (const d of r.results) {
      console.log(`  ${String(d.hiddenLayers).padStart(13)}   ${String(d.parameters).padStart(10)}   ${d.train.toFixed(4).padStart(12)}   ${d.heldOut.toFixed(4).padStart(12)}${d === best ? '   ← lowest held-out' : ''}`);
    }
    await charts(out, { sweep: r.chart });
  }
  return 0;
}

runCli('lessons', () => main(process.argv.slice(2)));
