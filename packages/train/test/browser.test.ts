// @ml/train's browser entry in a real browser (Debian's Chromium through playwright-core):
// the README's page example, IndexedDB, a model the CLI saved opening in the page (served
// and picked with a file input), and files the page downloaded opening under Node.
// Skipped where Chromium is not installed (CI installs it).
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { Linear, ReLU, Sequential, type AnyModule } from '@ml/nn';
import { manualSeed, randn, tensor, type Tensor } from '@ml/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// the browser kit's source, run by vitest as it is (a test helper of this repository, not a dependency)
import { CHROMIUM, hasChromium, launchChromium, servePage, type Browser, type Page, type PageServer } from '../../../tooling/browser-kit/src/index.js';
import type * as Nn from '@ml/nn';
import type * as T from '@ml/tensor';
import type * as Train from '../src/index.js';
import { compile, fit, loadModel, saveModel } from '../src/index.node.js';

/** What the page puts on `window.ml`: the packages, loaded as ES modules from their dist/. */
interface Ml {
  train: typeof Train;
  nn: typeof Nn;
  T: typeof T;
}

/** The bits of IndexedDB the test uses to plant a foreign record (no DOM types here). */
interface RawIdb {
  open(name: string, version: number): {
    result: { transaction(store: string, mode: 'readwrite'): { objectStore(name: string): { put(v: unknown, key: string): void }; oncomplete: () => void; onerror: () => void; error: unknown }; close(): void };
    error: unknown;
    onsuccess: () => void;
    onerror: () => void;
  };
}

const here = dirname(fileURLToPath(import.meta.url));
const mods = join(here, '../node_modules/@ml');
const PAGE = `<!doctype html>
<input type="file" id="files" multiple>
<script type="importmap">{ "imports": {
  "@ml/tensor": "/tensor/index.js", "@ml/tensor/backend": "/tensor/backend.js", "@ml/autograd": "/autograd/index.js", "@ml/nn": "/nn/index.js", "@ml/optim": "/optim/index.js"
} }</script>
<script type="module">
  import * as train from '/train/index.js';
  import * as nn from '@ml/nn';
  import * as T from '@ml/tensor';
  window.ml = { train, nn, T };
</script>`;

/** A fixed input, the same in Node and in the page. */
const INPUT = [
  [0.1, -0.2],
  [0.5, 0.3],
  [-0.7, 0.9],
  [1.5, -1.1],
];
/**
 * A Web Worker that trains and posts its progress to the page, stops when the page posts
 * 'stop', and posts the trained model's files (bundled by esbuild as a page's bundler
 * would: the browser entry, no import map in workers).
 */
const WORKER = `
import { Linear, ReLU, Sequential } from '@ml/nn';
import { manualSeed, randn } from '@ml/tensor';
import { LambdaCallback, modelToBytes } from '@ml/train';
const stop = new AbortController();
self.onmessage = (e) => { if (e.data === 'stop') stop.abort(); };
manualSeed(5);
const x = randn([512, 2]);
const y = x.narrow(1, 0, 1).mul(x.narrow(1, 1, 1)).gt(0).cast('int32').reshape([512]);
const model = new Sequential([new Linear({ inFeatures: 2, outFeatures: 16 }), new ReLU(), new Linear({ inFeatures: 16, outFeatures: 2 })]);
model.compile({ optimizer: 'adam', lr: 0.01, loss: 'cross_entropy', metrics: ['accuracy'] });
const progress = new LambdaCallback({ onEpochEnd: (epoch, logs) => self.postMessage({ epoch, loss: logs.loss }) });
let stopped = false;
try {
  await model.fit(x, y, { epochs: 100000, batchSize: 16, verbose: 0, signal: stop.signal, callbacks: [progress] });
} catch (e) {
  if (e.name !== 'AbortError') throw e;
  stopped = true;
}
const files = await modelToBytes(model);
self.postMessage({ stopped, files }, [files.config.buffer, files.weights.buffer, files.optimizer.buffer]);
`;

const outputs = async (m: AnyModule): Promise<number[]> => Array.from(await (m.forward(tensor(INPUT) as never) as unknown as Tensor).data());

describe.skipIf(!hasChromium())(`in Chromium (${CHROMIUM})`, () => {
  let browser: Browser;
  let server: PageServer;
  let cliModel: AnyModule;
  let cliDir: string;

  beforeAll(async () => {
    // the model "the CLI trained": trained and saved by Node's entry into a folder
    manualSeed(7);
    const x = randn([128, 2]);
    const y = x.narrow(1, 0, 1).mul(x.narrow(1, 1, 1)).gt(0).cast('int32').reshape([128]);
    cliModel = new Sequential([new Linear({ inFeatures: 2, outFeatures: 8 }), new ReLU(), new Linear({ inFeatures: 8, outFeatures: 2 })]);
    compile(cliModel, { optimizer: 'adam', lr: 0.01, loss: 'cross_entropy', metrics: ['accuracy'] });
    await fit(cliModel, x, y, { epochs: 3, batchSize: 32, verbose: 0, seed: 1 });
    const tmp = mkdtempSync(join(tmpdir(), 'ml-browser-'));
    cliDir = join(tmp, 'mnist');
    mkdirSync(join(tmp, 'worker'));
    const bundle = await build({
      stdin: { contents: WORKER, resolveDir: join(here, '..'), loader: 'js' },
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      conditions: ['browser'],
      logLevel: 'silent',
    });
    writeFileSync(join(tmp, 'worker', 'train.js'), bundle.outputFiles[0].text);
    await saveModel(cliModel, cliDir, { files: { 'labels.json': '["different","same"]' } });
    server = await servePage(PAGE, {
      '/train/': join(here, '../dist'),
      '/tensor/': join(mods, 'tensor/dist'),
      '/autograd/': join(mods, 'autograd/dist'),
      '/nn/': join(mods, 'nn/dist'),
      '/optim/': join(mods, 'optim/dist'),
      '/models/mnist/': cliDir,
      '/worker/': join(tmp, 'worker'),
    });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  async function open(): Promise<Page> {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.base}/`);
    await page.waitForFunction(() => 'ml' in globalThis, undefined, { timeout: 30_000 }).catch(() => {
      throw new Error(`the page did not load its modules: ${errors.join('; ')}`);
    });
    return page;
  }

  it("the README's page example: fit with progress callbacks, stopped by an AbortSignal from an event; IndexedDB; the CLI's folder served next to the page", async () => {
    const page = await open();
    const r = await page.evaluate(async (input) => {
      const { train, nn, T } = (globalThis as unknown as { ml: Ml }).ml;
      const { Linear, ReLU, Sequential } = nn;
      const { LambdaCallback, loadModel, saveModel } = train;
      const { randn } = T;
      const out = async (m: { forward(x: unknown): unknown }) => Array.from(await (m.forward(T.tensor(input)) as { data(): Promise<ArrayLike<number>> }).data());
      // --- the README's example, line for line (the Stop button is a timer here) ---
      const x = randn([256, 2]);
      const y = x.narrow(1, 0, 1).mul(x.narrow(1, 1, 1)).gt(0).cast('int32').reshape([256]);
      const model = new Sequential([new Linear({ inFeatures: 2, outFeatures: 16 }), new ReLU(), new Linear({ inFeatures: 16, outFeatures: 2 })]);
      model.compile({ optimizer: 'adam', lr: 0.01, loss: 'cross_entropy', metrics: ['accuracy'] });

      const stop = new AbortController();
      let batches = 0;
      let epochs = 0;
      setTimeout(() => stop.abort(), 30); // what a click on Stop does, while fit runs
      const progress = new LambdaCallback({
        onBatchEnd: () => void batches++,
        onEpochEnd: () => void epochs++,
      });
      let stopped = false;
      try {
        await model.fit(x, y, { epochs: 1000, batchSize: 32, verbose: 0, signal: stop.signal, callbacks: [progress] });
      } catch (e) {
        if ((e as Error).name !== 'AbortError') throw e;
        stopped = true;
      }
      await saveModel(model, 'indexeddb://two-classes');
      const again = await loadModel('indexeddb://two-classes');
      const fromServer = await loadModel('models/mnist/');
      // --- checks ---
      return {
        stopped,
        batches,
        epochs,
        same: JSON.stringify(await out(again)) === JSON.stringify(await out(model)),
        listed: await train.listIndexedDbModels(),
        fromServer: await out(fromServer),
      };
    }, INPUT);
    expect(r.stopped).toBe(true);
    expect(r.batches).toBeGreaterThan(0);
    expect(r.epochs).toBeLessThan(1000);
    expect(r.same).toBe(true);
    expect(r.listed).toContain('two-classes');
    const expected = await outputs(cliModel);
    r.fromServer.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 6));
  });

  it("IndexedDB: a missing name, a record that is not a save and a deleted model are refused with what happened", async () => {
    const page = await open();
    const r = await page.evaluate(async () => {
      const { train, nn } = (globalThis as unknown as { ml: Ml }).ml;
      const msg = (p: Promise<unknown>) => p.then(() => 'loaded', (e: Error) => `${e.name}: ${e.message}`);
      await train.saveModel(new nn.Linear({ inFeatures: 2, outFeatures: 1 }), 'indexeddb://gone');
      await train.deleteIndexedDbModel('indexeddb://gone');
      // a foreign record in the store
      await new Promise<void>((resolve, reject) => {
        const open = (globalThis as unknown as { indexedDB: RawIdb }).indexedDB.open('ml-models', 1);
        open.onsuccess = () => {
          const tx = open.result.transaction('models', 'readwrite');
          tx.objectStore('models').put({ format: 'ml-idb/1', config: 'not bytes' }, 'odd');
          tx.oncomplete = () => {
            open.result.close();
            resolve();
          };
          tx.onerror = () => reject(tx.error);
        };
        open.onerror = () => reject(open.error);
      });
      return {
        missing: await msg(train.loadModel('indexeddb://nothing')),
        deleted: await msg(train.loadModel('indexeddb://gone')),
        odd: await msg(train.loadModel('indexeddb://odd')),
        folder: await msg(train.saveModel(new nn.Linear({ inFeatures: 1, outFeatures: 1 }), 'my-model')),
      };
    });
    expect(r.missing).toBe("ModelFileError: loadModel: indexeddb://nothing is missing: no model is saved under that name in this site's IndexedDB");
    expect(r.deleted).toBe("ModelFileError: loadModel: indexeddb://gone is missing: no model is saved under that name in this site's IndexedDB");
    expect(r.odd).toBe('ModelFileError: loadModel: indexeddb://odd is not a model saved by saveModel (its IndexedDB record has another shape)');
    expect(r.folder).toMatch(/^Error: saveModel: 'my-model' is a folder path, and saving to a folder needs Node/);
  });

  it("the CLI's folder picked with <input type=\"file\" multiple> opens in the page", async () => {
    const page = await open();
    await page.setInputFiles('#files', readdirSync(cliDir).filter((n) => !n.startsWith('ml-save')).map((n) => join(cliDir, n)));
    const r = await page.evaluate(async (input) => {
      const { train, T } = (globalThis as unknown as { ml: Ml }).ml;
      const doc = (globalThis as unknown as { document: { getElementById(id: string): { files: ArrayLike<Blob> } } }).document;
      const files = doc.getElementById('files').files;
      const model = await train.loadModel(files);
      return Array.from(await (model.forward(T.tensor(input) as never) as unknown as { data(): Promise<ArrayLike<number>> }).data());
    }, INPUT);
    const expected = await outputs(cliModel);
    r.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 6));
  });

  it('files the page downloads (downloads://name) open under Node from a folder, trained state and all', async () => {
    const page = await open();
    const dir = mkdtempSync(join(tmpdir(), 'ml-downloads-'));
    const got: string[] = [];
    const saved: Promise<void>[] = [];
    page.on('download', (d) => {
      got.push(d.suggestedFilename());
      // a downloads folder holds many models: strip the name to make the model's folder
      saved.push(d.saveAs(join(dir, 'model', d.suggestedFilename().replace(/^page-model\./, ''))));
    });
    mkdirSync(join(dir, 'model'));
    const pageOut = await page.evaluate(async (input) => {
      const { train, nn, T } = (globalThis as unknown as { ml: Ml }).ml;
      T.manualSeed(3);
      const model = new nn.Sequential([new nn.Linear({ inFeatures: 2, outFeatures: 4 }), new nn.ReLU(), new nn.Linear({ inFeatures: 4, outFeatures: 2 })]);
      model.compile({ optimizer: 'adam', lr: 0.05, loss: 'cross_entropy' });
      const x = T.randn([64, 2]);
      await model.fit(x, x.narrow(1, 0, 1).gt(0).cast('int32').reshape([64]), { epochs: 2, verbose: 0 });
      await train.saveModel(model, 'downloads://page-model', { files: { 'labels.json': '["neg","pos"]' } });
      return Array.from(await (model.forward(T.tensor(input) as never) as unknown as { data(): Promise<ArrayLike<number>> }).data());
    }, INPUT);
    const deadline = Date.now() + 20_000;
    while (got.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await Promise.all(saved);
    expect(got.sort()).toEqual(['page-model.config.json', 'page-model.labels.json', 'page-model.model.safetensors', 'page-model.optimizer.safetensors']);
    const model = await loadModel(join(dir, 'model'));
    (await outputs(model)).forEach((v, i) => expect(v).toBeCloseTo(pageOut[i], 6));
  });

  it('trains in a Web Worker: progress posted to the page, stopped by a message, the model posted back as bytes', async () => {
    const page = await open();
    const r = await page.evaluate(async (input) => {
      const { train, T } = (globalThis as unknown as { ml: Ml }).ml;
      type Msg = { epoch: number; loss: number } | { stopped: boolean; files: Parameters<typeof train.loadModel>[0] };
      const W = (globalThis as unknown as { Worker: new (url: string, o: { type: 'module' }) => { postMessage(m: unknown): void; onmessage: (e: { data: Msg }) => void; onerror: (e: { message: string }) => void } }).Worker;
      const worker = new W('/worker/train.js', { type: 'module' });
      const losses: number[] = [];
      const done = await new Promise<{ stopped: boolean; files: Parameters<typeof train.loadModel>[0] }>((resolve, reject) => {
        worker.onerror = (e) => reject(new Error(e.message));
        worker.onmessage = ({ data }) => {
          if ('epoch' in data) {
            losses.push(data.loss);
            if (losses.length === 3) worker.postMessage('stop'); // the page's Stop button
          } else resolve(data);
        };
      });
      const model = await train.loadModel(done.files);
      return {
        stopped: done.stopped,
        epochs: losses.length,
        falling: losses[losses.length - 1] < losses[0],
        out: Array.from(await (model.forward(T.tensor(input) as never) as unknown as { data(): Promise<ArrayLike<number>> }).data()),
      };
    }, INPUT);
    expect(r.stopped).toBe(true);
    expect(r.epochs).toBeGreaterThanOrEqual(3);
    expect(r.epochs).toBeLessThan(100);
    expect(r.falling).toBe(true);
    expect(r.out).toHaveLength(8);
  });
});
