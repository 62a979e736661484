import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { median, type Measurement } from './timing.js';

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

/** Each system's measurements of each workload, one per round (a round it did not answer is a hole). */
export type Rounds<S extends string> = Partial<Record<S, Record<string, Measurement[]>>>;

/**
 * Every group of workload ids measured `rounds` times on every system in `procs`, the
 * systems taking turns (their order reversed from one turn to the next, a second's pause
 * before each, for whatever the last system's process may still do after answering: a
 * GPU queue draining, its collector). A system that fails (cannot start, say) is closed
 * and left out of later turns.
 */
export async function takeTurns<S extends string>(procs: Map<S, SystemProcess>, systems: readonly S[], groups: readonly (readonly string[])[], rounds: number, log: (s: string) => void): Promise<Rounds<S>> {
  const out: Rounds<S> = {};
  let turn = 0;
  for (const group of groups) {
    const only = new Set(group);
    for (let round = 0; round < rounds; round++, turn++) {
      for (const s of turn % 2 === 0 ? systems : [...systems].reverse()) {
        const proc = procs.get(s);
        if (proc === undefined) continue;
        log(`${s} (${group.join(', ')}${rounds > 1 ? `, round ${round + 1} of ${rounds}` : ''}):`);
        await new Promise((r) => setTimeout(r, 1000));
        try {
          const got = await proc.run(only);
          const mine = (out[s] ??= {});
          for (const [id, m] of Object.entries(got)) (mine[id] ??= [])[round] = m;
        } catch (e) {
          log(`  ${s} failed: ${(e as Error).message}`);
          proc.close();
          procs.delete(s);
        }
      }
    }
  }
  return out;
}

/** A workload's rounds in one measurement: the median of the finite ones (reps summed, the first note kept), or the first round as it is when none is finite. */
export function medianOfRounds(ms: readonly (Measurement | undefined)[]): Measurement | undefined {
  const good = ms.filter(measured);
  const first = ms.find((m) => m !== undefined);
  if (good.length === 0) return first;
  return { value: median(good.map((m) => m.value)), reps: good.reduce((n, m) => n + m.reps, 0), note: first?.note };
}

/** Two systems' rounds of a workload paired by round, both measured (finite). */
export function pairRounds(ours: readonly (Measurement | undefined)[] | undefined, theirs: readonly (Measurement | undefined)[] | undefined): [Measurement, Measurement][] {
  return (ours ?? []).flatMap((m, i) => {
    const t = theirs?.[i];
    return measured(m) && measured(t) ? [[m, t] as [Measurement, Measurement]] : [];
  });
}

const measured = (m: Measurement | undefined): m is Measurement => m !== undefined && Number.isFinite(m.value);
