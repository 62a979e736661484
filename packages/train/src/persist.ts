import { join } from 'node:path';
import { moduleToConfig, type AnyModule, type ModuleConfig } from '@ml/nn';
import { isTensor, serializeSafetensors, type Tensor } from '@ml/tensor';
import { compileSpecOf, optimizerOf, type CompileOptions } from './fit.js';
import { checkExtraFiles, locateSave, writeGeneration } from './model-dir.js';
import { modelFromSaved, readModelFile } from './saved-config.js';

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

export interface SaveModelOptions {
  /**
   * Save into a folder that also holds files that are not the save's (they are left
   * untouched; only files the save writes are replaced). Default false: such a folder
   * is refused with a `SaveTargetError`.
   */
  overwrite?: boolean;
  /**
   * More files committed together with the model, as one generation (e.g. `labels.json`):
   * plain file names (no folders) other than the model's own, text or bytes. Read them
   * back with `readSavedFile`.
   */
  files?: Record<string, string | Uint8Array>;
}

/**
 * Save a model into the folder `dir` (Keras's `model.save`), created when missing:
 * `config.json` (architecture and compile settings), `model.safetensors` (weights), when
 * compiled `optimizer.safetensors` (optimizer state such as Adam's moments), the extra
 * `files`, and `ml-save.json`, the record of which files make up the save.
 *
 * Only the save's own files are written or removed: a folder that holds anything else is
 * refused unless `overwrite` is set, and even then nothing else in it is touched. The
 * files are committed together, crash-safely: each is written to a temp file and flushed
 * to disk, then the record is replaced atomically (the commit), then the temps are renamed
 * into place. A crash or kill at any moment, also during the next save's recovery, leaves
 * the last complete generation loadable; temps of a save killed before its commit are
 * removed by the next save. Call `checkSaveTarget(dir)` before long work to learn early
 * that `dir` cannot take the save.
 */
export async function saveModel(model: AnyModule, dir: string, options: SaveModelOptions = {}): Promise<void> {
  const extra = checkExtraFiles('saveModel', options.files ?? {});
  const files: Record<string, string | Uint8Array> = {};
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
    files['optimizer.safetensors'] = await serializeSafetensors(tensors);
  }
  files['model.safetensors'] = await serializeSafetensors(model.stateDict(), { format: FORMAT });
  files['config.json'] = JSON.stringify(config, null, 2);
  await writeGeneration(dir, { ...files, ...extra }, { overwrite: options.overwrite, who: 'saveModel' });
}

/**
 * Load a model saved by `saveModel`: rebuilds the architecture, loads the weights and,
 * when it was compiled with named options, compiles it and restores the optimizer
 * state, so training resumes on the same curve. Pass `compile` to use other settings.
 */
export async function loadModel(dir: string, options: { compile?: CompileOptions } = {}): Promise<AnyModule> {
  // the last committed generation (read-only: files still in their temps are read there),
  // or the previous checkpoint <dir>.prev of the layout before the commit record
  const files = await locateSave(dir, 'loadModel');
  if (!files?.has('config.json')) throw new Error(`loadModel: no saved model in ${dir} (missing config.json)`);
  const at = (name: string): string => files.get(name) ?? join(dir, name);
  // every file is checked before use, and a config is checked against the weights file's
  // header before anything is built (saved-config.ts)
  return modelFromSaved(
    {
      config: await readModelFile(at('config.json'), 'config.json'),
      weights: await readModelFile(at('model.safetensors'), 'model.safetensors'),
      optimizer: files.has('optimizer.safetensors') ? await readModelFile(at('optimizer.safetensors'), 'optimizer.safetensors') : undefined,
    },
    options,
  );
}
