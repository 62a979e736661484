// The thread pool's worker module and the job protocol it shares with the calling thread.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LAYOUT, claim, runPart } from '../src/worker-jobs.js';

const source = (file: string): string => readFileSync(new URL(`../src/${file}`, import.meta.url), 'utf8');
const imports = (file: string): string[] => [...source(file).matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]);

describe('the worker module', () => {
  it('imports only the job protocol, which imports nothing (a worker does not load the package)', () => {
    expect(imports('worker.js')).toEqual(['./worker-jobs.js']);
    expect(imports('worker-jobs.js')).toEqual([]);
  });

  it('is started from its file: no code travels as text (no toString, eval or new Function)', () => {
    for (const file of ['threads.ts', 'worker.js', 'worker-jobs.js']) expect(source(file), file).not.toMatch(/\.toString\(\)|\beval\b|new Function/);
    expect(source('threads.ts')).toContain("new Worker(new URL('./worker.js', import.meta.url), { type: 'module' })");
  });
});

/** A control array holding a split job of kind 1: `units` units, `per` a part, the plan and the arguments as ThreadPool.split writes them. */
function splitJob(plan: { units: number; per: number; count: number; ptrs: [number, number][]; last: [number, number] | null; args: number[]; floats: number }): { ctl: Int32Array; f32: Float32Array } {
  const control = new SharedArrayBuffer(4 * (LAYOUT.READY + 1));
  const [ctl, f32] = [new Int32Array(control), new Float32Array(control)];
  const A = LAYOUT.ARGS;
  ctl[LAYOUT.KIND] = 1;
  ctl.set([plan.units, plan.per, plan.count, plan.ptrs.length], A);
  plan.ptrs.forEach(([arg, bytes], q) => ctl.set([arg, bytes], A + 4 + 2 * q));
  ctl.set([plan.last?.[0] ?? -1, plan.last?.[1] ?? 0, plan.args.length, plan.floats], A + 16);
  plan.args.forEach((v, i) => ((plan.floats >> i) & 1 ? (f32[A + 20 + i] = v) : (ctl[A + 20 + i] = v)));
  return { ctl, f32 };
}

describe('runPart: one part of a split job', () => {
  it('moves each pointer on by its bytes per unit to the part\'s first unit and sets the count to the part\'s units', () => {
    const calls: number[][] = [];
    const { ctl, f32 } = splitJob({ units: 10, per: 4, count: 2, ptrs: [[0, 16], [1, 8]], last: null, args: [1000, 2000, 10, 0.5], floats: 0b1000 });
    runPart(ctl, f32, { k: (...a) => void calls.push(a) }, 2, ['k']); // units 8 and 9
    expect(calls).toEqual([[1000 + 8 * 16, 2000 + 8 * 8, 2, 0.5]]);
  });

  it('runs a part\'s last unit on its own with the plan\'s last argument (a vector path that writes past its unit)', () => {
    const calls: number[][] = [];
    const { ctl, f32 } = splitJob({ units: 10, per: 4, count: 2, ptrs: [[0, 16]], last: [3, 0], args: [1000, 7, 10, 1], floats: 0 });
    runPart(ctl, f32, { k: (...a) => void calls.push(a) }, 1, ['k']); // units 4–7: 4, 5, 6 with vectors, 7 without
    expect(calls).toEqual([
      [1000 + 4 * 16, 7, 3, 1],
      [1000 + 7 * 16, 7, 1, 0],
    ]);
  });

  it('claim hands out every part of the current job once, and none of a job with another tag', () => {
    const control = new SharedArrayBuffer(4 * (LAYOUT.READY + 1));
    const ctl = new Int32Array(control);
    const tag = 5 << 16;
    ctl[LAYOUT.PARTS] = 3;
    ctl[LAYOUT.NEXT] = tag;
    const parts: number[] = [];
    claim(ctl, 6 << 16, (p) => parts.push(p)); // a later job's tag: nothing
    expect(parts).toEqual([]);
    claim(ctl, tag, (p) => {
      parts.push(p);
      if (p === 1) throw new Error('a trap'); // reported, and the rest still run
    });
    expect(parts).toEqual([0, 1, 2]);
    expect(ctl[LAYOUT.DONE]).toBe(3);
    expect(ctl[LAYOUT.FAILED]).toBe(1);
  });
});
