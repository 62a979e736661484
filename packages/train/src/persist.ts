import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { moduleFromConfig, moduleToConfig, type AnyModule, type ModuleConfig } from '@ml/nn';
import { isTensor, loadSafetensors, saveSafetensors, type Tensor } from '@ml/tensor';
import { writeFileAtomic } from './callbacks.js';
import { compile, compileSpecOf, optimizerOf, type CompileOptions } from './fit.js';

const FORMAT = 'ml-model/1';

interface SavedConfig {
  format: typeof FORMAT;
  architecture: ModuleConfig;
  /** compile options when they were all given by name, so loading can re-compile */
  compile?: { optimizer: string; lr?: number; loss: string; metrics: string[] };
  /** numbers and structure of the optimizer state; its tensors are in optimizer.safetensors */
  optimizer?: unknown;
}

type OptimizerState = { state: Record<string, Record<string, Tensor | number>>; paramGroups: unknown[] };

/**
 * Save a model to a directory (Keras's `model.save`): `config.json` (architecture and
 * compile settings), `model.safetensors` (weights) and, when compiled,
 * `optimizer.safetensors` (optimizer state such as Adam's moments).
 *
 * The directory is replaced as a whole: everything is written to `<dir>.tmp` first,
 * then the old directory is moved to `<dir>.prev`, the new one into place, and the old
 * one deleted. A crash at any point leaves either the old or the new checkpoint
 * complete (`loadModel` falls back to `<dir>.prev` when `<dir>` is missing).
 */
export async function saveModel(model: AnyModule, dir: string): Promise<void> {
  const tmp = `${dir}.tmp`;
  const prev = `${dir}.prev`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const config: SavedConfig = { format: FORMAT, architecture: moduleToConfig(model) };
  const spec = compileSpecOf(model);
  if (spec) {
    if (typeof spec.optimizer === 'string' && typeof spec.loss === 'string' && (spec.metrics ?? []).every((m) => typeof m === 'string')) {
      config.compile = { optimizer: spec.optimizer, lr: spec.lr, loss: spec.loss, metrics: (spec.metrics ?? []) as string[] };
    }
    const sd = optimizerOf(model).stateDict() as unknown as OptimizerState;
    const tensors: Record<string, Tensor> = {};
    const state: Record<string, Record<string, number | { tensor: string }>> = {};
    for (const [i, entry] of Object.entries(sd.state)) {
      state[i] = {};
      for (const [k, v] of Object.entries(entry)) {
        if (isTensor(v)) {
          tensors[`state.${i}.${k}`] = v;
          state[i][k] = { tensor: `state.${i}.${k}` };
        } else state[i][k] = v;
      }
    }
    config.optimizer = { state, paramGroups: sd.paramGroups };
    await saveSafetensors(join(tmp, 'optimizer.safetensors'), tensors);
  }
  await saveSafetensors(join(tmp, 'model.safetensors'), model.stateDict(), { format: FORMAT });
  await writeFileAtomic(join(tmp, 'config.json'), JSON.stringify(config, null, 2));
  await rm(prev, { recursive: true, force: true });
  if (existsSync(dir)) await rename(dir, prev);
  await rename(tmp, dir);
  await rm(prev, { recursive: true, force: true });
}

/**
 * Load a model saved by `saveModel`: rebuilds the architecture, loads the weights and,
 * when it was compiled with named options, compiles it and restores the optimizer
 * state, so training resumes on the same curve. Pass `compile` to use other settings.
 */
export async function loadModel(dir: string, options: { compile?: CompileOptions } = {}): Promise<AnyModule> {
  let from = dir;
  if (!existsSync(join(dir, 'config.json'))) {
    if (existsSync(join(`${dir}.prev`, 'config.json'))) {
      console.warn(`loadModel: ${dir} is incomplete; loading the previous checkpoint ${dir}.prev (a save was interrupted)`);
      from = `${dir}.prev`;
    } else throw new Error(`loadModel: no saved model in ${dir} (missing config.json)`);
  }
  let config: SavedConfig;
  try {
    config = JSON.parse(await readFile(join(from, 'config.json'), 'utf8')) as SavedConfig;
  } catch (e) {
    throw new Error(`loadModel: ${join(from, 'config.json')} is not valid JSON: ${(e as Error).message}`);
  }
  if (config.format !== FORMAT) throw new Error(`loadModel: ${join(from, 'config.json')} has format '${String(config.format)}', expected '${FORMAT}'`);
  const model = moduleFromConfig(config.architecture);
  await model.loadWeights(join(from, 'model.safetensors'));
  const spec: CompileOptions | undefined =
    options.compile ??
    (config.compile
      ? ({ optimizer: config.compile.optimizer, lr: config.compile.lr, loss: config.compile.loss, metrics: config.compile.metrics } as CompileOptions)
      : undefined);
  if (spec) {
    compile(model, spec);
    const saved = config.optimizer as { state: Record<string, Record<string, number | { tensor: string }>>; paramGroups: unknown[] } | undefined;
    if (saved && existsSync(join(from, 'optimizer.safetensors'))) {
      const { tensors } = await loadSafetensors(join(from, 'optimizer.safetensors'));
      const state: Record<string, Record<string, Tensor | number>> = {};
      for (const [i, entry] of Object.entries(saved.state)) {
        state[i] = {};
        for (const [k, v] of Object.entries(entry)) {
          if (typeof v === 'number') state[i][k] = v;
          else {
            const t = tensors[v.tensor];
            if (!t) throw new Error(`loadModel: optimizer.safetensors lacks '${v.tensor}'`);
            state[i][k] = t;
          }
        }
      }
      const opt = optimizerOf(model) as unknown as { loadStateDict(sd: OptimizerState): void };
      opt.loadStateDict({ state, paramGroups: saved.paramGroups });
    }
  }
  return model;
}
