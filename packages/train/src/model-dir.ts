/**
 * The folder a model is saved into: which files are the save's, how a new generation of
 * them is committed so that a crash at any moment leaves the last complete one loadable,
 * and the checks run before training (`checkSaveTarget`).
 *
 * A save writes each of its files as a temp sibling (`<name>.tmp-<pid>-<n>`, fsynced),
 * then commits by replacing `ml-save.json` atomically (temp, fsync, rename, directory
 * fsync): from that moment the record names the new generation's files and, for each, the
 * temp that holds it until it is renamed into place. Then the temps are renamed over their
 * names, files of the previous generation that the new one lacks are removed, and the
 * directory is fsynced. A save that finds the record's temps still there renames them
 * first (rolls forward); loading reads the record and takes each file from its temp when
 * that is still there, without writing anything. Temps that no record names were left by
 * a save that was killed before its commit and are removed by the next save.
 */
import { link, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { isProcessAlive, parseTempName, syncDirectory, tempPathFor, writeFileAtomic, writeFileSynced } from '@ml/tensor/node';
import { checkOptions } from '@ml/tensor';
import { LOCK, MODEL_FILES, RECORD, RESERVED, SaveTargetError, isPlainName } from './files.js';

export { RECORD, LOCK, MODEL_FILES, SaveTargetError, checkExtraFiles } from './files.js';
const RECORD_FORMAT = 'ml-save/1';

interface SaveRecord {
  format: typeof RECORD_FORMAT;
  generation: number;
  /** every file of this generation */
  files: string[];
  /** for each file, the temp that holds it until it is renamed into place */
  temps: Record<string, string>;
  /** files of the previous generation that this one lacks, removed at commit */
  remove: string[];
}

const codeOf = (e: unknown): string | undefined => (e as { code?: string }).code;
const reason = (e: unknown): string => (codeOf(e) ? `${codeOf(e)}: ${(e as Error).message}` : (e as Error).message);

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if (codeOf(e) === 'ENOENT' || codeOf(e) === 'ENOTDIR') return false;
    throw e;
  }
}


async function readRecord(dir: string): Promise<SaveRecord | null> {
  let text: string;
  try {
    text = await readFile(join(dir, RECORD), 'utf8');
  } catch (e) {
    if (codeOf(e) === 'ENOENT' || codeOf(e) === 'ENOTDIR') return null;
    throw e;
  }
  const bad = (why: string) => new Error(`${join(dir, RECORD)} is not a save record of @ml/train (${why}); move it away or choose another folder`);
  let r: unknown;
  try {
    r = JSON.parse(text);
  } catch (e) {
    throw bad(`not valid JSON: ${(e as Error).message}`);
  }
  const o = r as Partial<SaveRecord> | null;
  if (typeof o !== 'object' || o === null || o.format !== RECORD_FORMAT) throw bad(`format is not '${RECORD_FORMAT}'`);
  if (!Number.isSafeInteger(o.generation) || (o.generation as number) < 1) throw bad('generation is not a positive integer');
  if (!Array.isArray(o.files) || !o.files.every(isPlainName)) throw bad('files is not a list of file names');
  if (!Array.isArray(o.remove) || !o.remove.every(isPlainName)) throw bad('remove is not a list of file names');
  const temps = o.temps;
  if (typeof temps !== 'object' || temps === null || Array.isArray(temps)) throw bad('temps is not an object');
  for (const [name, t] of Object.entries(temps)) {
    if (!o.files.includes(name) || !isPlainName(t) || parseTempName(t)?.target !== name) throw bad(`temps['${name}'] is not a temp of a listed file`);
  }
  return o as SaveRecord;
}

/**
 * Legacy saves (before the record): config.json and model.safetensors side by side. For
 * loading, config.json alone counts (a missing weights file is then reported by name).
 */
async function legacyFiles(dir: string, forLoading = false): Promise<string[] | null> {
  if (!(await exists(join(dir, 'config.json'))) || !(forLoading || (await exists(join(dir, 'model.safetensors'))))) return null;
  const out: string[] = [];
  for (const n of MODEL_FILES) if (await exists(join(dir, n))) out.push(n);
  return out;
}

/**
 * The committed generation's files in `dir` (name → path to read), or null when `dir`
 * holds no save. Reads only: a file whose temp is still there is read from the temp.
 */
export async function committedFiles(dir: string): Promise<Map<string, string> | null> {
  const record = await readRecord(dir);
  if (!record) {
    const legacy = await legacyFiles(dir, true);
    return legacy && new Map(legacy.map((n) => [n, join(dir, n)]));
  }
  const out = new Map<string, string>();
  for (const name of record.files) {
    const t = record.temps[name];
    const path = t !== undefined && (await exists(join(dir, t))) ? join(dir, t) : join(dir, name);
    if (!(await exists(path))) throw new Error(`the save in ${dir} is damaged: ${name} (generation ${record.generation}) is missing`);
    out.set(name, path);
  }
  return out;
}

/**
 * Find the save in `dir`, or, for saves made before the commit record, the previous
 * checkpoint `<dir>.prev` that an interrupted save of that layout left (with a warning).
 */
export async function locateSave(dir: string, who: string): Promise<Map<string, string> | null> {
  const files = await committedFiles(dir);
  if (files) return files;
  const prev = `${stripSlashes(dir)}.prev`;
  const old = await committedFiles(prev);
  if (old) console.warn(`${who}: ${dir} is incomplete; loading the previous checkpoint ${prev} (a save was interrupted)`);
  return old;
}

const stripSlashes = (dir: string): string => (/^[/\\]+$/.test(dir) ? dir : dir.replace(/[/\\]+$/, ''));

/**
 * Read one file of the model saved in `dir`, from the generation a crash-safe save last
 * committed: the extra `files` given to `saveModel` (e.g. `labels.json`) as well as the
 * model's own. Reading `join(dir, name)` directly can see the previous generation's file
 * right after a crash; this never does.
 */
export async function readSavedFile(dir: string, name: string): Promise<Uint8Array>;
export async function readSavedFile(dir: string, name: string, encoding: 'utf8'): Promise<string>;
export async function readSavedFile(dir: string, name: string, encoding?: 'utf8'): Promise<Uint8Array | string> {
  const files = await locateSave(dir, 'readSavedFile');
  let path = files?.get(name);
  // saves from before the commit record: extra files lay beside the model
  if (path === undefined && files && !(await exists(join(dir, RECORD))) && isPlainName(name) && (await exists(join(dir, name)))) path = join(dir, name);
  if (path === undefined) throw new Error(files ? `readSavedFile: the save in ${dir} has no file '${name}'` : `readSavedFile: no saved model in ${dir}`);
  const bytes = await readFile(path);
  return encoding ? bytes.toString('utf8') : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Temps a killed save left: `<name>.tmp-<pid>-<n>` (or a temp of one of the save's names) whose process has ended. */
function isStaleTemp(name: string, owned: ReadonlySet<string>): boolean {
  const t = parseTempName(name);
  if (!t || isProcessAlive(t.pid)) return false;
  return owned.has(t.target) || RESERVED.has(t.target) || /\.tmp-\d+-\d+$/.test(name);
}

/** Entries of `dir` that are not the save's (sorted, folders with a trailing `/`), and the save's stale temps. */
async function survey(dir: string, record: SaveRecord | null): Promise<{ foreign: string[]; stale: string[] }> {
  const entries = await readdir(dir, { withFileTypes: true });
  const owned = new Set<string>([RECORD, LOCK]);
  if (record) for (const n of [...record.files, ...record.remove, ...Object.values(record.temps)]) owned.add(n);
  else for (const n of (await legacyFiles(dir)) ?? []) owned.add(n);
  const foreign: string[] = [];
  const stale: string[] = [];
  for (const e of entries) {
    if (e.isFile() && owned.has(e.name)) continue;
    if (e.isFile() && isStaleTemp(e.name, owned)) stale.push(e.name);
    else foreign.push(e.isDirectory() ? `${e.name}/` : e.name);
  }
  return { foreign: foreign.sort(), stale };
}

function foreignError(who: string, dir: string, foreign: string[]): SaveTargetError {
  const shown = foreign.slice(0, 5).join(', ') + (foreign.length > 5 ? ` and ${foreign.length - 5} more` : '');
  return new SaveTargetError(
    `${who}: ${dir} already holds files that are not part of a saved model (${shown}). ` +
      'Choose an empty or new folder, or pass overwrite: true to save the model next to them (they are left untouched).',
    dir,
    foreign,
  );
}

/** `dir` exists as a folder afterwards (created, with its parent fsynced, when missing). */
async function ensureFolder(dir: string, who: string): Promise<void> {
  if (dir === '') throw new SaveTargetError(`${who}: the folder name is empty; give the folder to save the model into`, dir);
  try {
    const s = await stat(dir);
    if (!s.isDirectory()) throw new SaveTargetError(`${who}: ${dir} is not a folder (it is a file); choose a folder to save the model into`, dir);
    return;
  } catch (e) {
    if (e instanceof SaveTargetError) throw e;
    if (codeOf(e) !== 'ENOENT') throw new SaveTargetError(`${who}: cannot use ${dir} as the folder to save into (${reason(e)})`, dir);
  }
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    throw new SaveTargetError(`${who}: cannot create the folder ${dir} (${reason(e)})`, dir);
  }
  await syncDirectory(dirname(stripSlashes(dir)));
}

const cannotWrite = (who: string, dir: string, e: unknown): SaveTargetError =>
  new SaveTargetError(`${who}: cannot write into ${dir} (${reason(e)}); check its permissions or choose another folder`, dir);

/**
 * Check, before long work, that a model can be saved into `dir` with the same `overwrite`:
 * it is (or can be created as) a folder, files can be written there (a temp file is created
 * and removed), and, unless `overwrite` is set, it holds nothing but a previous save.
 * Creates the folder when it is missing. Rejects with a `SaveTargetError` saying why.
 */
export async function checkSaveTarget(dir: string, options: { overwrite?: boolean } = {}): Promise<void> {
  const who = 'checkSaveTarget';
  checkOptions(who, options, ['overwrite']);
  await ensureFolder(dir, who);
  const probe = tempPathFor(join(dir, '.ml-save-probe'));
  try {
    await writeFileSynced(probe, '');
  } catch (e) {
    throw cannotWrite(who, dir, e);
  } finally {
    await rm(probe, { force: true }).catch(() => undefined);
  }
  if (options.overwrite) return;
  const { foreign } = await survey(dir, await readRecord(dir));
  if (foreign.length) throw foreignError(who, dir, foreign);
}

/** Take the folder's save lock (a file naming this process); returns its release. */
async function lock(dir: string, who: string): Promise<() => Promise<void>> {
  const path = join(dir, LOCK);
  const mine = tempPathFor(path);
  try {
    await writeFileSynced(mine, String(process.pid));
  } catch (e) {
    throw cannotWrite(who, dir, e);
  }
  const create = async (): Promise<boolean> => {
    try {
      await link(mine, path); // a hard link appears with its content or not at all
      return true;
    } catch (e) {
      if (codeOf(e) === 'EEXIST') return false;
    }
    try {
      await writeFileSynced(path, String(process.pid)); // file systems without hard links
      return true;
    } catch (e) {
      if (codeOf(e) === 'EEXIST') return false;
      throw cannotWrite(who, dir, e);
    }
  };
  try {
    for (let attempt = 0; !(await create()); attempt++) {
      const holder = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (attempt > 0 || isProcessAlive(holder)) {
        throw new Error(
          `${who}: another save into ${dir} is in progress (process ${holder}${holder === process.pid ? ', this one' : ''}); ` +
            `wait for it to finish, or remove ${path} if no such process is saving`,
        );
      }
      await rm(path, { force: true }); // left by a process that was killed
    }
  } finally {
    await rm(mine, { force: true });
  }
  return () => rm(path, { force: true });
}

/** Rename the record's temps that are still there over their names, remove what it drops. */
async function rollForward(dir: string, record: SaveRecord): Promise<void> {
  let changed = false;
  for (const name of record.files) {
    const t = record.temps[name];
    if (t === undefined || !(await exists(join(dir, t)))) continue;
    await rename(join(dir, t), join(dir, name));
    changed = true;
  }
  for (const name of record.remove) {
    if (record.files.includes(name) || !(await exists(join(dir, name)))) continue;
    await rm(join(dir, name), { force: true });
    changed = true;
  }
  if (changed) await syncDirectory(dir);
}

/** Legacy siblings of a save (`<dir>.prev`, `<dir>.tmp`) are removed when they hold only model files. */
async function removeLegacySiblings(dir: string): Promise<void> {
  const base = basename(stripSlashes(dir));
  if (base === '' || base === '.' || base === '..') return;
  for (const sibling of [`${stripSlashes(dir)}.prev`, `${stripSlashes(dir)}.tmp`]) {
    let names: string[];
    try {
      names = await readdir(sibling);
    } catch {
      continue;
    }
    const ours = (n: string) => (MODEL_FILES as readonly string[]).includes(n) || n === RECORD;
    const modelOnly = names.every((n) => ours(n) || ours(parseTempName(n)?.target ?? ''));
    if (modelOnly) await rm(sibling, { recursive: true, force: true });
  }
}

export interface WriteGenerationOptions {
  overwrite?: boolean;
  /** the caller, for messages */
  who: string;
}

/**
 * Commit `files` (name → contents) as the new generation of the save in `dir`: see the
 * module comment. Files of the previous generation that are not in `files` are removed;
 * nothing else in the folder is touched.
 */
export async function writeGeneration(dir: string, files: Record<string, string | Uint8Array>, options: WriteGenerationOptions): Promise<void> {
  const { who } = options;
  const names = Object.keys(files);
  await ensureFolder(dir, who);
  for (const name of names) {
    if (!(await exists(join(dir, name)))) continue;
    if (!(await stat(join(dir, name))).isFile()) throw new SaveTargetError(`${who}: ${join(dir, name)} is a folder; the save cannot write its file '${name}' there`, dir);
  }
  const before = await readRecord(dir);
  const { foreign } = await survey(dir, before);
  if (foreign.length && !options.overwrite) throw foreignError(who, dir, foreign);

  const release = await lock(dir, who);
  const written: string[] = [];
  let committed = false;
  try {
    const record = await readRecord(dir);
    if (record) await rollForward(dir, record);
    for (const t of (await survey(dir, record)).stale) await rm(join(dir, t), { force: true });
    const previous = record ? record.files : ((await legacyFiles(dir)) ?? []);
    const next: SaveRecord = { format: RECORD_FORMAT, generation: (record?.generation ?? 0) + 1, files: names, temps: {}, remove: previous.filter((n) => !names.includes(n)) };
    for (const name of names) {
      const tmp = basename(tempPathFor(join(dir, name)));
      written.push(tmp);
      await writeFileSynced(join(dir, tmp), files[name]);
      next.temps[name] = tmp;
    }
    // the commit: from here on the new generation is the save
    await writeFileAtomic(join(dir, RECORD), `${JSON.stringify(next, null, 2)}\n`);
    committed = true;
    await rollForward(dir, next);
  } catch (e) {
    if (!committed) for (const t of written) await rm(join(dir, t), { force: true }).catch(() => undefined);
    throw e;
  } finally {
    await release();
  }
  await removeLegacySiblings(dir);
}
