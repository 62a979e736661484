/**
 * A digit model in the page: the three files `mnist-classifier train` saves (config.json,
 * model.safetensors, labels.json) rebuilt with @ml/nn, and the same forward pass and
 * softmax as the CLI's `predict`.
 */
import { noGrad } from '@ml/autograd';
import { parseMeta, type ModelMeta } from '@ml/mnist-classifier/labels';
import { moduleFromConfig, type AnyModule, type ModuleConfig } from '@ml/nn';
import { fromArray, parseSafetensors, parseSafetensorsHeader, softmax, type Tensor } from '@ml/tensor';

export interface DigitModel {
  meta: ModelMeta;
  /** class probabilities of one 28×28 input in [0, 1], in label order */
  probabilities(pixels: Float64Array): Promise<number[]>;
}

export interface ModelFiles {
  config: string;
  weights: Uint8Array;
  labels: string;
}

/** Build the model; every failure names the file at fault. */
export function buildDigitModel(files: ModelFiles): DigitModel {
  const meta = parseMeta(files.labels, 'labels.json');
  let config: { architecture?: unknown };
  try {
    config = JSON.parse(files.config) as { architecture?: unknown };
  } catch {
    throw new Error('config.json is not valid JSON');
  }
  if (typeof config !== 'object' || config === null || typeof config.architecture !== 'object' || config.architecture === null) {
    throw new Error('config.json has no architecture: choose the config.json that mnist-classifier train saved');
  }
  let numElements: number;
  try {
    numElements = parseSafetensorsHeader(files.weights).numElements;
  } catch (e) {
    throw new Error(`model.safetensors: ${(e as Error).message}`);
  }
  // the architecture may not ask for more parameters than the weights file holds
  const model: AnyModule = moduleFromConfig(config.architecture as ModuleConfig, { path: 'architecture', maxStateElements: numElements });
  const { tensors } = parseSafetensors(files.weights);
  try {
    model.loadStateDict(tensors);
  } catch (e) {
    model.dispose();
    throw new Error(`model.safetensors does not fit config.json: ${(e as Error).message}`);
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
  model.eval();
  const forward = (x: Tensor): Tensor => (model.forward as (x: Tensor) => Tensor).call(model, x);
  const shape = meta.model === 'cnn' ? [1, 1, 28, 28] : [1, 784];
  return {
    meta,
    async probabilities(pixels) {
      const probs = noGrad(() => softmax(forward(fromArray(pixels, shape)), -1));
      const p = Array.from(await probs.data());
      probs.dispose();
      if (p.length !== meta.labels.length) throw new Error(`the model gives ${p.length} classes but labels.json names ${meta.labels.length}`);
      return p;
    },
  };
}

/** The model the build trained, served beside the page under model/. */
export async function fetchDigitModel(base: string): Promise<DigitModel> {
  const get = async (name: string): Promise<Response> => {
    const r = await fetch(new URL(name, base));
    if (!r.ok) throw new Error(`cannot load ${name} of the built-in model (HTTP ${r.status}); the build trains it: run the web app's build`);
    return r;
  };
  const [config, weights, labels] = await Promise.all([get('config.json').then((r) => r.text()), get('model.safetensors').then((r) => r.arrayBuffer()), get('labels.json').then((r) => r.text())]);
  return buildDigitModel({ config, weights: new Uint8Array(weights), labels });
}
