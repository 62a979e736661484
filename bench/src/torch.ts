import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SystemProcess } from './process.js';
import { CONVS, MATMUL_SIZES, type Budget } from './workloads.js';

/** A Python with torch: `python3` first, then Debian's `/usr/bin/python3` (python3-torch). */
export function findTorch(): { python: string; version: string } | { missing: string } {
  for (const python of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
    if (r.status === 0) return { python, version: r.stdout.trim() };
  }
  return { missing: 'no python3 can import torch (Debian: apt-get install python3-torch); PyTorch columns are skipped' };
}

/** PyTorch on the same workloads, in its process for the whole run (2 threads; OpenBLAS on one beside them, on both for the matmul rows: see torch_bench.py). */
export function torchProcess(python: string, mnistDir: string, b: Budget, log: (s: string) => void): SystemProcess {
  const script = fileURLToPath(new URL('../torch_bench.py', import.meta.url));
  const options = { sizes: MATMUL_SIZES, convs: CONVS, budgetMs: b.budgetMs, mlpSteps: b.mlpSteps, cnnSteps: b.cnnSteps, mnistDir, threads: 2 };
  return new SystemProcess(python, [script, JSON.stringify(options)], { ...process.env, OPENBLAS_NUM_THREADS: '1' }, log);
}
