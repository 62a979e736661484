/**
 * Loading a saved model from files that may come from anyone: every value read is
 * checked before it is used, nothing is allocated that the weights file does not pay
 * for, and every problem is a `ModelFileError` naming the file and the JSON path.
 */
import { ModuleConfigError, moduleFromConfig, type AnyModule, type ModuleConfig } from '@ml/nn';
import { OptimizerStateError, type OptimizerStateDict } from '@ml/optim';
import { SafetensorsError, checkOptions, parseSafetensors, parseSafetensorsHeader, quoteValue, type Tensor } from '@ml/tensor';
import { compile, isLossName, optimizerOf, type CompileOptions, type LossSpec } from './fit.js';
import { getMetric } from './metrics.js';

/** the `format` of config.json written by `saveModel` */
const FORMAT = 'ml-model/1';
/** deepest architecture nesting accepted */
const MAX_DEPTH = 64;

/**
 * A saved model's files are malformed, inconsistent or unsafe to read. `file` is the
 * file's name (`config.json`, `model.safetensors`, `optimizer.safetensors`); the message
 * names the JSON path of the bad value, never echoing more than a short excerpt of it.
 */
export class ModelFileError extends Error {
  readonly file: string;
  constructor(file: string, detail: string, options?: { cause?: unknown }) {
    // 'config.json is missing', 'config.json: architecture.layers[0] …'
    const sep = detail.startsWith(':') ? '' : /^(is|does|cannot) /.test(detail) ? ' ' : ': ';
    super(`loadModel: ${file}${sep}${detail}`, options);
    this.name = 'ModelFileError';
    this.file = file;
  }
}

/** The files of a saved model, as bytes or text. */
export interface SavedModelFiles {
  /** config.json */
  config: Uint8Array | string;
  /** model.safetensors */
  weights: Uint8Array;
  /** optimizer.safetensors, when the model was saved compiled */
  optimizer?: Uint8Array;
}

/**
 * A saved model in memory (`modelToBytes`), what every destination stores: the contents of
 * `config.json`, `model.safetensors`, `optimizer.safetensors` (when compiled) and the extra
 * `files` given to the save, byte for byte the files of a saved folder.
 */
export interface ModelArtifacts {
  /** config.json, UTF-8 JSON */
  config: Uint8Array;
  /** model.safetensors */
  weights: Uint8Array;
  /** optimizer.safetensors, when the model is compiled */
  optimizer?: Uint8Array;
  /** the extra files (`SaveModelOptions.files`), by name */
  files: Record<string, Uint8Array>;
}

/** `path detail`, or `path: detail` for details that start with a colon. */
const at = (path: string, detail: string): string => (detail.startsWith(':') ? `${path}${detail}` : `${path} ${detail}`);

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);


function parseConfig(raw: Uint8Array | string): Record<string, unknown> {
  let text: string;
  try {
    text = typeof raw === 'string' ? raw : new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw new ModelFileError('config.json', 'is not valid UTF-8');
  }
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (e) {
    // the engine's message quotes the text: keep only where it failed
    const at = /position (\d+)/.exec((e as Error).message);
    throw new ModelFileError('config.json', `is not valid JSON${at ? ` (at character ${at[1]})` : ''}`);
  }
  if (!isRecord(config)) throw new ModelFileError('config.json', `must hold a JSON object, got ${quoteValue(config)}`);
  return config;
}

interface SavedCompile {
  optimizer: string;
  lr?: number;
  loss: string | LossSpec;
  metrics: string[];
}

/**
 * A saved loss: a name, or { name, fromLogits }; the `<name>_from_logits` spellings of
 * earlier saves read as { name, fromLogits: true }.
 */
function savedLoss(loss: unknown, bad: (path: string, detail: string) => never): string | LossSpec {
  const unknown = (v: unknown, path: string): never => bad(path, `: unknown loss ${quoteValue(v).replace(/^"|"$/g, "'")}`);
  if (typeof loss === 'string') {
    if (isLossName(loss)) return loss;
    const old = /^(binary_crossentropy|categorical_crossentropy|sparse_categorical_crossentropy)_from_logits$/.exec(loss);
    return old ? { name: old[1] as LossSpec['name'], fromLogits: true } : unknown(loss, 'compile.loss');
  }
  if (!isRecord(loss)) return bad('compile.loss', `must be a loss name or { name, fromLogits }, got ${quoteValue(loss)}`);
  const extra = Object.keys(loss).find((k) => k !== 'name' && k !== 'fromLogits');
  if (extra !== undefined) bad('compile.loss', `: unexpected key ${quoteValue(extra)}`);
  if (typeof loss.name !== 'string') return bad('compile.loss.name', `must be a string, got ${quoteValue(loss.name)}`);
  if (!isLossName(loss.name)) unknown(loss.name, 'compile.loss.name');
  if (loss.fromLogits !== undefined && typeof loss.fromLogits !== 'boolean') bad('compile.loss.fromLogits', `must be true or false, got ${quoteValue(loss.fromLogits)}`);
  return { name: loss.name as LossSpec['name'], ...(loss.fromLogits === true ? { fromLogits: true } : {}) };
}

function checkCompile(c: unknown): SavedCompile {
  const bad = (path: string, detail: string): never => {
    throw new ModelFileError('config.json', at(path, detail));
  };
  if (!isRecord(c)) return bad('compile', `must be an object, got ${quoteValue(c)}`);
  const { optimizer, lr, loss, metrics } = c;
  if (typeof optimizer !== 'string') bad('compile.optimizer', `must be a string, got ${quoteValue(optimizer)}`);
  if (lr !== undefined && lr !== null && (typeof lr !== 'number' || !Number.isFinite(lr) || lr < 0)) bad('compile.lr', `must be a finite number ≥ 0, got ${quoteValue(lr)}`);
  const lossSpec = savedLoss(loss, bad);
  const list = metrics === undefined ? [] : metrics;
  if (!Array.isArray(list)) return bad('compile.metrics', `must be an array of metric names, got ${quoteValue(metrics)}`);
  list.forEach((m: unknown, i) => {
    if (typeof m !== 'string') bad(`compile.metrics[${i}]`, `must be a string, got ${quoteValue(m)}`);
    try {
      getMetric(m as never);
    } catch {
      bad(`compile.metrics[${i}]`, `: unknown metric ${quoteValue(m)}`);
    }
  });
  return { optimizer: optimizer as string, lr: typeof lr === 'number' ? lr : undefined, loss: lossSpec, metrics: list as string[] };
}

/** The optimizer state of config.json with its tensors taken from optimizer.safetensors. */
function optimizerState(saved: unknown, tensors: Record<string, Tensor>): OptimizerStateDict {
  const bad = (path: string, detail: string): never => {
    throw new ModelFileError('config.json', at(path, detail));
  };
  if (!isRecord(saved)) return bad('optimizer', `must be an object, got ${quoteValue(saved)}`);
  if (!isRecord(saved.state)) bad('optimizer.state', `must be an object, got ${quoteValue(saved.state)}`);
  if (!Array.isArray(saved.paramGroups)) bad('optimizer.paramGroups', `must be an array, got ${quoteValue(saved.paramGroups)}`);
  const state: Record<string, Record<string, Tensor | number>> = {};
  for (const [i, entry] of Object.entries(saved.state as Record<string, unknown>)) {
    if (!isRecord(entry)) bad(`optimizer.state[${i}]`, `must be an object, got ${quoteValue(entry)}`);
    const out: Record<string, Tensor | number> = {};
    for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
      const where = `optimizer.state[${i}].${k}`;
      if (typeof v === 'number') out[k] = v;
      else if (isRecord(v) && typeof v.tensor === 'string') {
        if (!Object.hasOwn(tensors, v.tensor)) bad(where, `: optimizer.safetensors has no tensor ${quoteValue(v.tensor).replace(/^"|"$/g, "'")}`);
        out[k] = tensors[v.tensor];
      } else bad(where, `must be a number or {"tensor": name}, got ${quoteValue(v)}`);
    }
    Object.defineProperty(state, i, { value: out, enumerable: true, writable: true, configurable: true });
  }
  return { state, paramGroups: saved.paramGroups as OptimizerStateDict['paramGroups'] };
}

/**
 * Rebuild a model from the contents of its saved files (what `loadModel` reads from a
 * folder). In order, before anything is built: config.json's shape and every field of
 * the architecture (`ModuleConfigError` paths, nesting at most 64 levels), the weights
 * file's header, and that the architecture needs no more parameter and buffer elements
 * than the weights file holds; then the weights (names, shapes, dtypes), the compile
 * settings (names looked up as own properties) and the optimizer state (types and ranges
 * of every hyper-parameter and state entry). Every failure is a `ModelFileError`.
 */
export function modelFromSaved(files: SavedModelFiles, options: { compile?: CompileOptions } = {}): AnyModule {
  checkOptions('modelFromSaved', options, ['compile']);
  const config = parseConfig(files.config);
  if (config.format !== FORMAT) throw new ModelFileError('config.json', `format must be '${FORMAT}', got ${quoteValue(config.format)}`);
  if (!isRecord(config.architecture)) throw new ModelFileError('config.json', `architecture must be an object, got ${quoteValue(config.architecture)}`);
  const saved = config.compile === undefined ? undefined : checkCompile(config.compile);
  if (config.optimizer !== undefined && !isRecord(config.optimizer)) throw new ModelFileError('config.json', `optimizer must be an object, got ${quoteValue(config.optimizer)}`);

  let header;
  try {
    header = parseSafetensorsHeader(files.weights);
  } catch (e) {
    throw new ModelFileError('model.safetensors', (e as Error).message, { cause: e });
  }
  let model: AnyModule;
  try {
    model = moduleFromConfig(config.architecture as unknown as ModuleConfig, { path: 'architecture', maxDepth: MAX_DEPTH, maxStateElements: header.numElements });
  } catch (e) {
    if (!(e instanceof ModuleConfigError)) throw e;
    const budget = / more than the \d+ allowed$/.test(e.message) ? ' (the elements model.safetensors holds)' : '';
    throw new ModelFileError('config.json', `${e.message}${budget}`, { cause: e });
  }
  try {
    loadWeights(model, files.weights);
    const spec: CompileOptions | undefined = options.compile ?? (saved ? { ...saved, optimizer: saved.optimizer as CompileOptions['optimizer'], loss: saved.loss as CompileOptions['loss'], metrics: saved.metrics as never } : undefined);
    if (spec) {
      try {
        compile(model, spec);
      } catch (e) {
        if (options.compile) throw e;
        throw new ModelFileError('config.json', `compile: ${(e as Error).message}`, { cause: e });
      }
      if (config.optimizer !== undefined && files.optimizer !== undefined) loadOptimizer(model, config.optimizer, files.optimizer);
    }
    return model;
  } catch (e) {
    model.dispose();
    throw e;
  }
}

function loadWeights(model: AnyModule, bytes: Uint8Array): void {
  const backend = model.parameters()[0]?.backend.name;
  let tensors: Record<string, Tensor>;
  try {
    tensors = parseSafetensors(bytes, backend ? { backend } : {}).tensors;
  } catch (e) {
    throw new ModelFileError('model.safetensors', (e as Error).message, { cause: e });
  }
  try {
    model.loadStateDict(tensors);
  } catch (e) {
    throw new ModelFileError('model.safetensors', `does not fit config.json's architecture: ${(e as Error).message}`, { cause: e });
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
}

function loadOptimizer(model: AnyModule, saved: unknown, bytes: Uint8Array): void {
  let tensors: Record<string, Tensor>;
  try {
    tensors = parseSafetensors(bytes).tensors;
  } catch (e) {
    if (!(e instanceof SafetensorsError)) throw e;
    throw new ModelFileError('optimizer.safetensors', e.message, { cause: e });
  }
  try {
    const sd = optimizerState(saved, tensors);
    optimizerOf(model).loadStateDict(sd);
  } catch (e) {
    if (e instanceof ModelFileError) throw e;
    if (e instanceof OptimizerStateError) throw new ModelFileError('config.json', at(`optimizer.${e.path}`, e.detail), { cause: e });
    throw new ModelFileError('optimizer.safetensors', `does not fit the optimizer: ${(e as Error).message}`, { cause: e });
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
}
