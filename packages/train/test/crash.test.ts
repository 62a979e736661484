// A training process (test/crash-child.mjs) that saves with saveModel and ModelCheckpoint is
// SIGKILLed at random moments, some during its start-up and recovery (loading the last save
// and the roll-forward of the first save after it). After every kill the saved model and the
// checkpoint must load and give outputs the process logged before saving them, no older
// than its last completed save; once a process has completed a save, no temp of an earlier
// process may be left. CRASH_SEED repeats a run; CRASH_KILLS sets the number of kills.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { noGrad } from '@ml/autograd';
import { Linear, ReLU, Sequential } from '@ml/nn';
import { Generator, tensor, type Tensor } from '@ml/tensor';
import { parseTempName } from '@ml/tensor/node';
import { expect, it } from 'vitest';
import { loadModel, readSavedFile } from '../src/index.node.js';
import type { AnyModule } from '@ml/nn';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'crash-child.mjs');
const PROBE = [[0.5, -1], [2, 0.25], [-1.5, 1]];
const KILLS = Number(process.env.CRASH_KILLS ?? 110);
const SEED = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));


type Stage = 'start-up' | 'recovery' | 'training';
interface Run {
  pid: number;
  stage: Stage;
  /** ms from spawn to the child's first line, or NaN */
  readyAt: number;
  firstSavedAt: number;
  exited: 'killed' | 'finished';
}

/** Run the child; kill it `delay` ms after spawn, or `delay` ms after it reports 'ready' when `afterReady`. */
function runChild(args: string[], kill: { delay: number; afterReady: boolean } | null): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stage: Stage = 'start-up';
    let readyAt = NaN;
    let firstSavedAt = NaN;
    let stderr = '';
    let buf = '';
    let timer: NodeJS.Timeout | undefined;
    const doKill = () => child.kill('SIGKILL');
    if (kill && !kill.afterReady) timer = setTimeout(doKill, kill.delay);
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line === 'ready') {
          stage = 'recovery';
          readyAt = performance.now() - t0;
          if (kill?.afterReady) timer = setTimeout(doKill, kill.delay);
        } else if (line.startsWith('saved') && stage !== 'training') {
          stage = 'training';
          firstSavedAt = performance.now() - t0;
        }
      }
    });
    child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') resolve({ pid: child.pid!, stage, readyAt, firstSavedAt, exited: 'killed' });
      else if (code === 0) resolve({ pid: child.pid!, stage, readyAt, firstSavedAt, exited: 'finished' });
      else reject(new Error(`the training process failed (exit ${code}):\n${stderr}`));
    });
  });
}

type LogLine = { gen: number; out: number[]; pid: number } | { ckptDone: number } | { done: number };

/** The outputs that may be in the save: the last one whose save completed (`doneKey`), and any logged after it. */
function allowed(log: LogLine[], doneKey: 'done' | 'ckptDone'): { outs: number[][]; lastDone: number } {
  let lastDoneAt = -1;
  log.forEach((l, i) => void (doneKey in l && (lastDoneAt = i)));
  const outs: number[][] = [];
  let beforeDone: number[] | null = null;
  let lastDone = 0;
  log.forEach((l, i) => {
    if (!('gen' in l)) return;
    if (i < lastDoneAt) {
      beforeDone = l.out;
      lastDone = l.gen;
    } else outs.push(l.out);
  });
  if (beforeDone) outs.push(beforeDone);
  return { outs, lastDone };
}

async function outputsOf(model: AnyModule): Promise<number[]> {
  const forward = model.forward.bind(model) as (x: Tensor) => Tensor;
  return Array.from(await noGrad(() => forward(tensor(PROBE))).data());
}

const temps = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((n) => parseTempName(n) !== null) : []);

it(`a training process killed at random moments always leaves a model that loads, with the outputs it saved (seed ${SEED})`, async () => {
  console.log(`crash test: seed ${SEED} (CRASH_SEED=${SEED} repeats it), ${KILLS} kills`);
  const t0 = performance.now();
  const root = mkdtempSync(join(tmpdir(), 'ml-crash-'));
  const dir = join(root, 'model');
  const ckpt = join(root, 'ckpt');
  const logPath = join(root, 'log.jsonl');
  const args = [dir, ckpt, logPath];
  const g = new Generator(SEED);
  const random = (): number => g.random();
  const readLog = (): LogLine[] => (existsSync(logPath) ? readFileSync(logPath, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as LogLine) : []);

  // a first run, killed after a few saves, measures start-up and recovery
  const cal = await runChild(args, { delay: 250, afterReady: true });
  const startup = Number.isFinite(cal.readyAt) ? cal.readyAt : 300;
  const recovery = Number.isFinite(cal.firstSavedAt) ? cal.firstSavedAt - startup : 50;
  const stages: Record<Stage, number> = { 'start-up': 0, recovery: 0, training: 0 };
  stages[cal.stage]++;

  let tempsLeft = 0;
  let ckptTempsLeft = 0;
  let doneBefore = readLog().filter((l) => 'done' in l).length;
  let ckptDoneBefore = readLog().filter((l) => 'ckptDone' in l).length;
  for (let k = 0; k < KILLS; k++) {
    // a third from spawn (start-up and anything after), a third within recovery, a third later in training
    const r = random();
    const kill =
      k % 3 === 0
        ? { delay: r * (startup + recovery + 60), afterReady: false }
        : k % 3 === 1
          ? { delay: r * recovery * 1.2, afterReady: true }
          : { delay: recovery + r * 120, afterReady: true };
    const run = await runChild(args, kill);
    expect(run.exited).toBe('killed');
    stages[run.stage]++;
    const log = readLog();

    // the model folder: loads, its files belong together, and it is the last completed save or a later one
    const saves = allowed(log, 'done');
    if (saves.lastDone > 0 || existsSync(join(dir, 'ml-save.json'))) {
      const before = readdirSync(dir).sort();
      const model = await loadModel(dir);
      expect(readdirSync(dir).sort(), 'loading writes nothing').toEqual(before);
      const out = await outputsOf(model);
      const meta = JSON.parse(await readSavedFile(dir, 'meta.json', 'utf8')) as { gen: number; out: number[] };
      expect(meta.out, `kill ${k}: meta.json and the weights are one generation`).toEqual(out);
      expect(saves.outs, `kill ${k} (${run.stage}): the loaded outputs were logged before a save, no older than the last completed one`).toContainEqual(out);
      expect(meta.gen).toBeGreaterThanOrEqual(saves.lastDone);
    }
    // the checkpoint file, likewise
    const ckpts = allowed(log, 'ckptDone');
    if (existsSync(join(ckpt, 'weights.safetensors'))) {
      const m = new Sequential([new Linear({ inFeatures: 2, outFeatures: 8 }), new ReLU(), new Linear({ inFeatures: 8, outFeatures: 1 })]);
      await m.loadWeights(join(ckpt, 'weights.safetensors'));
      expect(ckpts.outs, `kill ${k}: the checkpoint's outputs were logged before it was written`).toContainEqual(await outputsOf(m));
    }

    // a process that completed a save left no temps of earlier (killed) processes
    const done = log.filter((l) => 'done' in l).length;
    const ckptDone = log.filter((l) => 'ckptDone' in l).length;
    const modelTemps = temps(dir);
    const ckptTemps = temps(ckpt);
    if (done > doneBefore) for (const t of modelTemps) expect(parseTempName(t)?.pid, `kill ${k}: ${t} in the model folder`).toBe(run.pid);
    if (ckptDone > ckptDoneBefore) for (const t of ckptTemps) expect(parseTempName(t)?.pid, `kill ${k}: ${t} in the checkpoint folder`).toBe(run.pid);
    tempsLeft += modelTemps.filter((t) => parseTempName(t)?.pid === run.pid).length;
    ckptTempsLeft += ckptTemps.filter((t) => parseTempName(t)?.pid === run.pid).length;
    doneBefore = done;
    ckptDoneBefore = ckptDone;
  }

  // one more process runs to completion: one more save, then nothing stray is left
  const last = readLog().filter((l): l is { done: number } => 'done' in l).at(-1)?.done ?? 0;
  const final = await runChild([...args, String(last + 2)], null);
  expect(final.exited).toBe('finished');
  expect(temps(dir)).toEqual([]);
  expect(temps(ckpt)).toEqual([]);
  expect(readdirSync(dir).sort()).toEqual(['config.json', 'meta.json', 'ml-save.json', 'model.safetensors', 'optimizer.safetensors']);
  const model = await loadModel(dir);
  expect(allowed(readLog(), 'done').outs.at(-1)).toEqual(await outputsOf(model));

  const generations = readLog().filter((l) => 'done' in l).length;
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(
    `crash test: ${KILLS + 1} kills (${stages['start-up']} during start-up, ${stages.recovery} during recovery, ${stages.training} while training; the calibration run's too), ` +
      `${generations} completed saves, temps left by kills: ${tempsLeft} in the model folder, ${ckptTempsLeft} beside the checkpoint, all removed; ${seconds} s ` +
      `(start-up ${startup.toFixed(0)} ms, recovery ${recovery.toFixed(0)} ms)`,
  );
  expect(stages.recovery).toBeGreaterThanOrEqual(KILLS / 5);
}, 300_000);
