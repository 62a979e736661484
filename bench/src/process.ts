import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Measurement } from './timing.js';

/**
 * One system of the bench in a process of its own for the whole run: each `run(group)`
 * writes the group's workload ids as a JSON line to its input and waits for the line of
 * measurements it answers; what it prints on stderr (progress) goes to `log`. Its own
 * process keeps each system's memory, garbage and threads away from the others' timings.
 */
export class SystemProcess {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #replies: string[] = [];
  #waiting: ((line: string | null) => void) | null = null;
  #closed = false;

  constructor(command: string, args: readonly string[], env: NodeJS.ProcessEnv, log: (s: string) => void) {
    this.#child = spawn(command, [...args], { env });
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
    if (this.#closed) throw new Error('its process has ended');
    this.#child.stdin.write(`${JSON.stringify([...only])}\n`);
    const line = this.#replies.shift() ?? (await new Promise<string | null>((resolve) => (this.#waiting = resolve)));
    if (line === null) throw new Error(`its process ended (exit ${this.#child.exitCode})`);
    const parsed = JSON.parse(line) as Record<string, Measurement | string> & { error?: string };
    if (typeof parsed.error === 'string') throw new Error(parsed.error);
    delete parsed._version;
    return parsed as Record<string, Measurement>;
  }

  /** End the process (end of its input). */
  close(): void {
    this.#child.stdin.end();
  }
}

/**
 * The other side, in a system's process: answer each JSON line of workload ids on stdin
 * with `run(ids)`'s measurements as one JSON line on stdout (or {"error": …}).
 */
export async function serve(run: (only: ReadonlySet<string>) => Promise<Record<string, Measurement>>): Promise<void> {
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    let reply: string;
    try {
      reply = JSON.stringify(await run(new Set(JSON.parse(line) as string[])));
    } catch (e) {
      reply = JSON.stringify({ error: (e as Error).message });
    }
    process.stdout.write(`${reply}\n`);
  }
}
