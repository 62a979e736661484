// Saving never loses a user's data: only the save's own files are written or removed,
// a folder holding other things is refused unless overwrite is passed, and the
// destination can be checked before training (checkSaveTarget).
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Linear } from '@ml/nn';
import { saveSafetensors, tensor } from '@ml/tensor';
import { afterEach, describe, expect, it } from 'vitest';
import * as train from '../src/index.node.js';
import type { AnyModule } from '@ml/nn';

const { compile, loadModel, saveModel, ModelCheckpoint } = train;
// the new API, looked up so that this file also runs (and fails) against the old one
type SaveOptions = { overwrite?: boolean; files?: Record<string, string | Uint8Array> };
const save = saveModel as (m: AnyModule, dir: string, o?: SaveOptions) => Promise<void>;
const api = train as unknown as {
  checkSaveTarget: (dir: string, o?: { overwrite?: boolean }) => Promise<void>;
  readSavedFile: (dir: string, name: string, encoding: 'utf8') => Promise<string>;
};

const tmp = () => mkdtempSync(join(tmpdir(), 'ml-save-'));
/** no process has this id (above Linux's largest) */
const DEAD_PID = 5_000_001;

function model(g: number, compiled = true): AnyModule {
  const m = new Linear({ inFeatures: 2, outFeatures: 1 });
  m.loadStateDict({ weight: tensor([[g, g]]), bias: tensor([g]) });
  if (compiled) compile(m, { optimizer: 'adam', lr: 0.1, loss: 'mse' });
  return m;
}
const weightOf = async (dir: string) => (await (await loadModel(dir)).stateDict().bias.data())[0];
const listing = (dir: string) => readdirSync(dir).sort();

const cwd = process.cwd();
afterEach(() => process.chdir(cwd));

describe('saveModel keeps what is not its own', () => {
  it('refuses a folder holding a user file, naming it, and leaves the file alone', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'thesis.txt'), 'four years of work');
    mkdirSync(join(dir, 'data'));
    await expect(save(model(1), dir)).rejects.toThrow(
      `saveModel: ${dir} already holds files that are not part of a saved model (data/, thesis.txt). Choose an empty or new folder, or pass overwrite: true to save the model next to them (they are left untouched).`,
    );
    expect(readFileSync(join(dir, 'thesis.txt'), 'utf8')).toBe('four years of work');
    expect(listing(dir)).toEqual(['data', 'thesis.txt']);
  });

  it('lists the first five foreign entries and counts the rest', async () => {
    const dir = tmp();
    for (let i = 0; i < 8; i++) writeFileSync(join(dir, `f${i}.txt`), '');
    await expect(save(model(1), dir)).rejects.toThrow(/\(f0\.txt, f1\.txt, f2\.txt, f3\.txt, f4\.txt and 3 more\)/);
    const err = await api.checkSaveTarget(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(train.SaveTargetError);
    expect((err as InstanceType<typeof train.SaveTargetError>).foreign).toHaveLength(8);
  });

  it('with overwrite: true saves next to foreign files and never touches them', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'thesis.txt'), 'four years of work');
    mkdirSync(join(dir, 'data'));
    writeFileSync(join(dir, 'data', 'x.csv'), '1,2');
    await save(model(1), dir, { overwrite: true, files: { 'labels.json': '["a"]' } });
    expect(await weightOf(dir)).toBe(1);
    await save(model(2, false), dir, { overwrite: true });
    expect(await weightOf(dir)).toBe(2);
    expect(readFileSync(join(dir, 'thesis.txt'), 'utf8')).toBe('four years of work');
    expect(readFileSync(join(dir, 'data', 'x.csv'), 'utf8')).toBe('1,2');
    // the second generation has no optimizer state and no labels: those files are gone
    expect(listing(dir)).toEqual(['config.json', 'data', 'ml-save.json', 'model.safetensors', 'thesis.txt']);
  });

  it('saves again into its own folder without overwrite; extra files are part of the generation', async () => {
    const dir = join(tmp(), 'model');
    await save(model(1), dir, { files: { 'labels.json': '{"labels":["cat","dog"]}', 'raw.bin': new Uint8Array([1, 2, 3]) } });
    expect(listing(dir)).toEqual(['config.json', 'labels.json', 'ml-save.json', 'model.safetensors', 'optimizer.safetensors', 'raw.bin']);
    expect(JSON.parse(await api.readSavedFile(dir, 'labels.json', 'utf8'))).toEqual({ labels: ['cat', 'dog'] });
    await save(model(2), dir, { files: { 'labels.json': '{"labels":["x"]}' } });
    expect(await weightOf(dir)).toBe(2);
    expect(listing(dir)).toEqual(['config.json', 'labels.json', 'ml-save.json', 'model.safetensors', 'optimizer.safetensors']);
    expect(readFileSync(join(dir, 'labels.json'), 'utf8')).toBe('{"labels":["x"]}');
    await expect(api.readSavedFile(dir, 'raw.bin', 'utf8')).rejects.toThrow(`readSavedFile: the save in ${dir} has no file 'raw.bin'`);
  });

  it('rejects extra file names that are not plain or are the save own', async () => {
    const dir = tmp();
    await expect(save(model(1), dir, { files: { '../x.json': '' } })).rejects.toThrow(/'\.\.\/x\.json' is not a plain file name/);
    await expect(save(model(1), dir, { files: { 'config.json': '' } })).rejects.toThrow(/'config\.json' is written by the save itself/);
    await expect(save(model(1), dir, { files: { 'a.tmp-12': '' } })).rejects.toThrow(/looks like a temp file/);
    expect(listing(dir)).toEqual([]);
  });

  it('a save from before the commit record (and its labels.json) is the previous generation or foreign', async () => {
    const dir = join(tmp(), 'model');
    await save(model(1), dir);
    rmSync(join(dir, 'ml-save.json')); // the old layout: config.json, model.safetensors, optimizer.safetensors
    expect(await weightOf(dir)).toBe(1);
    await save(model(2), dir); // the old model files are the save's own
    expect(await weightOf(dir)).toBe(2);
    rmSync(join(dir, 'ml-save.json'));
    writeFileSync(join(dir, 'labels.json'), '["old"]'); // written by an app beside the old save
    expect(await api.readSavedFile(dir, 'labels.json', 'utf8')).toBe('["old"]');
    await expect(save(model(3), dir, { files: { 'labels.json': '["new"]' } })).rejects.toThrow(/\(labels\.json\)/);
    await save(model(3), dir, { overwrite: true, files: { 'labels.json': '["new"]' } });
    await save(model(4), dir, { files: { 'labels.json': '["newer"]' } }); // now it is the save's own
    expect(await api.readSavedFile(dir, 'labels.json', 'utf8')).toBe('["newer"]');
  });

  it('the old layout: an interrupted save left <dir>.prev, which loads; the next save removes it', async () => {
    const dir = join(tmp(), 'ckpt');
    await save(model(1), dir);
    renameSync(dir, `${dir}.prev`);
    expect(await weightOf(dir)).toBe(1);
    await save(model(2), dir);
    expect(existsSync(`${dir}.prev`)).toBe(false);
    expect(await weightOf(dir)).toBe(2);
  });

  it('a second save while another live process holds the folder is refused; a dead holder is taken over', async () => {
    const dir = join(tmp(), 'model');
    await save(model(1), dir);
    writeFileSync(join(dir, 'ml-save.lock'), String(process.ppid));
    await expect(save(model(2), dir)).rejects.toThrow(`saveModel: another save into ${dir} is in progress (process ${process.ppid})`);
    writeFileSync(join(dir, 'ml-save.lock'), String(DEAD_PID));
    await save(model(2), dir);
    expect(await weightOf(dir)).toBe(2);
    expect(existsSync(join(dir, 'ml-save.lock'))).toBe(false);
  });

  it('temps left by killed saves are removed; temps of live processes are not', async () => {
    const dir = join(tmp(), 'model');
    await save(model(1), dir);
    writeFileSync(join(dir, `model.safetensors.tmp-${DEAD_PID}-3`), 'partial');
    writeFileSync(join(dir, `labels.json.tmp-${DEAD_PID}-4`), 'partial'); // an extra file of a save killed before its commit
    await save(model(2), dir);
    expect(listing(dir)).toEqual(['config.json', 'ml-save.json', 'model.safetensors', 'optimizer.safetensors']);
    writeFileSync(join(dir, `model.safetensors.tmp-${process.ppid}-3`), 'in flight');
    await expect(save(model(3), dir)).rejects.toThrow(/not part of a saved model \(model\.safetensors\.tmp-/);
  });
});

describe('destinations: checked before training (checkSaveTarget), and saveModel itself', () => {
  it('creates a missing folder and accepts an empty one or a previous save, leaving no probe', async () => {
    const dir = join(tmp(), 'a', 'b');
    await api.checkSaveTarget(dir);
    expect(listing(dir)).toEqual([]);
    await save(model(1), dir);
    await api.checkSaveTarget(dir);
    expect(listing(dir)).toEqual(['config.json', 'ml-save.json', 'model.safetensors', 'optimizer.safetensors']);
  });

  it('a path that is a file, or lies under a file, is rejected', async () => {
    const file = join(tmp(), 'notes.txt');
    writeFileSync(file, 'x');
    await expect(api.checkSaveTarget(file)).rejects.toThrow(`checkSaveTarget: ${file} is not a folder (it is a file); choose a folder to save the model into`);
    await expect(save(model(1), file)).rejects.toThrow(`saveModel: ${file} is not a folder (it is a file)`);
    await expect(api.checkSaveTarget(join(file, 'model'))).rejects.toThrow(`checkSaveTarget: cannot use ${join(file, 'model')} as the folder to save into (ENOTDIR`);
    await expect(api.checkSaveTarget('')).rejects.toThrow('checkSaveTarget: the folder name is empty');
    expect(readFileSync(file, 'utf8')).toBe('x');
  });

  it('a folder that cannot be written is rejected (a read-only folder, or where that does not stop the user, /proc)', async () => {
    const dir = tmp();
    chmodSync(dir, 0o555);
    let writable = true;
    try {
      writeFileSync(join(dir, 'probe'), '');
      rmSync(join(dir, 'probe'));
    } catch {
      writable = false;
    }
    if (!writable) {
      await expect(api.checkSaveTarget(dir)).rejects.toThrow(new RegExp(`^checkSaveTarget: cannot write into ${dir} \\(EACCES.*check its permissions or choose another folder$`));
    }
    chmodSync(dir, 0o755);
    // root writes into read-only folders: a folder no one can create files in
    if (writable && existsSync('/proc/self')) await expect(api.checkSaveTarget('/proc/self')).rejects.toThrow(/^checkSaveTarget: cannot write into \/proc\/self \(E/);
  });

  it('a trailing slash and "." are folders like any other ("." holding the project\'s files is refused)', async () => {
    const dir = join(tmp(), 'm');
    await save(model(1), `${dir}/`);
    await save(model(2), `${dir}/`);
    expect(await weightOf(`${dir}/`)).toBe(2);
    expect(listing(join(dir, '..'))).toEqual(['m']);

    const project = tmp();
    writeFileSync(join(project, 'package.json'), '{}');
    process.chdir(project);
    await expect(api.checkSaveTarget('.')).rejects.toThrow("checkSaveTarget: . already holds files that are not part of a saved model (package.json)");
    await expect(save(model(1), '.')).rejects.toThrow(/^saveModel: \. already holds files/);
    await api.checkSaveTarget('.', { overwrite: true });
    await save(model(3), '.', { overwrite: true });
    expect(await weightOf('.')).toBe(3);
    expect(readFileSync(join(project, 'package.json'), 'utf8')).toBe('{}');

    const empty = tmp();
    process.chdir(empty);
    await save(model(4), '.');
    expect(await weightOf('.')).toBe(4);
  });
});

describe('single-file saves (saveSafetensors, saveWeights, ModelCheckpoint)', () => {
  it('ModelCheckpoint removes temps that killed processes left for any of its files, not others', async () => {
    const dir = tmp();
    const dead = [`w1.safetensors.tmp-${DEAD_PID}-1`, `w3.safetensors.tmp-${DEAD_PID}`, `w2.safetensors.tmp-${DEAD_PID}-1712345678901`];
    const kept = [`w1.safetensors.tmp-${process.ppid}-1`, `notes.txt.tmp-${DEAD_PID}-1`, 'w.safetensors.tmp-x'];
    for (const n of [...dead, ...kept]) writeFileSync(join(dir, n), 'partial');
    const m = model(1);
    const x = tensor([[1, 2]]);
    const y = tensor([[3]]);
    await m.fit(x, y, { epochs: 1, verbose: 0, callbacks: [new ModelCheckpoint(join(dir, 'w{epoch}.safetensors'))] });
    expect(listing(dir)).toEqual([...kept, 'w1.safetensors'].sort());
  });

  it('saveSafetensors removes dead temps of its path once written', async () => {
    const dir = tmp();
    writeFileSync(join(dir, `a.safetensors.tmp-${DEAD_PID}-9`), 'partial');
    await saveSafetensors(join(dir, 'a.safetensors'), { t: tensor([1]) });
    expect(listing(dir)).toEqual(['a.safetensors']);
  });
});
