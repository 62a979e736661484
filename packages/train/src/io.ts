/**
 * Saving and loading whole models anywhere, in one format: the files of a saved folder
 * (`config.json`, `model.safetensors`, `optimizer.safetensors` when compiled, extra files).
 * The destination or source picks the handler (as TensorFlow.js's `tf.io` routes URLs):
 *
 * | destination / source              | save | load | where            |
 * |-----------------------------------|------|------|------------------|
 * | `'path/to/folder'`                | yes  | yes  | Node (folder)    |
 * | `'indexeddb://name'`              | yes  | yes  | pages, workers   |
 * | `'downloads://name'`              | yes  | —    | pages            |
 * | `'https://…/folder/'`, `'folder/'`| —    | yes  | anywhere (fetch) |
 * | `File`s / `Blob`s, a `FileList`   | —    | yes  | anywhere         |
 * | `{ config, weights, optimizer? }` | `modelToBytes` | yes | anywhere |
 * | `{ save(artifacts) }` / `{ load() }` handler | yes | yes | anywhere |
 *
 * A plain string is a folder under Node and a URL relative to the page elsewhere. Every
 * load goes through `modelFromSaved`, which checks everything before building anything.
 */
import { moduleToConfig, type AnyModule, type ModuleConfig } from '@ml/nn';
import { checkOptions, isTensor, serializeSafetensors, type Tensor, optionKeys } from '@ml/tensor';
import { checkExtraFiles } from './files.js';
import { compileLossNameOf, compileSpecOf, optimizerIfMade, type CompileOptions, type LossSpec } from './fit.js';
import { platform } from './platform.js';
import { ModelFileError, modelFromSaved, type ModelArtifacts, type SavedModelFiles } from './saved-config.js';

const FORMAT = 'ml-model/1';

interface SavedConfig {
  format: typeof FORMAT;
  architecture: ModuleConfig;
  /** compile options when they were all given by name, so loading can re-compile */
  compile?: { optimizer: string; lr?: number; loss: string | LossSpec; metrics: string[] };
  /** numbers and structure of the optimizer state; its tensors are in optimizer.safetensors */
  optimizer?: unknown;
}

type OptimizerState = { state: Record<string, Record<string, Tensor | number>>; paramGroups: unknown[] };

export interface SaveModelOptions {
  /**
   * Folders only: save into a folder that also holds files that are not the save's (they
   * are left untouched; only files the save writes are replaced). Default false: such a
   * folder is refused with a `SaveTargetError`.
   */
  overwrite?: boolean;
  /**
   * More files saved together with the model, as one generation (e.g. `labels.json`):
   * plain file names (no folders) other than the model's own, text or bytes. Read them
   * back with `readSavedFile` (folders) or `loadArtifacts` (anywhere).
   */
  files?: Record<string, string | Uint8Array>;
}

const SAVE_KEYS = optionKeys<SaveModelOptions>()(['overwrite', 'files']);

/** A destination of your own: receives the saved files (e.g. to upload them). */
export interface ModelSaveHandler {
  save(artifacts: ModelArtifacts): Promise<void>;
}

/** A source of your own: returns the saved files. */
export interface ModelLoadHandler {
  load(): Promise<SavedModelFiles>;
}

/** Where `saveModel` can write: a folder path (Node), `indexeddb://name`, `downloads://name`, or a handler. */
export type SaveDestination = string | ModelSaveHandler;

/**
 * What `loadModel` can read: a folder path (Node) or a URL (`indexeddb://name`,
 * `http(s)://…`, relative to the page), the files of a save as `File`s (a `FileList` from
 * `<input type="file" multiple>`, an array, one `Blob`), its bytes, or a handler.
 */
export type LoadSource = string | SavedModelFiles | Blob | ArrayLike<Blob> | ModelLoadHandler;

const utf8 = new TextEncoder();
const toBytes = (v: string | Uint8Array): Uint8Array => (typeof v === 'string' ? utf8.encode(v) : v);

/**
 * The files `saveModel` would write, in memory: config.json, model.safetensors,
 * optimizer.safetensors when `model` is compiled, and the extra `files` (as bytes). Send
 * them anywhere (a worker's `postMessage`, an upload) and load them with `loadModel`.
 */
export async function modelToBytes(model: AnyModule, options: { files?: Record<string, string | Uint8Array> } = {}): Promise<ModelArtifacts> {
  checkOptions('modelToBytes', options, ['files']);
  const extra = checkExtraFiles('saveModel', options.files ?? {});
  const config: SavedConfig = { format: FORMAT, architecture: moduleToConfig(model) };
  const spec = compileSpecOf(model);
  let optimizer: Uint8Array | undefined;
  if (spec) {
    const lossName = compileLossNameOf(model);
    if (typeof spec.optimizer === 'string' && lossName !== null && (spec.metrics ?? []).every((m) => typeof m === 'string')) {
      config.compile = { optimizer: spec.optimizer, lr: spec.lr, loss: lossName.fromLogits === true ? lossName : lossName.name, metrics: (spec.metrics ?? []) as string[] };
    }
  }
  // a lazy model compiled but not trained yet has no optimizer state to save
  const made = optimizerIfMade(model);
  if (spec && made !== null) {
    const sd = made.stateDict() as unknown as OptimizerState;
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
    optimizer = await serializeSafetensors(tensors);
  }
  const weights = await serializeSafetensors(model.stateDict(), { format: FORMAT });
  const files: Record<string, Uint8Array> = {};
  for (const [name, v] of Object.entries(extra)) files[name] = toBytes(v);
  return { config: utf8.encode(JSON.stringify(config, null, 2)), weights, ...(optimizer ? { optimizer } : {}), files };
}

/** The files of `artifacts` by name, in the order a save writes them. */
export function artifactFiles(a: ModelArtifacts): [string, Uint8Array][] {
  return [
    ['config.json', a.config],
    ['model.safetensors', a.weights],
    ...(a.optimizer ? ([['optimizer.safetensors', a.optimizer]] as [string, Uint8Array][]) : []),
    ...Object.entries(a.files),
  ];
}

/**
 * Save a model (Keras's `model.save`): architecture, weights and, when compiled, the
 * optimizer state, to `destination`:
 * - a folder path (Node): `config.json`, `model.safetensors`, `optimizer.safetensors`, the
 *   extra `files` and `ml-save.json`, committed crash-safely (see the README); only the
 *   save's own files are written, a folder holding others is refused unless `overwrite`;
 * - `indexeddb://name`: one IndexedDB record (database `ml-models`, store `models`, key
 *   `name`), written in one transaction, replacing an earlier save under that name;
 * - `downloads://name`: the browser downloads each file, named `name.config.json`,
 *   `name.model.safetensors`, … (`downloads://` alone: the plain names);
 * - a `ModelSaveHandler`: its `save` gets the files.
 */
export async function saveModel(model: AnyModule, destination: SaveDestination, options: SaveModelOptions = {}): Promise<void> {
  checkOptions('saveModel', options, SAVE_KEYS);
  const save = saveHandlerFor(destination, options);
  await save(await modelToBytes(model, { files: options.files }));
}

/**
 * Load a model saved by `saveModel` from any `LoadSource`: rebuilds the architecture,
 * loads the weights and, when it was compiled with named options, compiles it and
 * restores the optimizer state, so training resumes on the same curve. Pass `compile` to
 * use other settings. Everything is checked before anything is built: a corrupt,
 * truncated or mismatched save throws a `ModelFileError` and loads nothing.
 */
export async function loadModel(source: LoadSource, options: { compile?: CompileOptions } = {}): Promise<AnyModule> {
  checkOptions('loadModel', options, ['compile']);
  return modelFromSaved(await loadArtifacts(source), options);
}

/** The files of a saved model from `source`, as bytes, without building it. */
export async function loadArtifacts(source: LoadSource): Promise<SavedModelFiles> {
  return loadHandlerFor(source)();
}

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

function saveHandlerFor(destination: SaveDestination, options: SaveModelOptions): (a: ModelArtifacts) => Promise<void> {
  if (typeof destination === 'object' && destination !== null && typeof destination.save === 'function') return (a) => destination.save(a);
  if (typeof destination !== 'string') throw new TypeError('saveModel: the destination must be a folder path, a URL (indexeddb://name, downloads://name) or an object with save(artifacts)');
  const scheme = SCHEME.exec(destination)?.[1].toLowerCase();
  if (scheme === 'indexeddb') {
    const name = urlName(destination, 'saveModel');
    return (a) => idbSave(name, a);
  }
  if (scheme === 'downloads') {
    const prefix = destination.slice('downloads://'.length);
    return async (a) => download(prefix, a);
  }
  if (scheme !== undefined) {
    throw new Error(`saveModel: cannot save to '${destination}' (known: a folder path under Node, indexeddb://name, downloads://name); to upload, send modelToBytes(model) yourself`);
  }
  const dir = platform.directory;
  if (!dir) {
    throw new Error(
      `saveModel: '${destination}' is a folder path, and saving to a folder needs Node (this is @ml/train's browser entry). ` +
        "In a page save to 'indexeddb://name' or 'downloads://name', or get the files with modelToBytes(model).",
    );
  }
  return (a) => dir.save(destination, a, { overwrite: options.overwrite });
}

function loadHandlerFor(source: LoadSource): () => Promise<SavedModelFiles> {
  if (typeof source === 'string') {
    const scheme = SCHEME.exec(source)?.[1].toLowerCase();
    if (scheme === 'indexeddb') {
      const name = urlName(source, 'loadModel');
      return () => idbLoad(name);
    }
    if (scheme === 'http' || scheme === 'https') return () => fetchFiles(new URL(source));
    if (scheme === 'downloads') throw new Error("loadModel: downloads:// only saves; load the downloaded files with loadModel(input.files) from an <input type=\"file\" multiple>");
    if (scheme !== undefined) throw new Error(`loadModel: cannot load from '${source}' (known: a folder path under Node, indexeddb://name, http(s):// or a relative URL, Files, bytes)`);
    const dir = platform.directory;
    if (dir) return () => dir.load(source);
    const base = (globalThis as { location?: { href?: string } }).location?.href;
    if (base === undefined) throw new Error(`loadModel: '${source}' is a relative URL, and there is no page to resolve it against; give an absolute http(s):// URL`);
    return () => fetchFiles(new URL(source, base));
  }
  if (typeof Blob !== 'undefined' && source instanceof Blob) return () => filesFrom([source]);
  if (isBlobList(source)) return () => filesFrom(Array.from(source));
  if (isEmptyList(source)) throw new Error("loadModel: no files given; choose the model's config.json and model.safetensors (and optimizer.safetensors when it has one)");
  if (typeof source === 'object' && source !== null && typeof (source as ModelLoadHandler).load === 'function') return () => (source as ModelLoadHandler).load();
  if (typeof source === 'object' && source !== null && 'weights' in source && 'config' in source) {
    const files = source as SavedModelFiles;
    return async () => files;
  }
  throw new TypeError('loadModel: the source must be a folder path, a URL, File objects, { config, weights, optimizer? } bytes or an object with load()');
}

function isBlobList(v: unknown): v is ArrayLike<Blob> {
  if (typeof Blob === 'undefined' || typeof v !== 'object' || v === null || typeof (v as ArrayLike<unknown>).length !== 'number') return false;
  const list = Array.from(v as ArrayLike<unknown>);
  return list.length > 0 && list.every((b) => b instanceof Blob);
}

/** An empty FileList or array (a file input where nothing was chosen). */
const isEmptyList = (v: unknown): boolean => typeof v === 'object' && v !== null && !('weights' in v) && (v as ArrayLike<unknown>).length === 0;

/** `scheme://name` → name, which must not be empty. */
function urlName(url: string, who: string): string {
  const name = url.replace(SCHEME, '');
  if (name === '') throw new Error(`${who}: '${url}' names no model; write ${url}<name>`);
  return name;
}

// ---- files: File objects from <input type="file" multiple>, or Blobs with names --------

const nameOf = (b: Blob): string => {
  const n = (b as { name?: unknown }).name;
  return typeof n === 'string' ? n : '';
};

/**
 * The save's files among `list`, matched by name: `config.json` or `<prefix>.config.json`
 * (as `downloads://prefix` names them), and likewise for the others; all with one prefix.
 */
async function filesFrom(list: Blob[]): Promise<SavedModelFiles> {
  const names = list.map(nameOf);
  const shown = names.map((n) => n || '(a Blob without a name)').join(', ');
  const pick = (file: string): { blob: Blob; prefix: string } | undefined => {
    const hits = list.filter((b) => nameOf(b) === file || nameOf(b).endsWith(`.${file}`));
    const exact = hits.filter((b) => nameOf(b) === file);
    if (hits.length > 1 && exact.length !== 1) throw new ModelFileError(file, `is ambiguous: more than one of the files given is named so (${hits.map(nameOf).join(', ')}); give the files of one model`);
    const blob = hits.length > 1 ? exact[0] : hits[0];
    return blob && { blob, prefix: nameOf(blob).slice(0, -file.length) };
  };
  const config = pick('config.json');
  const weights = pick('model.safetensors');
  const optimizer = pick('optimizer.safetensors');
  for (const [file, hit] of [['config.json', config], ['model.safetensors', weights]] as const) {
    if (!hit) throw new ModelFileError(file, `is missing: none of the files given (${shown}) is named ${file} or <name>.${file}`);
  }
  for (const [file, hit] of [['model.safetensors', weights], ['optimizer.safetensors', optimizer]] as const) {
    if (hit && hit.prefix !== config!.prefix) throw new ModelFileError(file, `is from another save than ${nameOf(config!.blob)}: ${nameOf(hit.blob)}`);
  }
  const read = async (file: string, b: Blob): Promise<Uint8Array> => {
    try {
      return new Uint8Array(await b.arrayBuffer());
    } catch (e) {
      throw new ModelFileError(file, `cannot be read (${(e as Error).message})`, { cause: e });
    }
  };
  return {
    config: await read('config.json', config!.blob),
    weights: await read('model.safetensors', weights!.blob),
    ...(optimizer ? { optimizer: await read('optimizer.safetensors', optimizer.blob) } : {}),
  };
}

// ---- http(s) and relative URLs: the folder's files, fetched -----------------------------

/** Whether config.json (if it parses) says the save holds optimizer state. */
function mentionsOptimizer(config: Uint8Array): boolean {
  try {
    const c: unknown = JSON.parse(new TextDecoder().decode(config));
    return typeof c === 'object' && c !== null && (c as { optimizer?: unknown }).optimizer !== undefined;
  } catch {
    return false; // modelFromSaved says what is wrong with it
  }
}

/**
 * `config.json`, `model.safetensors` and, when config.json has optimizer state,
 * `optimizer.safetensors` (skipped when the server has none: 404) under the folder `url`
 * (`…/folder`, `…/folder/` or `…/folder/config.json`).
 */
async function fetchFiles(url: URL): Promise<SavedModelFiles> {
  const folder = new URL(url.href.replace(/\/config\.json$/, '/').replace(/([^/])$/, '$1/'));
  const get = async (file: string, optional = false): Promise<Uint8Array | undefined> => {
    const at = new URL(file, folder);
    const fail = (why: string, cause?: unknown): never => {
      throw new ModelFileError(file, `cannot be fetched from ${at.href} (${why})`, cause === undefined ? undefined : { cause });
    };
    let res: Response;
    try {
      res = await fetch(at);
    } catch (e) {
      return fail((e as Error).message, e);
    }
    if (optional && res.status === 404) return undefined;
    if (!res.ok) return fail(`HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}${file === 'config.json' && res.status === 404 ? `; is ${folder.href} the folder of a saved model?` : ''}`);
    try {
      return new Uint8Array(await res.arrayBuffer());
    } catch (e) {
      return fail(`the download broke off: ${(e as Error).message}`, e);
    }
  };
  const [config, weights] = await Promise.all([get('config.json'), get('model.safetensors')]);
  const optimizer = mentionsOptimizer(config!) ? await get('optimizer.safetensors', true) : undefined;
  return { config: config!, weights: weights!, ...(optimizer ? { optimizer } : {}) };
}

// ---- downloads://: a page's downloads ----------------------------------------------------

interface Anchor {
  href: string;
  download: string;
  click(): void;
  remove(): void;
}
interface DocumentLike {
  createElement(tag: 'a'): Anchor;
  body: { appendChild(node: Anchor): unknown };
}

/** Download each file through a temporary `<a download>`; `prefix` names them `prefix.config.json`, … */
function download(prefix: string, a: ModelArtifacts): void {
  const doc = (globalThis as { document?: DocumentLike }).document;
  if (!doc) throw new Error('saveModel: downloads:// needs a page (a document); in a worker, post modelToBytes(model) to the page and save it there');
  for (const [name, bytes] of artifactFiles(a)) {
    const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: name.endsWith('.json') ? 'application/json' : 'application/octet-stream' }));
    const link = doc.createElement('a');
    link.href = url;
    link.download = prefix ? `${prefix}.${name}` : name;
    doc.body.appendChild(link);
    link.click();
    link.remove();
    // the download has started from the URL; free it once the browser has read it
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }
}

// ---- indexeddb:// -------------------------------------------------------------------------

/** The database, object store and record format of `indexeddb://` saves. */
export const IDB_DATABASE = 'ml-models';
export const IDB_STORE = 'models';
const IDB_FORMAT = 'ml-idb/1';

// the few IndexedDB types used (the DOM library is not part of this package's types)
interface IdbRequest<T> {
  readonly result: T;
  readonly error: { message: string } | null;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
interface IdbOpenRequest extends IdbRequest<IdbDatabase> {
  onupgradeneeded: (() => void) | null;
  onblocked: (() => void) | null;
}
interface IdbDatabase {
  readonly objectStoreNames: { contains(name: string): boolean };
  createObjectStore(name: string): unknown;
  transaction(store: string, mode: 'readonly' | 'readwrite'): IdbTransaction;
  close(): void;
}
interface IdbTransaction {
  readonly error: { message: string } | null;
  objectStore(name: string): IdbStore;
  oncomplete: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}
interface IdbStore {
  put(value: unknown, key: string): IdbRequest<unknown>;
  get(key: string): IdbRequest<unknown>;
  delete(key: string): IdbRequest<unknown>;
  getAllKeys(): IdbRequest<unknown[]>;
}
interface IdbFactory {
  open(name: string, version: number): IdbOpenRequest;
}

function idbFactory(who: string): IdbFactory {
  const f = (globalThis as { indexedDB?: IdbFactory }).indexedDB;
  if (!f) throw new Error(`${who}: indexeddb:// needs IndexedDB, which pages and workers have and Node does not; under Node use a folder path`);
  return f;
}

async function openDb(who: string): Promise<IdbDatabase> {
  const req = idbFactory(who).open(IDB_DATABASE, 1);
  return new Promise((resolve, reject) => {
    req.onupgradeneeded = () => {
      if (!req.result.objectStoreNames.contains(IDB_STORE)) req.result.createObjectStore(IDB_STORE);
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new Error(`${who}: cannot open IndexedDB database '${IDB_DATABASE}': ${req.error?.message ?? 'error'}`));
    req.onblocked = () => reject(new Error(`${who}: IndexedDB database '${IDB_DATABASE}' is blocked by another tab holding an older version open`));
  });
}

/** Run `op` in one transaction of the models store; resolves with its result once committed. */
async function idb<T>(who: string, mode: 'readonly' | 'readwrite', op: (store: IdbStore) => IdbRequest<T>): Promise<T> {
  const db = await openDb(who);
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(IDB_STORE, mode);
      const req = op(tx.objectStore(IDB_STORE));
      const fail = () => reject(new Error(`${who}: IndexedDB ${mode === 'readwrite' ? 'write' : 'read'} failed: ${tx.error?.message ?? req.error?.message ?? 'aborted'}`));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = fail;
      tx.onabort = fail;
    });
  } finally {
    db.close();
  }
}

async function idbSave(name: string, a: ModelArtifacts): Promise<void> {
  const record = { format: IDB_FORMAT, savedAt: new Date().toISOString(), config: a.config, weights: a.weights, optimizer: a.optimizer, files: a.files };
  await idb('saveModel', 'readwrite', (s) => s.put(record, name));
}

const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;

async function idbLoad(name: string): Promise<SavedModelFiles> {
  const r = (await idb('loadModel', 'readonly', (s) => s.get(name))) as Record<string, unknown> | undefined;
  const where = `indexeddb://${name}`;
  if (r === undefined) throw new ModelFileError(where, "is missing: no model is saved under that name in this site's IndexedDB");
  if (typeof r !== 'object' || r === null || r.format !== IDB_FORMAT || !isBytes(r.config) || !isBytes(r.weights) || !(r.optimizer === undefined || isBytes(r.optimizer))) {
    throw new ModelFileError(where, 'is not a model saved by saveModel (its IndexedDB record has another shape)');
  }
  return { config: r.config, weights: r.weights, ...(r.optimizer ? { optimizer: r.optimizer as Uint8Array } : {}) };
}

/** The names of the models saved in this site's IndexedDB (`indexeddb://<name>`). */
export async function listIndexedDbModels(): Promise<string[]> {
  return ((await idb('listIndexedDbModels', 'readonly', (s) => s.getAllKeys())) ?? []).map(String);
}

/** Remove the model saved as `indexeddb://name`; nothing happens when there is none. */
export async function deleteIndexedDbModel(url: string): Promise<void> {
  if (!/^indexeddb:\/\//i.test(url)) throw new Error(`deleteIndexedDbModel: '${url}' is not an indexeddb:// URL`);
  const name = urlName(url, 'deleteIndexedDbModel');
  await idb('deleteIndexedDbModel', 'readwrite', (s) => s.delete(name));
}
