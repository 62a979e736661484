// The Digits page's starting model, trained by the CLI at build time (no trained binary
// in git): `mnist-classifier train` on MNIST into trained-model/ (the CLI's save, which
// `mnist-classifier predict --model-dir` reads), then the three files the page needs copied
// into public/model/, which Vite copies into dist/model/. A model already trained is kept
// (delete trained-model/, or set ML_WEB_RETRAIN=1, to train again).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath, URL } from 'node:url';

const out = fileURLToPath(new URL('../trained-model/', import.meta.url));
const served = fileURLToPath(new URL('../public/model/', import.meta.url));
const cli = fileURLToPath(new URL('../node_modules/@ml/mnist-classifier/dist/main.js', import.meta.url));

if (existsSync(`${out}config.json`) && process.env.ML_WEB_RETRAIN !== '1') {
  console.log('web: keeping the trained model in public/model/ (ML_WEB_RETRAIN=1 trains again)');
} else {
  rmSync(out, { recursive: true, force: true });
  // an MLP, 3 epochs over MNIST: about 97% test accuracy in a few seconds of training
  const args = [cli, 'train', '--model', 'mlp', '--epochs', '3', '--seed', '1', '--verbose', '0', '--out', out];
  const t0 = Date.now();
  const run = spawnSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (run.status !== 0) {
    console.error(run.stdout);
    console.error(`web: training the Digits model failed (exit ${run.status}): node ${args.join(' ')}`);
    process.exit(1);
  }
  const accuracy = /Test accuracy: [\d.]+%/.exec(run.stdout)?.[0] ?? 'test accuracy not reported';
  console.log(`web: trained the Digits model (MLP, 3 epochs) in ${((Date.now() - t0) / 1000).toFixed(1)} s; ${accuracy}`);
}
rmSync(served, { recursive: true, force: true });
mkdirSync(served, { recursive: true });
for (const name of ['config.json', 'model.safetensors', 'labels.json']) copyFileSync(`${out}${name}`, `${served}${name}`);

