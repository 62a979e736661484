/**
 * The Digits page's model module (apps/web/src/digits/model.ts) written with TensorFlow.js
 * 4.22 instead of @ml, for the page-size comparison of web-size.mjs: the same interface,
 * the same files (the mnist-classifier save: config.json, model.safetensors, labels.json),
 * the same forward pass and softmax, kept in IndexedDB with TF.js's own handler. Only the
 * MLP the web build trains is supported (Linear, ReLU, Dropout in a Sequential).
 */
import * as tf from '@tensorflow/tfjs';
import { parseMeta, type ModelMeta } from '@ml/mnist-classifier/labels';

export interface DigitModel {
  meta: ModelMeta;
  module: tf.LayersModel;
  probabilities(pixels: Float64Array): Promise<number[]>;
}

interface Layer {
  className: string;
  config: { inFeatures?: number; outFeatures?: number };
}

/** Tensors of a safetensors file: an 8-byte little-endian header length, a JSON header, the data. */
function readSafetensors(bytes: Uint8Array): Map<string, { shape: number[]; data: Float32Array }> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (t.dtype !== 'F32') throw new Error(`${name}: only F32 tensors are read here`);
    const [a, b] = t.data_offsets;
    out.set(name, { shape: t.shape, data: new Float32Array(bytes.slice(8 + n + a, 8 + n + b).buffer) });
  }
  return out;
}

function build(config: string, weights: Uint8Array): tf.LayersModel {
  const layers = (JSON.parse(config) as { architecture: { config: { layers: Layer[] } } }).architecture.config.layers;
  const tensors = readSafetensors(weights);
  const model = tf.sequential();
  layers.forEach((layer, i) => {
    if (layer.className === 'Linear') {
      const { inFeatures = 0, outFeatures = 0 } = layer.config;
      model.add(tf.layers.dense({ units: outFeatures, inputShape: i === 0 ? [inFeatures] : undefined }));
      const w = tensors.get(`${i}.weight`);
      const b = tensors.get(`${i}.bias`);
      if (!w || !b) throw new Error(`model.safetensors lacks ${i}.weight or ${i}.bias`);
      // PyTorch's [out, in] is TF.js's [in, out]
      model.layers[model.layers.length - 1].setWeights([tf.tensor2d(w.data, [outFeatures, inFeatures]).transpose(), tf.tensor1d(b.data)]);
    } else if (layer.className === 'ReLU') model.add(tf.layers.activation({ activation: 'relu' }));
    else if (layer.className === 'Dropout') model.add(tf.layers.dropout({ rate: 0 }));
    else throw new Error(`layer ${layer.className} is not supported by this comparison page`);
  });
  return model;
}

function wrap(module: tf.LayersModel, meta: ModelMeta): DigitModel {
  return {
    meta,
    module,
    async probabilities(pixels) {
      const probs = tf.tidy(() => tf.softmax(module.predict(tf.tensor2d(Float32Array.from(pixels), [1, 784])) as tf.Tensor));
      const p = Array.from(await probs.data());
      probs.dispose();
      return p;
    },
  };
}

export async function loadDigitModel(source: { config: string; weights: Uint8Array }, labels: string): Promise<DigitModel> {
  return wrap(build(source.config, source.weights), parseMeta(labels, 'labels.json'));
}

export async function fetchDigitModel(folder: string): Promise<DigitModel> {
  const get = async (name: string): Promise<Response> => {
    const r = await fetch(new URL(name, folder));
    if (!r.ok) throw new Error(`cannot load ${name} (HTTP ${r.status})`);
    return r;
  };
  const [config, weights, labels] = await Promise.all([get('config.json').then((r) => r.text()), get('model.safetensors').then((r) => r.arrayBuffer()), get('labels.json').then((r) => r.text())]);
  return loadDigitModel({ config, weights: new Uint8Array(weights) }, labels);
}

const STORED = 'indexeddb://digits';
const LABELS_KEY = 'ml-web:digits:labels.json';

export async function storeDigitModel(model: DigitModel): Promise<string> {
  await model.module.save(STORED);
  localStorage.setItem(LABELS_KEY, JSON.stringify(model.meta));
  return STORED;
}

export async function restoreDigitModel(): Promise<DigitModel> {
  const labels = localStorage.getItem(LABELS_KEY);
  if (labels === null) throw new Error('no model is saved in this browser yet');
  return wrap(await tf.loadLayersModel(STORED), parseMeta(labels, 'labels.json'));
}
