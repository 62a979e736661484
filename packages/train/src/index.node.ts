/**
 * @ml/train under Node (the "node" export condition, or '@ml/train/node'): everything of
 * the main entry, plus what needs Node under the same names: saving to and loading from
 * folders (`saveModel` / `loadModel` with a path, `checkSaveTarget`, `readSavedFile`),
 * `ModelCheckpoint` and `CSVLogger` writing files, and the terminal `ProgressBar` that
 * `fit` shows by default. `fit` does not yield to the event loop here unless asked.
 */
import { ProgressBar } from './callbacks-node.js';
import { folderIO } from './persist.js';
import { platform } from './platform.js';

platform.progress = () => new ProgressBar();
platform.yieldEvery = 0;
platform.directory = folderIO;
platform.entry = 'node';

export * from './index.js';
export { checkSaveTarget, readSavedFile } from './model-dir.js';
export { ModelCheckpoint, CSVLogger, ProgressBar } from './callbacks-node.js';
