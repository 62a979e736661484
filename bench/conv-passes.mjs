// The MNIST CNN's two convolutions (batch 64, 3×3, stride 1, no padding) pass by pass:
// the forward, the input gradient and the weight gradient, each alone, on ml-wasm at 2
// threads and 1 thread and in PyTorch at 2 threads and 1 thread (conv_passes.py, run from
// here when a Python with torch exists), plus the whole step (forward, sum, backward) that
// the main table's conv rows time. Prints one markdown table with ratios.
//
//   pnpm --filter @ml/bench... build      # the workspace packages' dist/
//   node bench/conv-passes.mjs [--reps 40] [--rounds 3] [--torch-fresh-memory]
//   node --cpu-prof bench/conv-passes.mjs --profile conv2/inputGrad [--threads 1] [--seconds 10]
//
// ml-wasm calls the ops its gradient rule calls (conv2d, conv2dBackwardInput,
// conv2dBackwardWeight from @ml/tensor) on tensors already on the backend. The backend runs
// a kernel when its op is called, so a pass is timed as computed (as src/ml.ts times the
// products), and PyTorch's result is in host memory too; reading a result back into a
// fresh array costs ml-wasm more (conv1's forward output is 5.5 MB), timed in a row of its
// own. The weight gradient runs without what the forward keeps for it (the padded input,
// for Winograd), so it pads the input itself, as a step never does. Each round times every
// cell once, PyTorch's first (its own process, then ml-wasm's), each the median of --reps
// runs after at least 0.5 s of untimed ones; a cell of the table is the median of its
// rounds (this VM's speed drifts over minutes). Before timing, each pass on ml-wasm must
// agree with the cpu backend's within 1e-5 of the result's largest magnitude.
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, URL } from 'node:url';
import '@ml/autograd';
import { enableRelaxedSimd, registerWasmBackend } from '@ml/backend-wasm';
import { conv2d, conv2dBackwardInput, conv2dBackwardWeight, fromArray, manualSeed, randn, setBackend, tidy } from '@ml/tensor';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
};
const reps = arg('--reps', 40);
const rounds = arg('--rounds', 3);
/** `--profile conv2/inputGrad`: only run that pass on ml-wasm for --seconds (under node --cpu-prof) */
const profile = process.argv.includes('--profile') ? process.argv[process.argv.indexOf('--profile') + 1] : null;

const LAYERS = [
  { id: 'conv1', cin: 1, hw: 28, cout: 32 },
  { id: 'conv2', cin: 32, hw: 13, cout: 64 },
];
const PASSES = [
  { id: 'forward', title: 'forward' },
  { id: 'inputGrad', title: 'input gradient' },
  { id: 'weightGrad', title: 'weight gradient' },
  { id: 'forwardRead', title: 'forward, output read back (dataSync)' },
  { id: 'step', title: 'fwd+bwd step (autograd; reads ∂w back)' },
];
const THREADS = [2, 1];
/** 3×3, stride 1, no padding: the layers' geometry as the ops take it */
const params = { kernel: [3, 3], stride: [1, 1], dilation: [1, 1], pad: [0, 0, 0, 0], padValue: 0 };

const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
/** Median ms of `reps` runs after at least half a second of untimed ones (src/timing.ts's rule). */
function timeIt(once) {
  const w0 = performance.now();
  while (performance.now() - w0 < 500) once();
  const t = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    once();
    t.push(performance.now() - t0);
  }
  return median(t);
}

// ------------------------------------------------------------ PyTorch (conv_passes.py)
/** round medians by `system/layer/pass/threads` */
const results = {};
const record = (key, ms) => (results[key] ??= []).push(ms);
/** A Python with torch: `python3` first, then Debian's `/usr/bin/python3` (as src/torch.ts). */
const python = profile ? null : ['python3', '/usr/bin/python3'].find((p) => spawnSync(p, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0);
if (!python && !profile) console.error('no python3 can import torch: the PyTorch columns are skipped');
let torchVersion = null;
/** One round of PyTorch's cells, in a process of its own (ml-wasm's workers sleep meanwhile). */
function torchRound() {
  if (!python) return;
  const script = fileURLToPath(new URL('conv_passes.py', import.meta.url));
  const options = JSON.stringify({ layers: LAYERS, threads: THREADS, reps });
  // glibc's malloc is told to keep freed blocks, so PyTorch's outputs land on pages touched
  // before, as ml-wasm's module heap does and as in the main bench's PyTorch process (after
  // its 16 MB matmul operands, malloc's adaptive threshold keeps conv1's 5.5 MB outputs);
  // a fresh process otherwise maps and faults in every output: conv1's forward 0.3 → 4-5 ms.
  // --torch-fresh-memory: malloc's defaults.
  const keep = process.argv.includes('--torch-fresh-memory') ? {} : { MALLOC_MMAP_THRESHOLD_: String(2 ** 28), MALLOC_TRIM_THRESHOLD_: String(2 ** 30) };
  const r = spawnSync(python, [script, options], { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1', ...keep }, stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`conv_passes.py failed (exit ${r.status})`);
  const out = JSON.parse(r.stdout);
  torchVersion = out.version;
  for (const [k, ms] of Object.entries(out.results)) record(`torch/${k}`, ms);
}

// ------------------------------------------------------------ ml-wasm
enableRelaxedSimd();
const backends = { 2: registerWasmBackend({ threads: 2 }), 1: registerWasmBackend({ threads: 1, name: 'wasm-1t' }) };
const routes = {};

/** The passes on tensors of backend `name`: `result` for the check, `run` for the clock (results disposed). */
function mlPasses(layer, name) {
  const { cin, hw, cout } = layer;
  setBackend(name);
  const x = randn([64, cin, hw, hw]).keep();
  const w = randn([cout, cin, 3, 3]).keep();
  const dy = randn([64, cout, hw - 2, hw - 2]).keep();
  const xs = randn([64, cin, hw, hw], { requiresGrad: true }).keep();
  const ws = randn([cout, cin, 3, 3], { requiresGrad: true }).keep();
  /** the three passes, each returning its result (call inside tidy) */
  const result = {
    forward: () => conv2d(x, w),
    inputGrad: () => conv2dBackwardInput(dy, w, x.shape, params),
    weightGrad: () => conv2dBackwardWeight(dy, x, w.shape, params),
  };
  const run = {
    forward: () => tidy(() => void result.forward()),
    inputGrad: () => tidy(() => void result.inputGrad()),
    weightGrad: () => tidy(() => void result.weightGrad()),
    forwardRead: () => tidy(() => result.forward().dataSync()),
    step: () =>
      tidy(() => {
        for (const t of [xs, ws]) {
          t.grad?.dispose();
          t.grad = null;
        }
        conv2d(xs, ws).sum().backward();
        return ws.grad.dataSync();
      }),
  };
  return { x, w, dy, result, run };
}

/**
 * The largest difference between a and b over b's largest magnitude (a weight gradient sums
 * 43 264 products per element in float32, so one element's own size is no fair scale).
 */
function worstDiff(a, b) {
  let [worst, scale] = [0, 1];
  for (let i = 0; i < b.length; i++) {
    worst = Math.max(worst, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return worst / scale;
}

manualSeed(0);
/** every layer × threads: its backend and passes, checked against the cpu backend once */
const cells = [];
for (const layer of LAYERS) {
  for (const threads of THREADS) {
    const backend = backends[threads];
    const { x, w, dy, result, run } = mlPasses(layer, backend.name);
    cells.push({ layer, threads, backend, run });
    // the same passes on the cpu backend, from the same values: ml-wasm computes them right
    setBackend('cpu');
    const want = tidy(() => {
      const [xc, wc, dyc] = [x, w, dy].map((t) => fromArray(Float32Array.from(t.dataSync()), t.shape));
      return {
        forward: Float32Array.from(conv2d(xc, wc).dataSync()),
        inputGrad: Float32Array.from(conv2dBackwardInput(dyc, wc, x.shape, params).dataSync()),
        weightGrad: Float32Array.from(conv2dBackwardWeight(dyc, xc, w.shape, params).dataSync()),
      };
    });
    setBackend(backend.name);
    for (const pass of PASSES.filter((p) => p.id in want)) {
      const before = { ...backend.stats };
      const got = tidy(() => Float32Array.from(result[pass.id]().dataSync()));
      const worst = worstDiff(got, want[pass.id]);
      if (!(worst <= 1e-5)) throw new Error(`ml-wasm ${layer.id} ${pass.id}: differs from the cpu backend by ${worst}`);
      const s = backend.stats;
      const winograd = backend.lastRoute() === 'wasm (Winograd 4×4)' ? 'Winograd F(4×4,3×3)' : 'Winograd F(2×2,3×3)';
      routes[`${layer.id}/${pass.id}`] = s.direct > before.direct ? 'direct 3×3' : s.winograd > before.winograd ? winograd : s.fallback > before.fallback ? 'cpu fallback' : 'im2row + gemm';
    }
  }
}

if (profile) {
  // one pass alone, over and over: a CPU profile of it (no PyTorch, no table)
  const [layerId, passId] = profile.split('/');
  const cell = cells.find((c) => c.layer.id === layerId && c.threads === arg('--threads', 1));
  if (!cell || !(passId in cell.run)) throw new Error(`--profile: no pass ${profile} at ${arg('--threads', 1)} thread(s)`);
  setBackend(cell.backend.name);
  const [t0, end] = [performance.now(), performance.now() + 1000 * arg('--seconds', 10)];
  let n = 0;
  for (; performance.now() < end; n++) cell.run[passId]();
  console.log(`${profile} on ${cell.threads} thread(s): ${n} runs, ${((performance.now() - t0) / n).toFixed(3)} ms a run`);
  process.exit(0);
}

for (let round = 0; round < rounds; round++) {
  console.error(`round ${round + 1} of ${rounds}`);
  torchRound();
  for (const { layer, threads, backend, run } of cells) {
    setBackend(backend.name);
    for (const pass of PASSES) {
      const ms = timeIt(run[pass.id]);
      record(`ml-wasm/${layer.id}/${pass.id}/${threads}`, ms);
      console.error(`  ml-wasm ${layer.id} ${pass.id} ${threads}t: ${ms.toFixed(3)} ms`);
    }
  }
}

// ------------------------------------------------------------ the table
const fmt = (v) => (v === undefined ? '–' : v.toFixed(2));
const ratio = (a, b) => (a === undefined || b === undefined ? '–' : `${(a / b).toFixed(2)}×`);
console.log(`\nNode ${process.version}, PyTorch ${torchVersion ?? '(none)'}${process.argv.includes('--torch-fresh-memory') ? ' (malloc defaults: fresh pages)' : ' (malloc keeps freed memory)'}; batch 64, 3×3, median of ${rounds} rounds' medians of ${reps} runs, ms\n`);
console.log('| layer | pass | ml-wasm path | ml-wasm 2t | torch 2t | ml-wasm 1t | torch 1t | ml÷torch 2t | ml÷torch 1t |');
console.log('|---|---|---|---:|---:|---:|---:|---:|---:|');
for (const layer of LAYERS) {
  for (const pass of PASSES) {
    const at = (sys, t) => (results[`${sys}/${layer.id}/${pass.id}/${t}`] ? median(results[`${sys}/${layer.id}/${pass.id}/${t}`]) : undefined);
    const cells = [fmt(at('ml-wasm', 2)), fmt(at('torch', 2)), fmt(at('ml-wasm', 1)), fmt(at('torch', 1)), ratio(at('ml-wasm', 2), at('torch', 2)), ratio(at('ml-wasm', 1), at('torch', 1))];
    console.log(`| ${layer.id} [64,${layer.cin},${layer.hw},${layer.hw}]→${layer.cout} | ${pass.title} | ${routes[`${layer.id}/${pass.id}`] ?? '–'} | ${cells.join(' | ')} |`);
  }
}
process.exit(0);
