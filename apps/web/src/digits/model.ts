/**
 * A digit model in the page: a save of `mnist-classifier train` (config.json,
 * model.safetensors, labels.json) loaded with @ml/train's loadModel from any source (a URL,
 * the user's files, IndexedDB), and the same forward pass and softmax as the CLI's `predict`.
 */
import { noGrad } from '@ml/autograd';
import { parseMeta, type ModelMeta } from '@ml/mnist-classifier/labels';
import type { AnyModule } from '@ml/nn';
import { fromArray, softmax, type Tensor } from '@ml/tensor';
import { loadModel, saveModel, type LoadSource } from '@ml/train';

export interface DigitModel {
  meta: ModelMeta;
  module: AnyModule;
  /** class probabilities of one 28×28 input in [0, 1], in label order */
  probabilities(pixels: Float64Array): Promise<number[]>;
}

/** Load the model from `source` (checked before anything is built) with its labels.json text. */
export async function loadDigitModel(source: LoadSource, labels: string): Promise<DigitModel> {
  const meta = parseMeta(labels, 'labels.json');
  const module = await loadModel(source);
  module.eval();
  const forward = (x: Tensor): Tensor => (module.forward as (x: Tensor) => Tensor).call(module, x);
  const shape = meta.model === 'cnn' ? [1, 1, 28, 28] : [1, 784];
  return {
    meta,
    module,
    async probabilities(pixels) {
      const probs = noGrad(() => softmax(forward(fromArray(pixels, shape)), -1));
      const p = Array.from(await probs.data());
      probs.dispose();
      if (p.length !== meta.labels.length) throw new Error(`the model gives ${p.length} classes but labels.json names ${meta.labels.length}`);
      return p;
    },
  };
}

/**
 * The model the build trained, served beside the page under model/: its three files
 * fetched here (loadModel's URL source would also ask for optimizer.safetensors, which the
 * site leaves out, and the browser logs that 404) and given to loadModel as bytes.
 */
export async function fetchDigitModel(folder: string): Promise<DigitModel> {
  const get = async (name: string): Promise<Response> => {
    const r = await fetch(new URL(name, folder));
    if (!r.ok) throw new Error(`cannot load ${name} of the built-in model (HTTP ${r.status}); the build trains it: run the web app's build`);
    return r;
  };
  const [config, weights, labels] = await Promise.all([get('config.json').then((r) => r.text()), get('model.safetensors').then((r) => r.arrayBuffer()), get('labels.json').then((r) => r.text())]);
  return loadDigitModel({ config, weights: new Uint8Array(weights) }, labels);
}

const STORED = 'indexeddb://digits';
const LABELS_KEY = 'ml-web:digits:labels.json';

/** Keep the model in this browser: IndexedDB through saveModel, its labels beside it in localStorage. */
export async function storeDigitModel(model: DigitModel): Promise<string> {
  await saveModel(model.module, STORED);
  localStorage.setItem(LABELS_KEY, JSON.stringify(model.meta));
  return STORED;
}

/** The model kept by storeDigitModel, or a clear error when there is none. */
export async function restoreDigitModel(): Promise<DigitModel> {
  const labels = localStorage.getItem(LABELS_KEY);
  if (labels === null) throw new Error('no model is saved in this browser yet: press "Save in this browser" first');
  return loadDigitModel(STORED, labels);
}
