/**
 * The Node entry's names in the browser entry: the same exports (so code and types are
 * the same everywhere), each failing with a message that says what to use instead.
 */
import { Callback } from './callbacks.js';
import type { CSVLogger as NodeCSVLogger, ModelCheckpoint as NodeModelCheckpoint, ProgressBar as NodeProgressBar } from './callbacks-node.js';
import type { checkSaveTarget as nodeCheckSaveTarget, readSavedFile as nodeReadSavedFile } from './model-dir.js';

const needsNode = (what: string, instead: string): Error =>
  new Error(`${what} needs Node's file system or terminal, and this is @ml/train's browser entry (Node picks the other by the "node" export condition, or import '@ml/train/node'). ${instead}`);

const SAVE_INSTEAD = "In a page, save to 'indexeddb://name' or 'downloads://name' with saveModel.";

export const checkSaveTarget: typeof nodeCheckSaveTarget = async () => {
  throw needsNode('checkSaveTarget', SAVE_INSTEAD);
};

export const readSavedFile: typeof nodeReadSavedFile = async () => {
  throw needsNode('readSavedFile', 'In a page, loadArtifacts(source) returns the files of a save.');
};

/** A callback class that cannot be built here. */
function unavailable(what: string, instead: string): new (...args: never[]) => Callback {
  return class extends Callback {
    constructor() {
      super();
      throw needsNode(what, instead);
    }
  };
}

export const ModelCheckpoint = unavailable('ModelCheckpoint', `${SAVE_INSTEAD} A LambdaCallback({ onEpochEnd }) can do it each epoch.`) as unknown as typeof NodeModelCheckpoint;
export type ModelCheckpoint = NodeModelCheckpoint;
export const CSVLogger = unavailable('CSVLogger', 'In a page, collect the logs with a LambdaCallback({ onEpochEnd }).') as unknown as typeof NodeCSVLogger;
export type CSVLogger = NodeCSVLogger;
export const ProgressBar = unavailable('ProgressBar', 'In a page, draw progress with a LambdaCallback({ onBatchEnd, onEpochEnd }).') as unknown as typeof NodeProgressBar;
export type ProgressBar = NodeProgressBar;
