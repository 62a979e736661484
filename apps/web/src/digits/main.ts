// The Digits page: draw or upload a digit; the CLI's own preprocessing (toMnist) makes the
// 28×28 input, shown beside the model's three likeliest classes.
import { checkImageHeader, decodeJpeg, ImageError, rgbaToGray, toMnist, type Gray } from '@ml/mnist-classifier/preprocess';
import { fetchDigitModel, loadDigitModel, restoreDigitModel, storeDigitModel, type DigitModel } from './model.js';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const pad = $<HTMLCanvasElement>('pad');
const padCtx = pad.getContext('2d', { willReadFrequently: true })!;
const input28 = $<HTMLCanvasElement>('input28').getContext('2d')!;
const message = $<HTMLParagraphElement>('message');
const top3 = $<HTMLOListElement>('top3');
const status = $<HTMLParagraphElement>('model-status');

let model: DigitModel | undefined;
/** whether anything was drawn or shown on the pad since it was cleared */
let padUsed = false;

function say(text: string | undefined): void {
  message.hidden = text === undefined;
  message.textContent = text ?? '';
}

function showInput(pixels: Float64Array): void {
  const img = input28.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = Math.round(255 * pixels[i]);
    img.data.set([v, v, v, 255], 4 * i);
  }
  input28.putImageData(img, 0, 0);
}

function showTop3(p: number[], labels: readonly string[]): void {
  const top = p
    .map((probability, i) => ({ label: labels[i], probability }))
    .sort((a, b) => b.probability - a.probability)
    .slice(0, 3);
  top3.replaceChildren(
    ...top.map((t) => {
      const item = document.createElement('li');
      item.dataset.label = t.label;
      item.dataset.probability = String(t.probability);
      const name = Object.assign(document.createElement('span'), { textContent: t.label });
      const bar = document.createElement('div');
      bar.className = 'bar';
      bar.style.width = `${(100 * t.probability).toFixed(1)}%`;
      bar.setAttribute('role', 'presentation');
      const pct = Object.assign(document.createElement('span'), { textContent: `${(100 * t.probability).toFixed(1)}%` });
      item.append(name, Object.assign(document.createElement('div'), { className: 'track' }), pct);
      item.children[1].append(bar);
      return item;
    }),
  );
}

/** Preprocess (as the CLI's predict does) and classify; `source` names what was classified. */
async function classify(gray: Gray, source: string): Promise<void> {
  let pixels: Float64Array;
  try {
    pixels = toMnist(gray);
  } catch (e) {
    if (!(e instanceof ImageError)) throw e;
    top3.replaceChildren();
    input28.clearRect(0, 0, 28, 28);
    say(`${source}: ${e.message}`);
    return;
  }
  showInput(pixels);
  if (model === undefined) {
    say('The model is not loaded yet.');
    return;
  }
  const p = await model.probabilities(pixels);
  say(undefined);
  showTop3(p, model.meta.labels);
  document.body.dataset.predicted = source;
}

const padGray = (): Gray => {
  const { data, width, height } = padCtx.getImageData(0, 0, pad.width, pad.height);
  return rgbaToGray(data, width, height);
};

function classifyPad(): Promise<void> {
  if (!padUsed) {
    say('The canvas is empty: draw a digit on it first (or upload an image).');
    top3.replaceChildren();
    return Promise.resolve();
  }
  return classify(padGray(), 'The drawing');
}

// predictions while drawing, at most one per animation frame
let pending = 0;
const schedule = () => {
  if (pending !== 0) return;
  pending = requestAnimationFrame(() => {
    pending = 0;
    classifyPad().catch(report);
  });
};

function clearPad(): void {
  padCtx.fillStyle = '#fff';
  padCtx.fillRect(0, 0, pad.width, pad.height);
  padUsed = false;
  top3.replaceChildren();
  input28.clearRect(0, 0, 28, 28);
  say(undefined);
  delete document.body.dataset.predicted;
}

// drawing with pointer events: mouse, touch and pen alike
let last: [number, number] | undefined;
const at = (e: PointerEvent): [number, number] => {
  const r = pad.getBoundingClientRect();
  return [((e.clientX - r.left) / r.width) * pad.width, ((e.clientY - r.top) / r.height) * pad.height];
};
pad.addEventListener('pointerdown', (e) => {
  pad.setPointerCapture(e.pointerId);
  last = at(e);
  padCtx.fillStyle = '#000';
  padCtx.beginPath();
  padCtx.arc(last[0], last[1], 11, 0, 2 * Math.PI);
  padCtx.fill();
  padUsed = true;
  schedule();
});
pad.addEventListener('pointermove', (e) => {
  if (last === undefined) return;
  const p = at(e);
  padCtx.strokeStyle = '#000';
  padCtx.lineWidth = 22;
  padCtx.lineCap = 'round';
  padCtx.lineJoin = 'round';
  padCtx.beginPath();
  padCtx.moveTo(last[0], last[1]);
  padCtx.lineTo(p[0], p[1]);
  padCtx.stroke();
  last = p;
  schedule();
});
const end = () => {
  if (last !== undefined) schedule();
  last = undefined;
};
pad.addEventListener('pointerup', end);
pad.addEventListener('pointercancel', end);

/**
 * Decode an uploaded PNG or JPEG, its size checked from its header first (a small file can
 * declare a huge image). A JPEG goes through the CLI's own decoder (decodeJpeg: browsers
 * round differently); a PNG, exact in any decoder, through the browser's.
 */
async function readUpload(file: File): Promise<Gray> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const { kind } = checkImageHeader(bytes, file.name);
  const damaged = (e?: unknown) => new ImageError(`${file.name}: cannot decode ${kind === 'png' ? 'PNG' : 'JPEG'}${e instanceof Error ? `: ${e.message}` : ': the file is damaged'}`);
  let canvas: OffscreenCanvas;
  let rgba: Uint8ClampedArray | Uint8Array;
  if (kind === 'jpeg') {
    let img: { width: number; height: number; data: Uint8Array };
    try {
      img = decodeJpeg(bytes);
    } catch (e) {
      throw damaged(e);
    }
    canvas = new OffscreenCanvas(img.width, img.height);
    canvas.getContext('2d')!.putImageData(new ImageData(Uint8ClampedArray.from(img.data), img.width, img.height), 0, 0);
    rgba = img.data;
  } else {
    let bitmap: ImageBitmap;
    try {
      // no colour management or premultiplication: the file's own pixel values, as the CLI decodes them
      bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }), { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
    } catch {
      throw damaged();
    }
    canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const c = canvas.getContext('2d', { willReadFrequently: true })!;
    c.drawImage(bitmap, 0, 0);
    bitmap.close();
    rgba = c.getImageData(0, 0, canvas.width, canvas.height).data;
  }
  // the image on the pad too, fitted, so the user sees what was read
  clearPad();
  const k = Math.min(pad.width / canvas.width, pad.height / canvas.height);
  padCtx.drawImage(canvas, (pad.width - k * canvas.width) / 2, (pad.height - k * canvas.height) / 2, k * canvas.width, k * canvas.height);
  padUsed = true;
  return rgbaToGray(rgba, canvas.width, canvas.height);
}

$<HTMLInputElement>('upload').addEventListener('change', (e) => {
  const file = (e.target as HTMLInputElement).files?.[0];
  if (file === undefined) return;
  readUpload(file)
    .then((gray) => classify(gray, file.name))
    .catch((err: unknown) => {
      if (!(err instanceof ImageError)) throw err;
      top3.replaceChildren();
      say(err.message);
    })
    .catch(report);
});

function useModel(m: DigitModel, description: string): void {
  model = m;
  status.textContent = description;
  document.body.dataset.model = 'ready';
  if (padUsed) schedule();
}

$<HTMLInputElement>('model-files').addEventListener('change', (e) => {
  const files = Array.from((e.target as HTMLInputElement).files ?? []);
  const labels = files.find((f) => f.name === 'labels.json' || f.name.endsWith('.labels.json'));
  if (labels === undefined) {
    say(`Choose the files of a saved model together: config.json, model.safetensors and labels.json (got ${files.map((f) => f.name).join(', ') || 'none'}).`);
    return;
  }
  labels
    .text()
    .then((text) => loadDigitModel(files, text))
    .then((m) => {
      say(undefined);
      useModel(m, `Model: your ${m.meta.model.toUpperCase()} (${m.meta.dataset}), from your files.`);
    })
    .catch((err: unknown) => say(`That model cannot be used: ${(err as Error).message}`));
});

$('save-browser').addEventListener('click', () => {
  if (model === undefined) return;
  storeDigitModel(model)
    .then((url) => {
      status.textContent = `Saved the model in this browser (${url}).`;
      document.body.dataset.saved = url;
    })
    .catch((err: unknown) => say(`Could not save the model in this browser: ${(err as Error).message}`));
});

$('load-browser').addEventListener('click', () => {
  restoreDigitModel()
    .then((m) => {
      say(undefined);
      useModel(m, `Model: the ${m.meta.model.toUpperCase()} saved in this browser.`);
      document.body.dataset.loaded = 'indexeddb';
    })
    .catch((err: unknown) => say(`Could not load a model from this browser: ${(err as Error).message}`));
});

$('clear').addEventListener('click', clearPad);
$('classify').addEventListener('click', () => void classifyPad().catch(report));

function report(e: unknown): void {
  console.error(e);
  say(`Something went wrong: ${(e as Error).message}`);
}

clearPad();
fetchDigitModel(new URL('model/', document.baseURI).href)
  .then((m) => {
    useModel(m, `Model: the ${m.meta.model.toUpperCase()} the build trained on ${m.meta.dataset === 'mnist' ? 'MNIST' : 'Fashion-MNIST'} with the command line.`);
    // milliseconds from navigation to a usable model (the tests report it)
    document.body.dataset.modelMs = String(Math.round(performance.now()));
  })
  .catch((e: unknown) => {
    status.textContent = (e as Error).message;
    status.className = 'message';
  });
