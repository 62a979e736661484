import { join } from 'node:path';
import { noGrad } from '@ml/autograd';
import { fromArray, softmax, type Tensor } from '@ml/tensor';
import { loadModel, readSavedFile } from '@ml/train';
import { readGray, toMnist } from './image.js';
import { parseMeta } from './labels.js';

export interface Prediction {
  file: string;
  /** the three likeliest classes, best first; absent when the image could not be read */
  top?: { label: string; probability: number }[];
  error?: string;
}

/**
 * Classify image files with a saved model (loaded once). One file prints its top-3 classes
 * with probabilities; several print a table, a row per file. A file that cannot be read
 * gets its reason in its row and the others are still classified; the run then fails
 * (exit 1) naming how many could not be read.
 */
export async function runPredict(images: readonly string[], modelDir: string): Promise<Prediction[]> {
  const metaFile = join(modelDir, 'labels.json');
  let text: string;
  try {
    // from the same save as the weights (after a crash mid-save too)
    text = await readSavedFile(modelDir, 'labels.json', 'utf8');
  } catch {
    throw new Error(`no trained model in ${modelDir} (run mnist-classifier train --out ${modelDir} first)`);
  }
  const meta = parseMeta(text, metaFile);
  const model = await loadModel(modelDir);
  model.eval();
  const forward = (x: Tensor): Tensor => (model.forward as (x: Tensor) => Tensor).call(model, x);
  const shape = meta.model === 'cnn' ? [1, 1, 28, 28] : [1, 784];
  const results: Prediction[] = [];
  for (const file of images) {
    try {
      const pixels = toMnist(await readGray(file));
      const probs = noGrad(() => softmax(forward(fromArray(pixels, shape)), -1));
      const p = Array.from(await probs.data());
      probs.dispose();
      if (p.length !== meta.labels.length) throw new Error(`the model gives ${p.length} classes but ${metaFile} names ${meta.labels.length}`);
      const top = p
        .map((probability, i) => ({ label: meta.labels[i], probability }))
        .sort((a, b) => b.probability - a.probability)
        .slice(0, 3);
      results.push({ file, top });
    } catch (e) {
      if (images.length === 1) throw e;
      results.push({ file, error: (e as Error).message });
    }
  }
  const pct = (p: number) => `${(100 * p).toFixed(1).padStart(5)}%`;
  if (images.length === 1) {
    const top = results[0].top!;
    console.log(`${images[0]}: ${top[0].label}`);
    for (const t of top) console.log(`  ${t.label.padEnd(10)} ${pct(t.probability)}`);
  } else {
    const w = Math.max(4, ...images.map((f) => f.length));
    console.log(`${'file'.padEnd(w)}  ${'class'.padEnd(10)}  ${'prob'.padStart(6)}  runner-up`);
    for (const r of results) {
      if (r.top === undefined) console.log(`${r.file.padEnd(w)}  error: ${r.error}`);
      else console.log(`${r.file.padEnd(w)}  ${r.top[0].label.padEnd(10)}  ${pct(r.top[0].probability)}  ${r.top[1].label} ${pct(r.top[1].probability).trim()}`);
    }
    const failed = results.filter((r) => r.error !== undefined).length;
    if (failed > 0) throw new Error(`${failed} of ${images.length} images could not be classified (see the table)`);
  }
  return results;
}
