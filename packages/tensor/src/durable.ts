/**
 * Durable file writes (Node): the helpers behind every save in the toolkit
 * (`saveSafetensors`, `Module.saveWeights`, @ml/train's `saveModel` and `ModelCheckpoint`).
 *
 * A file is replaced atomically by writing a temporary sibling `<file>.tmp-<pid>-<n>`,
 * flushing it to disk (fsync), renaming it over `<file>` and flushing the directory, so
 * that after a crash or power loss `<file>` holds either the old or the new bytes. Temps
 * left by processes that were killed while writing are removed by the next successful
 * write of the same file: a temp is only ever removed when the process named in it is no
 * longer alive, so two live processes writing the same path never remove each other's.
 */
import type * as FsPromises from 'node:fs/promises';

type Fs = typeof FsPromises;

let fsModule: Promise<Fs> | null = null;
const fs = (): Promise<Fs> => (fsModule ??= import('node:fs/promises'));

const pid = (): number => (globalThis as { process?: { pid?: number } }).process?.pid ?? 0;
let counter = 0;

/** `<name>.tmp-<pid>` or `<name>.tmp-<pid>-<anything>`: the temp of `<name>` written by process `<pid>`. */
const TEMP = /^(.+)\.tmp-(\d+)(?:-[^/\\]*)?$/;

/** The name of a fresh temp sibling of `path`, unique within this process. */
export function tempPathFor(path: string): string {
  return `${path}.tmp-${pid()}-${++counter}`;
}

/**
 * When `name` is a temp written by `tempPathFor` (or an older `<file>.tmp-<pid>…` name),
 * the file it stands for and the writer's process id; otherwise null.
 */
export function parseTempName(name: string): { target: string; pid: number } | null {
  const m = TEMP.exec(name);
  return m ? { target: m[1], pid: Number(m[2]) } : null;
}

/** Whether a process with this id is running (ours counts as running). */
export function isProcessAlive(id: number): boolean {
  if (id === pid()) return true;
  if (!(Number.isSafeInteger(id) && id > 0)) return false;
  try {
    (globalThis as unknown as { process: { kill(pid: number, signal: number): void } }).process.kill(id, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to another user
    return (e as { code?: string }).code === 'EPERM';
  }
}

const dirOf = (path: string): string => {
  const i = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return i < 0 ? '.' : i === 0 ? path.slice(0, 1) : path.slice(0, i);
};
const baseOf = (path: string): string => path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);

/**
 * Flush a directory's entries (the names created, renamed or removed in it) to disk.
 * Platforms that cannot open or flush a directory (Windows) make this a no-op.
 */
export async function syncDirectory(dir: string): Promise<void> {
  const { open } = await fs();
  let fh: Awaited<ReturnType<Fs['open']>>;
  try {
    fh = await open(dir, 'r');
  } catch (e) {
    if (ignorableDirSyncError(e)) return;
    throw e;
  }
  try {
    await fh.sync();
  } catch (e) {
    if (!ignorableDirSyncError(e)) throw e;
  } finally {
    await fh.close();
  }
}

function ignorableDirSyncError(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === 'EISDIR' || code === 'EPERM' || code === 'EACCES' || code === 'EINVAL' || code === 'ENOTSUP' || code === 'EBADF';
}

/** Create `path` with exactly these bytes and flush them to disk; fails if `path` exists. */
export async function writeFileSynced(path: string, data: string | Uint8Array): Promise<void> {
  const { open } = await fs();
  const fh = await open(path, 'wx');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Replace `path` with `data` atomically and durably: a temp sibling written and flushed,
 * renamed over `path`, then the directory flushed. Afterwards temps of `path` left by
 * processes that are no longer running are removed.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const { rename, rm } = await fs();
  const tmp = tempPathFor(path);
  try {
    await writeFileSynced(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  await syncDirectory(dirOf(path));
  await removeStaleTemps(dirOf(path), (name) => name === baseOf(path));
}

/**
 * Remove the temps in `dir` (`<name>.tmp-<pid>…`) whose `<name>` passes `isTarget` and whose
 * writer is no longer running. Returns the names removed. Errors (a temp already gone, a
 * directory that cannot be listed) are ignored: this is tidying, not part of a save.
 */
export async function removeStaleTemps(dir: string, isTarget: (name: string) => boolean): Promise<string[]> {
  const { readdir, rm } = await fs();
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const t = parseTempName(name);
    if (!t || !isTarget(t.target) || isProcessAlive(t.pid)) continue;
    try {
      await rm(`${dir}/${name}`, { force: true });
      removed.push(name);
    } catch {
      // a directory by that name, or gone already
    }
  }
  return removed;
}
