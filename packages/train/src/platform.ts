/**
 * What differs between the entries: the browser-safe main entry (pages, workers, any
 * bundler) and the Node entry (the `node` export condition, `@ml/train/node`), which
 * installs a terminal progress bar, folder saving and loading, and no yielding by default.
 */
import { EpochLogger, type Callback } from './callbacks.js';
import type { ModelArtifacts, SavedModelFiles } from './saved-config.js';
import type { YieldEvery } from './yield.js';

/** Saving to and loading from a folder of the file system (Node). */
export interface DirectoryIO {
  save(dir: string, artifacts: ModelArtifacts, options: { overwrite?: boolean }): Promise<void>;
  load(dir: string): Promise<SavedModelFiles>;
}

export interface Platform {
  /** the progress callback `fit` adds for `verbose` 1 or 2 */
  progress(verbose: 1 | 2): Callback | null;
  /** `fit`'s default `yieldEvery`, and how `evaluate` and `predict` yield */
  yieldEvery: YieldEvery;
  /** folder IO, where there is a file system */
  directory: DirectoryIO | null;
  /** the entry's name, for messages */
  entry: 'browser' | 'node';
}

/** The browser-safe defaults; the Node entry replaces them when it is imported. */
export const platform: Platform = {
  progress: () => new EpochLogger(),
  yieldEvery: 'auto',
  directory: null,
  entry: 'browser',
};
