// Saving and loading through the browser entry (what a page or a worker imports), run in
// Node: in-memory bytes, handlers, File objects, fetch from a local server, downloads with
// a stand-in document, and the refusals. IndexedDB runs in Chromium (browser.test.ts).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolveObjectURL } from 'node:buffer';
import { Linear, ReLU, Sequential, moduleToConfig, registerModuleClass, type AnyModule } from '@ml/nn';
import { manualSeed, memory, randn, type Tensor } from '@ml/tensor';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ModelFileError, compile, fit, loadArtifacts, loadModel, modelToBytes, optimizerOf, saveModel, type ModelArtifacts } from '../src/index.js';

const x = (() => {
  manualSeed(3);
  return randn([16, 2]);
})();
const y = x.narrow(1, 0, 1).mul(2).add(x.narrow(1, 1, 1));

async function trained(): Promise<AnyModule> {
  manualSeed(1);
  const m = new Sequential([new Linear({ inFeatures: 2, outFeatures: 4 }), new ReLU(), new Linear({ inFeatures: 4, outFeatures: 1 })]);
  compile(m, { optimizer: 'adam', lr: 0.05, loss: 'mse' });
  await fit(m, x, y, { epochs: 2, batchSize: 8, verbose: 0, seed: 2 });
  return m;
}
const out = async (m: AnyModule): Promise<number[]> => Array.from(await (m.forward(x as never) as unknown as Tensor).data());
const adamState = async (m: AnyModule): Promise<number[]> => {
  const st = optimizerOf(m).stateDict() as unknown as { state: Record<string, Record<string, Tensor | number>> };
  const vals: number[] = [];
  for (const e of Object.values(st.state)) for (const v of Object.values(e)) vals.push(...(typeof v === 'number' ? [v] : Array.from(await v.data())));
  return vals;
};
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

let model: AnyModule;
let bytes: ModelArtifacts;
beforeAll(async () => {
  model = await trained();
  bytes = await modelToBytes(model, { files: { 'labels.json': '["a","b"]' } });
});

describe('in-memory bytes', () => {
  it('modelToBytes gives the files of a folder: config.json, model.safetensors, optimizer.safetensors, extras as bytes', () => {
    expect(JSON.parse(text(bytes.config)).format).toBe('ml-model/1');
    expect(text(bytes.weights.subarray(8, 8 + 20))).toMatch(/^\{/); // safetensors: u64 header length, then JSON
    expect(bytes.optimizer).toBeInstanceOf(Uint8Array);
    expect(Object.keys(bytes.files)).toEqual(['labels.json']);
    expect(text(bytes.files['labels.json'])).toBe('["a","b"]');
  });

  it('loadModel(bytes) rebuilds the same outputs and the optimizer state (compiled as saved)', async () => {
    const again = await loadModel(bytes);
    expect(await out(again)).toEqual(await out(model));
    expect(await adamState(again)).toEqual(await adamState(model));
  });

  it('a handler object gets the files on save and returns them on load', async () => {
    let kept: ModelArtifacts | null = null;
    await saveModel(model, { save: async (a) => void (kept = a) }, { files: { 'notes.txt': 'hi' } });
    expect(Object.keys(kept!.files)).toEqual(['notes.txt']);
    const again = await loadModel({ load: async () => kept! });
    expect(await out(again)).toEqual(await out(model));
  });

  it('truncated weights: a ModelFileError, and no tensors are left behind', async () => {
    const before = memory().numTensors;
    await expect(loadModel({ ...bytes, weights: bytes.weights.subarray(0, bytes.weights.length - 7) })).rejects.toThrow(ModelFileError);
    await expect(loadModel({ ...bytes, config: bytes.config.subarray(0, 30) })).rejects.toThrow(/loadModel: config\.json is not valid JSON/);
    expect(memory().numTensors).toBe(before);
  });

  it('weights of another architecture are refused', async () => {
    const other = await modelToBytes(new Linear({ inFeatures: 2, outFeatures: 1 }));
    await expect(loadModel({ config: bytes.config, weights: other.weights })).rejects.toThrow(/loadModel: (config\.json|model\.safetensors)/);
  });
});

describe('File objects (<input type="file" multiple>)', () => {
  const asFiles = (a: ModelArtifacts, prefix = ''): File[] => [
    new File([a.config as Uint8Array<ArrayBuffer>], `${prefix}config.json`),
    new File([a.weights as Uint8Array<ArrayBuffer>], `${prefix}model.safetensors`),
    new File([a.optimizer! as Uint8Array<ArrayBuffer>], `${prefix}optimizer.safetensors`),
  ];

  it('loads the files by name, in any order, with the plain names or those downloads:// gives (name.config.json)', async () => {
    for (const files of [asFiles(bytes), asFiles(bytes, 'mnist.').reverse()]) {
      const again = await loadModel(files);
      expect(await out(again)).toEqual(await out(model));
      expect(await adamState(again)).toEqual(await adamState(model));
    }
  });

  it('without optimizer.safetensors: the weights load, the optimizer starts fresh', async () => {
    const again = await loadModel(asFiles(bytes).slice(0, 2));
    expect(await out(again)).toEqual(await out(model));
  });

  it('refuses a missing file, two candidates, and files of two saves', async () => {
    await expect(loadModel(asFiles(bytes).slice(1))).rejects.toThrow(
      'loadModel: config.json is missing: none of the files given (model.safetensors, optimizer.safetensors) is named config.json or <name>.config.json',
    );
    await expect(loadModel([...asFiles(bytes, 'a.'), ...asFiles(bytes, 'b.')])).rejects.toThrow(
      'loadModel: config.json is ambiguous: more than one of the files given is named so (a.config.json, b.config.json); give the files of one model',
    );
    const mixed = [...asFiles(bytes, 'a.').slice(0, 1), ...asFiles(bytes, 'b.').slice(1, 2)];
    await expect(loadModel(mixed)).rejects.toThrow('loadModel: model.safetensors is from another save than a.config.json: b.model.safetensors');
    await expect(loadModel([])).rejects.toThrow("loadModel: no files given; choose the model's config.json and model.safetensors (and optimizer.safetensors when it has one)");
    await expect(loadModel(new Blob([bytes.config as Uint8Array<ArrayBuffer>]))).rejects.toThrow(/config\.json is missing.*\(a Blob without a name\)/);
  });

  it('a truncated file is a ModelFileError naming it', async () => {
    const files = asFiles(bytes);
    files[1] = new File([bytes.weights.subarray(0, 100) as Uint8Array<ArrayBuffer>], 'model.safetensors');
    const e = await loadModel(files).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(ModelFileError);
    expect((e as ModelFileError).file).toBe('model.safetensors');
  });
});

describe('http(s) and relative URLs (fetch)', () => {
  let server: Server;
  let base: string;
  const served: Record<string, Uint8Array | number> = {};
  const requested: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      requested.push(req.url ?? '');
      const body = served[req.url ?? ''];
      if (body === undefined) res.writeHead(404).end();
      else if (typeof body === 'number') res.writeHead(body).end();
      else res.writeHead(200, { 'Content-Type': 'application/octet-stream' }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    served['/models/m/config.json'] = bytes.config;
    served['/models/m/model.safetensors'] = bytes.weights;
    served['/models/m/optimizer.safetensors'] = bytes.optimizer!;
    served['/models/no-opt/config.json'] = bytes.config;
    served['/models/no-opt/model.safetensors'] = bytes.weights;
    served['/models/cut/config.json'] = bytes.config;
    served['/models/cut/model.safetensors'] = bytes.weights.subarray(0, bytes.weights.length >> 1);
    served['/models/err/config.json'] = bytes.config;
    served['/models/err/model.safetensors'] = 500;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  afterEach(() => {
    delete (globalThis as { location?: unknown }).location;
  });

  it('loads the folder from …/m, …/m/ or …/m/config.json, with the optimizer state', async () => {
    for (const url of [`${base}/models/m`, `${base}/models/m/`, `${base}/models/m/config.json`]) {
      const again = await loadModel(url);
      expect(await out(again)).toEqual(await out(model));
      expect(await adamState(again)).toEqual(await adamState(model));
    }
  });

  it('resolves a relative URL against the page', async () => {
    (globalThis as { location?: unknown }).location = { href: `${base}/app/index.html` };
    requested.length = 0;
    await expect(loadModel('../models/m/')).resolves.toBeDefined();
    expect(requested.sort()).toEqual(['/models/m/config.json', '/models/m/model.safetensors', '/models/m/optimizer.safetensors']);
  });

  it('a server without optimizer.safetensors (404) still gives the weights', async () => {
    expect(await out(await loadModel(`${base}/models/no-opt/`))).toEqual(await out(model));
  });

  it('refuses a missing folder, a server error and a truncated download, naming the file and URL', async () => {
    await expect(loadModel(`${base}/models/none/`)).rejects.toThrow(
      `loadModel: config.json cannot be fetched from ${base}/models/none/config.json (HTTP 404 Not Found; is ${base}/models/none/ the folder of a saved model?)`,
    );
    await expect(loadModel(`${base}/models/err`)).rejects.toThrow(`loadModel: model.safetensors cannot be fetched from ${base}/models/err/model.safetensors (HTTP 500 Internal Server Error)`);
    const e = await loadModel(`${base}/models/cut`).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(ModelFileError);
    expect((e as ModelFileError).file).toBe('model.safetensors');
  });

  it('a relative URL with no page to resolve it against is refused', async () => {
    await expect(loadModel('models/m')).rejects.toThrow("loadModel: 'models/m' is a relative URL, and there is no page to resolve it against; give an absolute http(s):// URL");
  });
});

describe('downloads://', () => {
  afterEach(() => {
    delete (globalThis as { document?: unknown }).document;
  });

  it('downloads each file through an <a download>, named <name>.<file>; they load back as Files', async () => {
    const clicked: { name: string; url: string }[] = [];
    (globalThis as { document?: unknown }).document = {
      createElement: () => {
        const a = { href: '', download: '', click: () => clicked.push({ name: a.download, url: a.href }), remove: () => undefined };
        return a;
      },
      body: { appendChild: () => undefined },
    };
    await saveModel(model, 'downloads://mnist', { files: { 'labels.json': '[1]' } });
    expect(clicked.map((c) => c.name)).toEqual(['mnist.config.json', 'mnist.model.safetensors', 'mnist.optimizer.safetensors', 'mnist.labels.json']);
    const files = await Promise.all(clicked.map(async (c) => new File([new Uint8Array(await resolveObjectURL(c.url)!.arrayBuffer())], c.name)));
    expect(await out(await loadModel(files))).toEqual(await out(model));
    clicked.length = 0;
    await saveModel(new Linear({ inFeatures: 1, outFeatures: 1 }), 'downloads://');
    expect(clicked.map((c) => c.name)).toEqual(['config.json', 'model.safetensors']);
  });

  it('needs a document', async () => {
    await expect(saveModel(model, 'downloads://m')).rejects.toThrow('saveModel: downloads:// needs a page (a document); in a worker, post modelToBytes(model) to the page and save it there');
  });
});

describe('what the browser entry refuses', () => {
  it('a folder path, with what to use instead', async () => {
    await expect(saveModel(model, 'my-model')).rejects.toThrow(
      "saveModel: 'my-model' is a folder path, and saving to a folder needs Node (this is @ml/train's browser entry). In a page save to 'indexeddb://name' or 'downloads://name', or get the files with modelToBytes(model).",
    );
  });

  it('indexeddb:// where there is no IndexedDB (Node), unknown schemes, loading from downloads://', async () => {
    await expect(saveModel(model, 'indexeddb://m')).rejects.toThrow('saveModel: indexeddb:// needs IndexedDB, which pages and workers have and Node does not; under Node use a folder path');
    await expect(loadModel('indexeddb://m')).rejects.toThrow(/^loadModel: indexeddb:\/\/ needs IndexedDB/);
    await expect(saveModel(model, 'indexeddb://')).rejects.toThrow("saveModel: 'indexeddb://' names no model; write indexeddb://<name>");
    await expect(saveModel(model, 'https://example.com/m')).rejects.toThrow(/saveModel: cannot save to 'https:\/\/example\.com\/m'/);
    await expect(loadModel('ftp://example.com/m')).rejects.toThrow(/loadModel: cannot load from 'ftp:\/\/example\.com\/m'/);
    await expect(loadModel('downloads://m')).rejects.toThrow(/loadModel: downloads:\/\/ only saves/);
    await expect(loadArtifacts(42 as never)).rejects.toThrow(TypeError);
  });

  it('the node-only names exist and say what to use', async () => {
    const train = await import('../src/index.js');
    await expect(train.checkSaveTarget('d')).rejects.toThrow(/checkSaveTarget needs Node's file system or terminal, and this is @ml\/train's browser entry .*indexeddb:\/\/name/);
    await expect(train.readSavedFile('d', 'x')).rejects.toThrow(/readSavedFile needs Node/);
    expect(() => new train.ModelCheckpoint('w.safetensors')).toThrow(/ModelCheckpoint needs Node/);
    expect(() => new train.CSVLogger('log.csv')).toThrow(/CSVLogger needs Node/);
    expect(() => new train.ProgressBar()).toThrow(/ProgressBar needs Node/);
  });
});

describe('configs survive a minifier renaming classes', () => {
  it('records the registered name, not constructor.name', async () => {
    const original = Object.getOwnPropertyDescriptor(Linear, 'name')!;
    Object.defineProperty(Linear, 'name', { value: 'a' });
    Object.defineProperty(ReLU, 'name', { value: 'b' });
    try {
      const m = new Sequential([new Linear({ inFeatures: 2, outFeatures: 3 }), new ReLU()]);
      const cfg = moduleToConfig(m);
      expect(cfg.layers!.map((l) => l.className)).toEqual(['Linear', 'ReLU']);
      const again = await loadModel(await modelToBytes(m));
      expect(await out(again)).toEqual(await out(m));
    } finally {
      Object.defineProperty(Linear, 'name', original);
      Object.defineProperty(ReLU, 'name', { value: 'ReLU' });
    }
  });

  it('a subclass is saved under its own registered name, never as its parent; an unregistered one is refused', async () => {
    class Scaled extends Linear {}
    Object.defineProperty(Scaled, 'name', { value: 'e' }); // what a minifier leaves
    expect(() => moduleToConfig(new Scaled({ inFeatures: 1, outFeatures: 1 }))).toThrow(/moduleToConfig: e is not registered; call registerModuleClass\(e\)/);
    registerModuleClass(Scaled, 'ScaledLinearForIoTest');
    const m = new Scaled({ inFeatures: 2, outFeatures: 1 });
    expect(moduleToConfig(m).className).toBe('ScaledLinearForIoTest');
    const again = await loadModel(await modelToBytes(m));
    expect(again).toBeInstanceOf(Scaled);
    expect(await out(again)).toEqual(await out(m));
  });
});
