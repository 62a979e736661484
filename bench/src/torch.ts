import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Measurement } from './timing.js';
import { MATMUL_SIZES, type Budget } from './workloads.js';

/** A Python with torch: `python3` first, then Debian's `/usr/bin/python3` (python3-torch). */
export function findTorch(): { python: string; version: string } | { missing: string } {
  for (const python of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
    if (r.status === 0) return { python, version: r.stdout.trim() };
  }
  return { missing: 'no python3 can import torch (Debian: apt-get install python3-torch); PyTorch columns are skipped' };
}

/** PyTorch on the workloads in `only`, in a child process (2 threads, OpenBLAS single-threaded). */
export function runTorch(python: string, mnistDir: string, b: Budget, log: (s: string) => void, only: ReadonlySet<string>): Record<string, Measurement> {
  const script = fileURLToPath(new URL('../torch_bench.py', import.meta.url));
  const options = { only: [...only], sizes: MATMUL_SIZES, budgetMs: b.budgetMs, mlpSteps: b.mlpSteps, cnnSteps: b.cnnSteps, mnistDir, threads: 2 };
  const r = spawnSync(python, [script, JSON.stringify(options)], { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' }, maxBuffer: 1 << 24 });
  for (const line of r.stderr.split('\n')) if (line.trim()) log(line);
  if (r.status !== 0) throw new Error(`PyTorch benchmark failed (exit ${r.status})`);
  const parsed = JSON.parse(r.stdout) as Record<string, Measurement | string>;
  delete parsed._version;
  return parsed as Record<string, Measurement>;
}
