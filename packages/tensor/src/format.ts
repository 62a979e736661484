import type { Tensor } from './tensor.js';

const EDGE = 3;
const THRESHOLD = 1000;

/** PyTorch-style printing: `tensor([[1., 2.],\n        [3., 4.]])`. */
export function formatTensor(t: Tensor): string {
  if (t.isDisposed) return `tensor(<disposed>, shape=[${t.shape.join(', ')}], dtype=${t.dtype})`;
  if (!t.backend.readSync) {
    return `tensor(<on ${t.backend.name}: await t.data() to read>, shape=[${t.shape.join(', ')}], dtype=${t.dtype})`;
  }
  const data = t.dataSync();
  const summarize = t.size > THRESHOLD;
  const fmtNum = numberFormatter(t, data, summarize);
  const prefix = 'tensor(';
  const body = t.ndim === 0 ? fmtNum(data[0]) : formatDim(t.shape, data, 0, 0, prefix.length + 1, fmtNum, summarize);
  const extras: string[] = [];
  if (t.ndim > 0 && t.size === 0) extras.push(`size=(${t.shape.join(', ')})`);
  if (t.dtype !== 'float32' && t.dtype !== 'bool') extras.push(`dtype=${t.dtype}`);
  if (t.gradNode) extras.push(`gradFn=<${t.gradNode.op}>`);
  else if (t.requiresGrad) extras.push('requiresGrad=true');
  return `${prefix}${body}${extras.length ? `, ${extras.join(', ')}` : ''})`;
}

function numberFormatter(t: Tensor, data: ArrayLike<number>, summarize: boolean): (v: number) => string {
  if (t.dtype === 'bool') {
    const width = sample(data, summarize).some((v) => !v) ? 5 : 4;
    return (v) => (v ? 'true' : 'false').padStart(width);
  }
  if (t.dtype === 'int32') {
    const width = Math.max(1, ...sample(data, summarize).map((v) => String(v).length));
    return (v) => String(v).padStart(width);
  }
  const finite = sample(data, summarize).filter(Number.isFinite);
  const allInt = finite.every((v) => Number.isInteger(v));
  const maxAbs = Math.max(0, ...finite.map(Math.abs));
  const minAbs = Math.min(...finite.filter((v) => v !== 0).map(Math.abs), Infinity);
  const sci = finite.length > 0 && (maxAbs >= 1e8 || (minAbs < 1e-4 && minAbs !== Infinity) || (allInt ? false : maxAbs / minAbs > 1000 && maxAbs >= 1e3));
  let f: (v: number) => string;
  if (sci) f = (v) => v.toExponential(4).replace(/e([+-])(\d)$/, 'e$10$2');
  else if (allInt) f = (v) => `${v.toFixed(0)}.`;
  else f = (v) => v.toFixed(4);
  const text = (v: number) => (Number.isNaN(v) ? 'nan' : v === Infinity ? 'inf' : v === -Infinity ? '-inf' : f(v));
  const width = Math.max(1, ...sample(data, summarize).map((v) => text(v).length));
  return (v) => text(v).padStart(width);
}

function sample(data: ArrayLike<number>, summarize: boolean): number[] {
  const arr = Array.from(data as ArrayLike<number>);
  return summarize ? [...arr.slice(0, EDGE * 10), ...arr.slice(-EDGE * 10)] : arr;
}

function formatDim(
  shape: readonly number[],
  data: ArrayLike<number>,
  dim: number,
  offset: number,
  indent: number,
  fmtNum: (v: number) => string,
  summarize: boolean,
): string {
  const n = shape[dim];
  const step = shape.slice(dim + 1).reduce((a, b) => a * b, 1);
  const idx = summarize && n > 2 * EDGE ? [...range(0, EDGE), -1, ...range(n - EDGE, n)] : range(0, n);
  if (dim === shape.length - 1) {
    return `[${idx.map((i) => (i < 0 ? '...' : fmtNum(data[offset + i]))).join(', ')}]`;
  }
  const rows = idx.map((i) => (i < 0 ? '...' : formatDim(shape, data, dim + 1, offset + i * step, indent + 1, fmtNum, summarize)));
  const sep = `,${'\n'.repeat(shape.length - dim - 1)}${' '.repeat(indent)}`;
  return `[${rows.join(sep)}]`;
}

function range(a: number, b: number): number[] {
  return Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);
}

/**
 * A short, bounded rendering of an untrusted value (a field of a file being loaded) for an
 * error message: numbers as they are (±Infinity and NaN too, which JSON writes as null),
 * anything else as JSON cut to 40 characters, so a message never echoes a file's contents.
 */
export function quoteValue(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'number') return String(v);
  let s: string;
  try {
    s = JSON.stringify(v) ?? typeof v;
  } catch {
    s = typeof v;
  }
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}
