import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { noGrad } from '@ml/autograd';
import { fromArray, softmax } from '@ml/tensor';
import { loadModel } from '@ml/train';
import { readGray, toMnist } from './image.js';
import { DIGITS } from './train.js';

interface Meta {
  dataset: string;
  model: 'mlp' | 'cnn';
  labels: string[];
}

/** Classify one image file with a saved model; prints the top-3 classes with probabilities. */
export async function runPredict(imagePath: string, modelDir: string): Promise<{ label: string; probability: number }[]> {
  let meta: Meta = { dataset: 'mnist', model: 'mlp', labels: DIGITS };
  try {
    meta = JSON.parse(await readFile(join(modelDir, 'labels.json'), 'utf8')) as Meta;
  } catch {
    throw new Error(`no trained model in ${modelDir} (run mnist-classifier train --out ${modelDir} first)`);
  }
  const model = await loadModel(modelDir);
  const pixels = toMnist(await readGray(imagePath));
  const shape = meta.model === 'cnn' ? [1, 1, 28, 28] : [1, 784];
  model.eval();
  const probs = noGrad(() => softmax((model.forward as (x: ReturnType<typeof fromArray>) => ReturnType<typeof fromArray>)(fromArray(pixels, shape)), -1));
  const p = Array.from(await probs.data());
  const top = p
    .map((probability, i) => ({ label: meta.labels[i], probability }))
    .sort((a, b) => b.probability - a.probability)
    .slice(0, 3);
  console.log(`${imagePath}: ${top[0].label}`);
  for (const t of top) console.log(`  ${t.label.padEnd(10)} ${(100 * t.probability).toFixed(1).padStart(5)}%`);
  return top;
}
