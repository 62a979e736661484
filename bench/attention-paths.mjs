// Attention's two paths on ml-wasm, taking turns in one process: the host kernel (batched
// products, the softmax passes, the weights P [B, L, S] kept for the backward) and the
// kernel that runs a pass in one call (kernels/attention.ts: memory by S, the weights
// recomputed). The shapes of a TransformerEncoderLayer of d 128 and 4 heads at batch 32:
// q, k and v are heads split out of one [32, L, 384] projection (as MultiheadAttention's
// self-attention makes them), 128 batch·heads of 32 features, no mask. Times the forward
// alone (no gradient recording) and the forward with the backward, each cell the median of
// its rounds' medians. Prints one markdown table.
//
//   pnpm --filter @ml/bench... build      # the workspace packages' dist/
//   node bench/attention-paths.mjs [--lengths 64,256,512] [--threads 1] [--rounds 4] [--reps 10]
import { performance } from 'node:perf_hooks';
import { noGrad } from '@ml/autograd';
import { enableRelaxedSimd, registerWasmBackend } from '@ml/backend-wasm';
import { manualSeed, randn, scaledDotProductAttention, setBackend, tidy } from '@ml/tensor';

const HELP = `attention-paths — attention's host kernel against its one-kernel path on ml-wasm

  --lengths <list>  sequence lengths L = S to time (default 64,256,512)
  --threads <n>     the backend's threads (default: every core)
  --rounds <n>      rounds, the paths taking turns (default 4)
  --reps <n>        timed runs a cell a round, after two untimed (default 10)
  -h, --help        this text`;
const KNOWN = ['--lengths', '--threads', '--rounds', '--reps'];
const argv = process.argv.slice(2);
if (argv.includes('-h') || argv.includes('--help')) {
  console.log(HELP);
  process.exit(0);
}
for (let i = 0; i < argv.length; i += 2) {
  if (!KNOWN.includes(argv[i])) throw new Error(`attention-paths: unknown option '${argv[i]}' (options: ${KNOWN.join(', ')})`);
}
const arg = (name, dflt) => {
  const i = argv.indexOf(name);
  return i < 0 ? dflt : argv[i + 1];
};
const lengths = arg('--lengths', '64,256,512').split(',').map(Number);
const rounds = Number(arg('--rounds', 4));
const reps = Number(arg('--reps', 10));
const threads = argv.includes('--threads') ? Number(arg('--threads')) : undefined;
for (const [name, values] of [['--lengths', lengths], ['--rounds', [rounds]], ['--reps', [reps]], ['--threads', threads === undefined ? [] : [threads]]]) {
  if (values.some((v) => !Number.isInteger(v) || v < 1)) throw new Error(`attention-paths: ${name} takes positive whole numbers, got '${arg(name)}'`);
}

enableRelaxedSimd();
const wasm = registerWasmBackend(threads === undefined ? {} : { threads });
setBackend(wasm.name);
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const rows = [];
for (const L of lengths) {
  manualSeed(0);
  const x = randn([32, L, 384], { requiresGrad: true }).keep();
  const dy = randn([32, 4, L, 32]).keep();
  const heads = (t) => t.reshape([32, L, 4, 32]).transpose(1, 2);
  const attend = () => scaledDotProductAttention(...x.chunk(3, -1).map(heads));
  const passes = {
    forward: () => tidy(() => noGrad(() => void attend().dataSync())),
    'forward + backward': () =>
      tidy(() => {
        attend().mul(dy).sum().backward();
        x.grad.dataSync();
        x.grad.dispose();
        x.grad = null;
      }),
  };
  for (const [pass, run] of Object.entries(passes)) {
    const times = { host: [], kernel: [] };
    for (let r = 0; r < rounds; r++) {
      for (const path of r % 2 === 0 ? ['host', 'kernel'] : ['kernel', 'host']) {
        wasm.transformer.attentionFrom = path === 'kernel' ? 0 : Infinity;
        for (let i = 0; i < 2; i++) run();
        const ts = [];
        for (let i = 0; i < reps; i++) {
          const t0 = performance.now();
          run();
          ts.push(performance.now() - t0);
        }
        times[path].push(median(ts));
      }
    }
    const [h, k] = [median(times.host), median(times.kernel)];
    rows.push(`| ${L} | ${pass} | ${h.toFixed(2)} | ${k.toFixed(2)} | ${(h / k).toFixed(2)}× |`);
    console.error(`  L ${L}, ${pass}: host ${times.host.map((t) => t.toFixed(2)).join(' ')}, kernel ${times.kernel.map((t) => t.toFixed(2)).join(' ')} ms`);
  }
  x.dispose();
  dy.dispose();
}
console.log(`\nml-wasm on ${wasm.threads} thread${wasm.threads === 1 ? '' : 's'}, 128 batch·heads of 32 features, ${rounds} rounds of ${reps} runs\n`);
console.log('| L = S | pass | host kernel (ms) | one kernel (ms) | host ÷ one kernel |\n|---:|---|---:|---:|---:|');
console.log(rows.join('\n'));
process.exit(0);
