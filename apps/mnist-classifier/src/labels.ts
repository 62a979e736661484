/** The classes of the two datasets, in label order, and the `labels.json` a saved model carries. */
export const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
export const FASHION = ['T-shirt', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Boot'];

/** What `labels.json` beside a saved model says: the dataset, the architecture and the class names. */
export interface ModelMeta {
  dataset: 'mnist' | 'fashion-mnist';
  model: 'mlp' | 'cnn';
  labels: string[];
}

/** `labels.json` for a model trained on `dataset`. */
export function metaFor(fashion: boolean, model: 'mlp' | 'cnn'): ModelMeta {
  return { dataset: fashion ? 'fashion-mnist' : 'mnist', model, labels: fashion ? FASHION : DIGITS };
}

/**
 * Check a `labels.json` read from a model folder (which may come from anyone): the fields
 * and their types, ten labels, each printable text of at most 40 characters (no control
 * characters, which could drive the terminal), naming the field that is wrong.
 */
export function parseMeta(text: string, file: string): ModelMeta {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error(`${file} is not valid JSON`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${file} must hold an object with dataset, model and labels`);
  const o = raw as Record<string, unknown>;
  const field = (name: string): unknown => (Object.hasOwn(o, name) ? o[name] : undefined);
  const dataset = field('dataset');
  if (dataset !== 'mnist' && dataset !== 'fashion-mnist') throw new Error(`${file}: dataset must be "mnist" or "fashion-mnist"`);
  const model = field('model');
  if (model !== 'mlp' && model !== 'cnn') throw new Error(`${file}: model must be "mlp" or "cnn"`);
  const labels = field('labels');
  if (!Array.isArray(labels) || labels.length !== 10) throw new Error(`${file}: labels must be a list of 10 class names`);
  labels.forEach((l: unknown, i) => {
    // eslint-disable-next-line no-control-regex
    if (typeof l !== 'string' || l.length === 0 || l.length > 40 || /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(l)) {
      throw new Error(`${file}: labels[${i}] must be printable text of 1 to 40 characters`);
    }
  });
  return { dataset, model, labels: labels as string[] };
}
