import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
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

/**
 * PyTorch on the same workloads in one child process for the whole run (2 threads,
 * OpenBLAS single-threaded), as the JavaScript systems run in the runner's process: each
 * `run(group)` sends the group's workload ids and waits for their measurements.
 */
export class TorchRunner {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #replies: string[] = [];
  #waiting: ((line: string | null) => void) | null = null;
  #closed = false;

  constructor(python: string, mnistDir: string, b: Budget, log: (s: string) => void) {
    const script = fileURLToPath(new URL('../torch_bench.py', import.meta.url));
    const options = { sizes: MATMUL_SIZES, budgetMs: b.budgetMs, mlpSteps: b.mlpSteps, cnnSteps: b.cnnSteps, mnistDir, threads: 2 };
    this.#child = spawn(python, [script, JSON.stringify(options)], { env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
    createInterface({ input: this.#child.stderr }).on('line', (line) => line.trim() && log(line));
    createInterface({ input: this.#child.stdout }).on('line', (line) => this.#deliver(line));
    this.#child.on('close', () => {
      this.#closed = true;
      this.#deliver(null);
    });
  }

  #deliver(line: string | null): void {
    const waiting = this.#waiting;
    this.#waiting = null;
    if (waiting) waiting(line);
    else if (line !== null) this.#replies.push(line);
  }

  /** The measurements of the workloads in `only`. */
  async run(only: ReadonlySet<string>): Promise<Record<string, Measurement>> {
    if (this.#closed) throw new Error('the PyTorch benchmark process has ended');
    this.#child.stdin.write(`${JSON.stringify([...only])}\n`);
    const line = this.#replies.shift() ?? (await new Promise<string | null>((resolve) => (this.#waiting = resolve)));
    if (line === null) throw new Error(`the PyTorch benchmark process ended (exit ${this.#child.exitCode})`);
    const parsed = JSON.parse(line) as Record<string, Measurement | string>;
    delete parsed._version;
    return parsed as Record<string, Measurement>;
  }

  /** End the process (end of its input). */
  close(): void {
    this.#child.stdin.end();
  }
}
