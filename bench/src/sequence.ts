#!/usr/bin/env node
/**
 * The sequence-model rows of the bench (issue 22, items 1 and 7): LSTM, GRU and RNN
 * training steps, Transformer training steps (an encoder layer; a 2 + 2-layer
 * encoder-decoder), inference latency at
 * batch 1, and the per-op overhead of a small elementwise op — @ml on its wasm backend on
 * one thread and on all threads, PyTorch on 1 and 2 threads, TensorFlow.js-wasm (one
 * thread in Node). Measured, not asserted. Same harness as run.ts: every system in a
 * process of its own for the whole run, the systems taking turns row by row (the order
 * reversed from one row to the next), a median of timed runs after warm-up.
 *
 * Build: npx tsup --config tsup.sequence.config.ts (in bench/); run: node dist/sequence.js
 */
import { noGrad } from '@ml/autograd';
import type { Tensor as TfTensor } from '@tensorflow/tfjs';
import { registerWasmBackend, enableRelaxedSimd } from '@ml/backend-wasm';
import { registerWebGpuBackend, webgpuInfo } from '@ml/backend-webgpu';
import { GRU, LSTM, Linear, RNN, Transformer, TransformerEncoderLayer, crossEntropy, mseLoss } from '@ml/nn';
import { Adam } from '@ml/optim';
import { fromArray, manualSeed, randn, setBackend, tidy, type Tensor } from '@ml/tensor';
import { spawnSync } from 'node:child_process';
import { cpus, platform, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseFlags } from '@ml/cli-kit';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { medianOfRounds, pairRounds, serve, SystemProcess, takeTurns, type Rounds } from './process.js';
import { median, timeIt, WARMUP_MS, type Measurement } from './timing.js';
import { findTorch } from './torch.js';
import { unknownChoice } from './workloads.js';

// This program asks for WebAssembly's relaxed SIMD (fused multiply-adds in the wasm
// backend's products): on Node 20 it sits behind a V8 flag, set here for this process.
enableRelaxedSimd();

/** One row: a training step, an inference or a per-op time. */
export interface SeqWorkload {
  id: string;
  title: string;
  unit: 'ms' | 'µs';
  kind: 'train' | 'infer' | 'op';
  cell?: 'lstm' | 'gru' | 'rnn';
  /** the Transformer rows' model: one encoder layer (default) or nn's Transformer with 2 encoder and 2 decoder layers */
  model?: 'encoderLayer' | 'encoderDecoder';
  batch: number;
  length: number;
  features: number;
  hidden: number;
}

/** the long-sequence rows' batch: 16, not 64, to keep a quick run short */
export const LONG_BATCH = 16;
const recurrent = (cell: 'lstm' | 'gru' | 'rnn', long: boolean): SeqWorkload => ({
  id: `${cell}${long ? 'Long' : ''}`,
  title: `${cell.toUpperCase()} train step, batch ${long ? LONG_BATCH : 64}, ${long ? 256 : 28} steps × 28 features, hidden 128, + Linear 10, cross-entropy`,
  unit: 'ms',
  kind: 'train',
  cell,
  batch: long ? LONG_BATCH : 64,
  length: long ? 256 : 28,
  features: 28,
  hidden: 128,
});

export const SEQ_WORKLOADS: readonly SeqWorkload[] = [
  recurrent('lstm', false),
  recurrent('gru', false),
  recurrent('rnn', false),
  recurrent('lstm', true),
  recurrent('gru', true),
  recurrent('rnn', true),
  { id: 'transformer', title: 'TransformerEncoderLayer train step, batch 32, length 64, d 128, 4 heads, ff 512, MSE', unit: 'ms', kind: 'train', batch: 32, length: 64, features: 128, hidden: 512 },
  { id: 'transformerEncDec', title: 'Transformer 2-layer encoder-decoder train step, batch 32, source and target length 64, d 128, 4 heads, ff 512, MSE', unit: 'ms', kind: 'train', model: 'encoderDecoder', batch: 32, length: 64, features: 128, hidden: 512 },
  { id: 'lstmInfer', title: 'LSTM forecaster inference, batch 1, 64 steps × 1 feature, hidden 64, + Linear 1', unit: 'ms', kind: 'infer', cell: 'lstm', batch: 1, length: 64, features: 1, hidden: 64 },
  { id: 'transformerInfer', title: 'TransformerEncoderLayer inference, batch 1, length 64, d 128', unit: 'ms', kind: 'infer', batch: 1, length: 64, features: 128, hidden: 512 },
  { id: 'opNoGrad', title: 'elementwise op (`z.mul(y).add(y)` on [64, 128]), per op, no gradient recording', unit: 'µs', kind: 'op', batch: 64, length: 1, features: 128, hidden: 0 },
  { id: 'opGrad', title: 'elementwise op, per op, recording the gradient', unit: 'µs', kind: 'op', batch: 64, length: 1, features: 128, hidden: 0 },
];

const SYSTEMS = ['ml-wasm-1t', 'ml-wasm', 'ml-webgpu', 'tfjs-wasm', 'torch-1t', 'torch-2t'] as const;
/** what runs without asking: ml-webgpu needs a WebGPU device (`--systems` names it) */
const DEFAULT_SYSTEMS = SYSTEMS.filter((s) => s !== 'ml-webgpu');
type System = (typeof SYSTEMS)[number];
/** ops per timed run of the per-op rows (each run is OPS_PER_RUN / 2 iterations of mul then add) */
export const OPS_PER_RUN = 400;

export interface SeqBudget {
  budgetMs: number;
  maxReps: number;
}

const labels = (n: number): Tensor => fromArray(Int32Array.from({ length: n }, (_, i) => (i * 7) % 10), [n], { dtype: 'int32' });

/**
 * @ml on the wasm backend with `threads` threads (undefined: its default, every core), or
 * on webgpu (`threads` 'gpu'). Each timed run ends by reading its result (the loss, the
 * prediction) back, so a GPU's queued work is in the time.
 */
async function runMl(threads: number | 'gpu' | undefined, b: SeqBudget, only: ReadonlySet<string>, log: (s: string) => void): Promise<Record<string, Measurement>> {
  let name: string;
  if (threads === 'gpu') {
    const gpu = await registerWebGpuBackend();
    setBackend(gpu.name);
    name = `ml-webgpu (${webgpuInfo(gpu)?.adapter ?? 'GPU'})`;
  } else {
    const backend = registerWasmBackend(threads === undefined ? {} : { threads });
    setBackend(backend.name);
    name = `ml-wasm (${backend.threads} thread${backend.threads === 1 ? '' : 's'})`;
  }
  manualSeed(0);
  const out: Record<string, Measurement> = {};
  for (const w of SEQ_WORKLOADS.filter((x) => only.has(x.id))) {
    /** one run; returns what to read back to know it finished */
    let step: () => Tensor | void;
    const keep: Tensor[] = [];
    if (w.kind === 'op') {
      const y = randn([w.batch, w.features], { requiresGrad: w.id === 'opGrad' }).keep();
      const z = randn([w.batch, w.features]).keep();
      keep.push(y, z);
      const loop = () =>
        tidy(() => {
          for (let i = 0; i < OPS_PER_RUN / 2; i++) z.mul(y).add(y);
        });
      step = w.id === 'opGrad' ? loop : () => noGrad(loop);
    } else if (w.cell !== undefined) {
      const Layer = w.cell === 'lstm' ? LSTM : w.cell === 'gru' ? GRU : RNN;
      const rnn = new Layer({ inputSize: w.features, hiddenSize: w.hidden, batchFirst: true });
      const head = new Linear({ inFeatures: w.hidden, outFeatures: w.kind === 'train' ? 10 : 1 });
      const x = randn([w.batch, w.length, w.features]).keep();
      const y = labels(w.batch).keep();
      keep.push(x, y);
      const forward = () => {
        const [seq] = rnn.forward(x);
        return head.forward(seq.select(1, w.length - 1));
      };
      if (w.kind === 'train') {
        const opt = new Adam([...rnn.parameters(), ...head.parameters()], { lr: 1e-3 });
        step = () =>
          tidy(() => {
            opt.zeroGrad();
            const loss = crossEntropy(forward(), y);
            loss.backward();
            opt.step();
            return loss;
          });
      } else {
        rnn.eval();
        step = () => tidy(() => noGrad(forward));
      }
    } else if (w.model === 'encoderDecoder') {
      const model = new Transformer({ dModel: w.features, nhead: 4, numEncoderLayers: 2, numDecoderLayers: 2, dimFeedforward: w.hidden, dropout: 0, batchFirst: true });
      const [src, tgt, target] = [0, 1, 2].map(() => randn([w.batch, w.length, w.features]).keep());
      keep.push(src, tgt, target);
      const opt = new Adam(model.parameters(), { lr: 1e-3 });
      step = () =>
        tidy(() => {
          opt.zeroGrad();
          const loss = mseLoss(model.forward(src, tgt), target);
          loss.backward();
          opt.step();
          return loss;
        });
    } else {
      const layer = new TransformerEncoderLayer({ dModel: w.features, nhead: 4, dimFeedforward: w.hidden, dropout: 0, batchFirst: true });
      const x = randn([w.batch, w.length, w.features]).keep();
      const target = randn([w.batch, w.length, w.features]).keep();
      keep.push(x, target);
      if (w.kind === 'train') {
        const opt = new Adam(layer.parameters(), { lr: 1e-3 });
        step = () =>
          tidy(() => {
            opt.zeroGrad();
            const loss = mseLoss(layer.forward(x), target);
            loss.backward();
            opt.step();
            return loss;
          });
      } else {
        layer.eval();
        step = () => tidy(() => noGrad(() => layer.forward(x)));
      }
    }
    const once = async () => {
      const t = step();
      if (!t) return;
      if (threads === 'gpu') await t.data();
      else t.dataSync();
      t.dispose();
    };
    const r = await timeIt(once, { warmup: 2, maxReps: w.kind === 'train' ? b.maxReps : 1000, budgetMs: b.budgetMs });
    out[w.id] = w.kind === 'op' ? { value: (r.ms * 1000) / OPS_PER_RUN, reps: r.reps } : { value: r.ms, reps: r.reps };
    log(`  ${name} ${w.id}: ${out[w.id].value.toFixed(2)} ${w.unit} (${r.reps} runs)`);
    for (const t of keep) t.dispose();
  }
  return out;
}

/** TensorFlow.js on its wasm backend (one thread in Node: its threaded build needs cross-origin isolation). */
async function runTfjs(b: SeqBudget, only: ReadonlySet<string>, log: (s: string) => void): Promise<Record<string, Measurement>> {
  const tf = await import('@tensorflow/tfjs');
  await import('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend('wasm');
  await tf.ready();
  const out: Record<string, Measurement> = {};
  for (const w of SEQ_WORKLOADS.filter((x) => only.has(x.id))) {
    if (w.cell === undefined && w.kind !== 'op') {
      out[w.id] = { value: NaN, reps: 0, note: '–' }; // no Transformer layer in TensorFlow.js
      continue;
    }
    if (w.id === 'opGrad') {
      out[w.id] = { value: NaN, reps: 0, note: '–' }; // TF.js records only inside tf.grad's scope
      continue;
    }
    let once: () => unknown;
    const keep: { dispose(): void }[] = [];
    if (w.kind === 'op') {
      const [y, z] = [tf.randomNormal([w.batch, w.features]), tf.randomNormal([w.batch, w.features])];
      keep.push(y, z);
      once = () =>
        tf.tidy(() => {
          for (let i = 0; i < OPS_PER_RUN / 2; i++) z.mul(y).add(y);
        });
    } else {
      const cfg = { units: w.hidden, inputShape: [w.length, w.features] };
      const layer = w.cell === 'lstm' ? tf.layers.lstm(cfg) : w.cell === 'gru' ? tf.layers.gru(cfg) : tf.layers.simpleRNN(cfg);
      const model = tf.sequential({ layers: [layer, tf.layers.dense({ units: w.kind === 'train' ? 10 : 1 })] });
      const x = tf.randomNormal([w.batch, w.length, w.features]);
      const y = tf.oneHot(tf.tensor1d(Array.from({ length: w.batch }, (_, i) => (i * 7) % 10), 'int32'), 10);
      keep.push(x, y, model);
      if (w.kind === 'train') {
        const opt = tf.train.adam(1e-3);
        once = () =>
          tf.tidy(() => {
            // minimize returns the loss; read it so the step has finished
            opt.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as TfTensor), true)?.dataSync();
          });
      } else {
        once = () => tf.tidy(() => (model.predict(x) as TfTensor).dataSync());
      }
    }
    try {
      const r = await timeIt(once, { warmup: 2, maxReps: w.kind === 'train' ? b.maxReps : 1000, budgetMs: b.budgetMs });
      out[w.id] = w.kind === 'op' ? { value: (r.ms * 1000) / OPS_PER_RUN, reps: r.reps } : { value: r.ms, reps: r.reps };
      log(`  tfjs-wasm ${w.id}: ${out[w.id].value.toFixed(2)} ${w.unit} (${r.reps} runs)`);
    } catch (e) {
      out[w.id] = { value: NaN, reps: 0, note: `fails: ${(e as Error).message.split('\n')[0].slice(0, 40)}` };
      log(`  tfjs-wasm ${w.id}: ${out[w.id].note}`);
    }
    for (const t of keep) t.dispose();
  }
  return out;
}

/** Each system's measurements of each row, one per round. */
type Results = Rounds<System>;

const fmt = (ms: Measurement[] | undefined): string => {
  const m = medianOfRounds(ms ?? []);
  if (!m) return '–';
  if (!Number.isFinite(m.value)) return m.note ?? 'n/a';
  return m.value >= 100 ? m.value.toFixed(0) : m.value >= 10 ? m.value.toFixed(1) : m.value.toFixed(2);
};

/**
 * @ml's time ÷ PyTorch's, round by round (the two measured minutes apart at most, this
 * VM's speed drifting less within a round than across the run): the median of the rounds'
 * ratios, with their range when there is more than one round.
 */
export function pairedRatio(ours: Measurement[] | undefined, theirs: Measurement[] | undefined): string {
  const r = pairRounds(ours, theirs).map(([m, t]) => m.value / t.value);
  if (r.length === 0) return '–';
  const range = r.length > 1 ? ` (${Math.min(...r).toFixed(2)}–${Math.max(...r).toFixed(2)})` : '';
  return `${median(r).toFixed(2)}×${range}`;
}

/**
 * The table: each system's median time over the rounds, and @ml's time ÷ PyTorch's at one
 * thread and at all threads (> 1: @ml is slower), paired round by round.
 */
export function seqTable(results: Results, threads: Record<System, string>): string {
  const present = SYSTEMS.filter((s) => results[s]);
  const head = `| workload | unit | ${present.map((s) => `${s} (${threads[s]})`).join(' | ')} | ml-wasm ÷ torch, 1 thread | ml-wasm ÷ torch, all threads |`;
  const sep = `|---|---|${present.map(() => '---:').join('|')}|---:|---:|`;
  const rows = SEQ_WORKLOADS.filter((w) => present.some((s) => results[s]?.[w.id] !== undefined)).map(
    (w) => `| ${w.title} | ${w.unit} | ${present.map((s) => fmt(results[s]?.[w.id])).join(' | ')} | ${pairedRatio(results['ml-wasm-1t']?.[w.id], results['torch-1t']?.[w.id])} | ${pairedRatio(results['ml-wasm']?.[w.id], results['torch-2t']?.[w.id])} |`,
  );
  return [head, sep, ...rows].join('\n');
}

const HELP = `sequence bench — LSTM/GRU/RNN/Transformer steps, batch-1 latency, per-op overhead

Usage: node bench/dist/sequence.js [options]

Options:
  --systems <list>   ${SYSTEMS.join(', ')}
                     (default all but ml-webgpu, which needs a WebGPU device)
  --budget <s>       timed seconds per measurement at most (default 10)
  --reps <n>         training steps timed per measurement at most (default 20)
  --quick            --budget 1 --reps 5: a smoke run
  --only <ids>       rows to run (default all): ${SEQ_WORKLOADS.map((w) => w.id).join(', ')}
  --rounds <n>       measure each row n times, the systems taking turns each round
                     (default 1); the table gives the median time and the median
                     and range of the rounds' ratios
  -h, --help         show this help
`;

async function main(): Promise<number> {
  let v;
  try {
    v = parseFlags(process.argv.slice(2), { systems: { type: 'string' }, budget: { type: 'string' }, reps: { type: 'string' }, quick: { type: 'boolean' }, only: { type: 'string' }, rounds: { type: 'string' }, serve: { type: 'string' }, help: { type: 'boolean', short: 'h' } }).values;
  } catch (e) {
    process.stderr.write(`sequence bench: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const budget: SeqBudget = { budgetMs: Number(v.budget ?? (v.quick ? 1 : 10)) * 1000, maxReps: Number(v.reps ?? (v.quick ? 5 : 20)) };
  const rounds = Number(v.rounds ?? 1);
  if (!(budget.budgetMs > 0) || !(budget.maxReps >= 1) || !Number.isInteger(rounds) || rounds < 1) {
    process.stderr.write(`sequence bench: --budget expects seconds > 0, --reps and --rounds counts ≥ 1\n`);
    return 2;
  }
  const log = (s: string) => process.stderr.write(`${s}\n`);
  if (v.serve !== undefined) {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const s = v.serve;
    await serve(async (only) => {
      gc();
      await new Promise((r) => setTimeout(r, 500));
      if (s === 'tfjs-wasm') return runTfjs(budget, only, log);
      return runMl(s === 'ml-wasm-1t' ? 1 : s === 'ml-webgpu' ? 'gpu' : undefined, budget, only, log);
    });
    return 0;
  }
  const systems = (v.systems?.split(',').map((s) => s.trim()) ?? [...DEFAULT_SYSTEMS]) as System[];
  for (const s of systems) if (!SYSTEMS.includes(s)) {
    process.stderr.write(`sequence bench: ${unknownChoice('system', s, SYSTEMS)}\n`);
    return 2;
  }
  const ids = SEQ_WORKLOADS.map((w) => w.id);
  const asked = v.only?.split(',').map((s) => s.trim());
  for (const id of asked ?? []) if (!ids.includes(id)) {
    process.stderr.write(`sequence bench: ${unknownChoice('row', id, ids)}\n`);
    return 2;
  }
  const rows = asked === undefined ? SEQ_WORKLOADS : SEQ_WORKLOADS.filter((w) => asked.includes(w.id));
  const cores = cpus().length;
  const threads: Record<System, string> = { 'ml-wasm-1t': '1 thread', 'ml-wasm': `${cores} threads`, 'ml-webgpu': 'GPU', 'tfjs-wasm': '1 thread', 'torch-1t': '1 thread', 'torch-2t': '2 threads' };
  const versions = [`Node ${process.version}`];
  const procs = new Map<System, SystemProcess>();
  const passOn = ['--budget', String(budget.budgetMs / 1000), '--reps', String(budget.maxReps)];
  const torch = findTorch();
  for (const s of systems) {
    if (s.startsWith('torch')) {
      if ('missing' in torch) {
        log(`${s}: skipped: ${torch.missing}`);
        continue;
      }
      const script = fileURLToPath(new URL('../torch_sequence.py', import.meta.url));
      const opts = { threads: s === 'torch-1t' ? 1 : 2, budgetMs: budget.budgetMs, maxReps: budget.maxReps, opsPerRun: OPS_PER_RUN, workloads: SEQ_WORKLOADS };
      procs.set(s, new SystemProcess(torch.python, [script, JSON.stringify(opts)], { ...process.env, OPENBLAS_NUM_THREADS: '1' }, log));
    } else procs.set(s, new SystemProcess(process.execPath, [fileURLToPath(import.meta.url), '--serve', s, ...passOn], process.env, log));
  }
  if (!('missing' in torch)) versions.push(`PyTorch ${torch.version} (subnormals flushed to zero)`);
  versions.push('TensorFlow.js 4.22.0 (wasm)');
  const t0 = performance.now();
  const results: Results = await takeTurns(procs, systems, rows.map((w) => [w.id]), rounds, log);
  for (const proc of procs.values()) proc.close();
  const lscpu = spawnSync('lscpu', [], { encoding: 'utf8' }).stdout ?? '';
  const model = /Model name:\s*(.+)/.exec(lscpu)?.[1] ?? cpus()[0]?.model ?? 'unknown CPU';
  const header = `Run on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC: ${model}, ${cores} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${platform()} ${release()}; ${versions.join(', ')}. Budget ${budget.budgetMs / 1000} s and at most ${budget.maxReps} training steps per measurement (after ≥ 2 untimed runs and ${WARMUP_MS / 1000} s)${rounds > 1 ? `, ${rounds} rounds a row (times: medians of the rounds; ratios: median and range of the rounds' ratios)` : ''}; the whole run ${((performance.now() - t0) / 60000).toFixed(1)} min.`;
  process.stdout.write(`${header}\n\n${seqTable(results, threads)}\n`);
  return 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`sequence bench: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
