// A save killed at each of its file-system steps, then the resumed process's save killed at
// each of its steps (a crash during recovery), then a clean save: the last complete model
// must load every time, and the clean save must leave no temps. A "kill" here stops every
// later file operation of that process (its catch/finally clean-ups included); a torn
// write keeps half of its bytes. Each incarnation gets its own fake process id, so what a
// killed incarnation leaves (temps, the save lock) names a process that is not running.
import { cpSync, existsSync, mkdtempSync, readdirSync } from 'node:fs';
import type * as FsPromises from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Linear } from '@ml/nn';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { AnyModule } from '@ml/nn';

const sim = vi.hoisted(() => ({ step: 0, killAt: -1, dead: false, mutations: 0 }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof FsPromises>();
  const killed = () => Object.assign(new Error('simulated kill'), { code: 'ESIMKILL' });
  /** one step of the process: dies here when it is the step to kill at */
  const tick = (): boolean => {
    if (sim.dead) throw killed();
    sim.mutations++;
    if (sim.step++ === sim.killAt) {
      sim.dead = true;
      return true;
    }
    return false;
  };
  const wrap =
    <A extends unknown[], R>(f: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      if (tick()) throw killed();
      return f(...a);
    };
  type Handle = Awaited<ReturnType<typeof real.open>>;
  const open = async (...a: Parameters<typeof real.open>): Promise<Handle> => {
    const flags = String(a[1] ?? 'r');
    if (flags !== 'r' && tick()) throw killed();
    const fh = await real.open(...a);
    return new Proxy(fh, {
      get(target, prop, receiver) {
        if (prop === 'sync' && flags === 'r') return async () => undefined; // a folder's fsync: no effect without power loss
        if (prop === 'writeFile' && flags !== 'r') {
          return async (data: string | Uint8Array) => {
            const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
            if (tick()) {
              await target.writeFile(bytes.subarray(0, bytes.length >> 1)); // a torn write
              throw killed();
            }
            return target.writeFile(bytes);
          };
        }
        // a step like any other; not flushed, as the simulation keeps what the OS has (no power loss)
        if (prop === 'sync') return wrap(async () => undefined);
        const v: unknown = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(target) : v;
      },
    });
  };
  const fake = {
    ...real,
    open,
    rename: wrap(real.rename),
    rm: wrap(real.rm),
    unlink: wrap(real.unlink),
    link: wrap(real.link),
    mkdir: wrap(real.mkdir),
    writeFile: wrap(real.writeFile),
    appendFile: wrap(real.appendFile),
  };
  return { ...fake, default: fake };
});

const { compile, loadModel, optimizerOf, saveModel } = await import('../src/index.node.js');
const { readSavedFile } = await import('../src/index.node.js').then((m) => m as unknown as { readSavedFile?: (d: string, n: string, e: 'utf8') => Promise<string> });
const { tensor } = await import('@ml/tensor');

const realPid = process.pid;
let fakePid = 5_000_000;
/** a new incarnation of the process: a pid that no running process has */
function reboot(): void {
  sim.dead = false;
  sim.killAt = -1;
  sim.step = 0;
  Object.defineProperty(process, 'pid', { value: ++fakePid, configurable: true, writable: false, enumerable: true });
}
afterAll(() => Object.defineProperty(process, 'pid', { value: realPid, configurable: true, writable: false, enumerable: true }));

/** generation g: every weight is g; even generations are not compiled and have no extra file */
function modelOf(g: number): { model: AnyModule; files?: Record<string, string> } {
  const model = new Linear({ inFeatures: 2, outFeatures: 1 });
  model.loadStateDict({ weight: tensor([[g, g]]), bias: tensor([g]) });
  if (g % 2 === 1) {
    compile(model, { optimizer: 'adam', lr: 0.1, loss: 'mse' });
    return { model, files: { 'labels.json': JSON.stringify({ g }) } };
  }
  return { model };
}

async function save(dir: string, g: number): Promise<void> {
  const { model, files } = modelOf(g);
  // today's saveModel takes no options; the new one commits `files` with the model
  await (saveModel as (m: AnyModule, d: string, o?: object) => Promise<void>)(model, dir, files ? { files } : {});
}

/** the generation that loads from `dir`, checked for consistency across its files */
async function loaded(dir: string): Promise<number> {
  const before = sim.mutations;
  const m = await loadModel(dir);
  expect(sim.mutations, 'loading writes nothing').toBe(before);
  const g = (await m.stateDict().weight.data())[0];
  const compiled = (() => {
    try {
      optimizerOf(m);
      return true;
    } catch {
      return false;
    }
  })();
  expect(compiled, `generation ${g} compiled`).toBe(g % 2 === 1);
  if (readSavedFile) {
    if (g % 2 === 1) expect(JSON.parse(await readSavedFile(dir, 'labels.json', 'utf8'))).toEqual({ g });
    else await expect(readSavedFile(dir, 'labels.json', 'utf8')).rejects.toThrow(/has no file 'labels.json'/);
  }
  return g;
}

/** how many file-system steps a save of generation g takes into a folder holding generation g − 1 */
async function stepsOf(g: number): Promise<number> {
  const dir = join(mkdtempSync(join(tmpdir(), 'ml-steps-')), 'model');
  reboot();
  if (g > 1) await save(dir, g - 1);
  sim.step = 0;
  await save(dir, g);
  return sim.step;
}

const temps = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((n) => n.includes('.tmp')) : []);

describe('saveModel killed at every step, twice in a row', () => {
  it('the last complete model always loads; the next clean save leaves only its files', async () => {
    const n1 = await stepsOf(2);
    const n2 = await stepsOf(3);
    const root = mkdtempSync(join(tmpdir(), 'ml-steps-'));
    const first = join(root, 'first');
    reboot();
    await save(first, 1);
    let cases = 0;
    for (let k1 = 0; k1 < n1; k1++) {
      // every step of the resumed save after every other first kill, a third of them after the rest
      for (let k2 = k1 % 2 === 0 ? 0 : k1 % 3; k2 < n2; k2 += k1 % 2 === 0 ? 1 : 3) {
        const dir = join(root, `m${k1}-${k2}`);
        cpSync(first, dir, { recursive: true });
        // kill 1: during the save of generation 2
        reboot();
        sim.killAt = k1;
        await expect(save(dir, 2)).rejects.toThrow(/simulated kill/);
        reboot();
        const g1 = await loaded(dir);
        expect([1, 2], `kill at step ${k1}`).toContain(g1);
        // kill 2: the resumed process's save of generation 3 (its recovery comes first)
        reboot();
        sim.killAt = k2;
        const second = save(dir, 3);
        await second.catch((e: Error) => expect(e.message).toMatch(/simulated kill/));
        reboot();
        const g2 = await loaded(dir);
        expect(g2, `kills at steps ${k1}, ${k2}`).toBeGreaterThanOrEqual(g1);
        expect(g2).toBeLessThanOrEqual(3);
        // a clean save
        reboot();
        await save(dir, 4);
        expect(await loaded(dir)).toBe(4);
        expect(temps(dir), `temps after kills at ${k1}, ${k2}`).toEqual([]);
        expect(existsSync(join(dir, 'ml-save.lock'))).toBe(false);
        if (process.env.LAYOUT !== '0') expect(readdirSync(dir).sort()).toEqual(['config.json', 'ml-save.json', 'model.safetensors']);
        cases++;
      }
    }
    expect(cases).toBeGreaterThan(200);
    console.log(`save-steps: ${n1} steps × ${n2} steps of the resumed save: ${cases} double kills`);
  });
});
