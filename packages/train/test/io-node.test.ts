// One format everywhere: a folder the CLI saved opens from its files in a page, and the
// files a page downloads open as a folder under Node. Node's entry also loads http(s)
// URLs and refuses indexeddb:// clearly.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Linear, ReLU, Sequential, type AnyModule } from '@ml/nn';
import { manualSeed, randn, type Tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { compile, fit, loadModel, modelToBytes, readSavedFile, saveModel } from '../src/index.node.js';

const x = (() => {
  manualSeed(3);
  return randn([16, 2]);
})();
const y = x.narrow(1, 0, 1).mul(2).add(x.narrow(1, 1, 1));
const out = async (m: AnyModule): Promise<number[]> => Array.from(await (m.forward(x as never) as unknown as Tensor).data());

async function trained(): Promise<AnyModule> {
  manualSeed(1);
  const m = new Sequential([new Linear({ inFeatures: 2, outFeatures: 4 }), new ReLU(), new Linear({ inFeatures: 4, outFeatures: 1 })]);
  compile(m, { optimizer: 'adam', lr: 0.05, loss: 'mse' });
  await fit(m, x, y, { epochs: 2, batchSize: 8, verbose: 0, seed: 2 });
  return m;
}

describe('the folder and the page read and write the same files', () => {
  it("a saved folder's files are byte for byte modelToBytes; as Files they load in the browser way", async () => {
    const m = await trained();
    const dir = join(mkdtempSync(join(tmpdir(), 'ml-io-')), 'model');
    await saveModel(m, dir, { files: { 'labels.json': '["x"]' } });
    const bytes = await modelToBytes(m, { files: { 'labels.json': '["x"]' } });
    expect(new Uint8Array(readFileSync(join(dir, 'config.json')))).toEqual(bytes.config);
    expect(new Uint8Array(readFileSync(join(dir, 'model.safetensors')))).toEqual(bytes.weights);
    expect(new Uint8Array(readFileSync(join(dir, 'optimizer.safetensors')))).toEqual(bytes.optimizer);
    expect(await readSavedFile(dir, 'labels.json', 'utf8')).toBe('["x"]');
    const files = ['config.json', 'model.safetensors', 'optimizer.safetensors', 'labels.json'].map((n) => new File([readFileSync(join(dir, n))], n));
    expect(await out(await loadModel(files))).toEqual(await out(m));
  });

  it("files a page downloaded (downloads://name), put in a folder without the prefix, load with loadModel(dir)", async () => {
    const m = await trained();
    const bytes = await modelToBytes(m);
    const dir = mkdtempSync(join(tmpdir(), 'ml-io-'));
    mkdirSync(join(dir, 'from-page'));
    writeFileSync(join(dir, 'from-page', 'config.json'), bytes.config);
    writeFileSync(join(dir, 'from-page', 'model.safetensors'), bytes.weights);
    writeFileSync(join(dir, 'from-page', 'optimizer.safetensors'), bytes.optimizer!);
    const again = await loadModel(join(dir, 'from-page'));
    expect(await out(again)).toEqual(await out(m));
  });

  it('in-memory bytes load under Node as well; indexeddb:// is refused with what to do', async () => {
    const m = await trained();
    expect(await out(await loadModel(await modelToBytes(m)))).toEqual(await out(m));
    await expect(loadModel('indexeddb://m')).rejects.toThrow('loadModel: indexeddb:// needs IndexedDB, which pages and workers have and Node does not; under Node use a folder path');
  });
});
