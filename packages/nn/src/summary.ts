import { noGrad } from '@ml/autograd';
import { checkOptions, isFloat, isTensor, tidy, zeros, type DType, type Tensor, optionKeys } from '@ml/tensor';
import { build, isBuilt, type AnyModule } from './module.js';
import { formatSymbolicShape, type SymbolicShape, type SymbolicTensor } from './symbolic.js';

export interface SummaryOptions {
  /**
   * shape of one input sample without the batch dim (or one per input), to show output
   * shapes of models not built with `input()` whose first layer does not declare it
   * (`inputShape`, `inputDim`, a Linear's `inFeatures`)
   */
  inputShape?: readonly number[] | readonly (readonly number[])[];
  /** dtype of the probe input(s) (default float32; int32 for embeddings) */
  inputDtype?: DType;
  /** where the table goes (default console.log); null to only return it */
  printFn?: ((line: string) => void) | null;
}

interface Row {
  name: string;
  type: string;
  shape: string;
  params: number;
  connected?: string;
}

interface GraphLike {
  readonly inputs: readonly SymbolicTensor[];
  readonly outputs: readonly SymbolicTensor[];
  readonly calls: readonly { layer: AnyModule; inputs: readonly SymbolicTensor[]; outputs: SymbolicTensor[] }[];
}

function isGraph(m: unknown): m is GraphLike {
  return typeof m === 'object' && m !== null && 'calls' in m && 'inputs' in m && 'outputs' in m;
}

/** Parameter elements of a layer plus its floating-point buffers (Keras counts moving stats as params). */
function countOf(m: AnyModule, seen: Set<Tensor>): { trainable: number; frozen: number } {
  let trainable = 0;
  let frozen = 0;
  for (const p of m.parameters()) {
    if (seen.has(p)) continue;
    seen.add(p);
    if (p.requiresGrad) trainable += p.size;
    else frozen += p.size;
  }
  for (const [, b] of m.namedBuffers({ persistentOnly: true })) {
    if (seen.has(b) || !isFloat(b.dtype)) continue;
    seen.add(b);
    frozen += b.size;
  }
  return { trainable, frozen };
}

/**
 * Symbolic output shape of each direct child, from two probe runs (batch 2 and 3) with
 * each child's `forward` wrapped to record its outputs. Eval mode, no gradients.
 */
function probeChildShapes(model: AnyModule, inputShapes: readonly (readonly number[])[], dtype: DType): Map<AnyModule, string> {
  const children = model.children();
  const runs = [2, 3].map((batch) => {
    const seen = new Map<AnyModule, number[][]>();
    const modes = model.modules().map((m) => [m, m.training] as const);
    model.eval();
    const originals = children.map((c) => {
      const own = Object.prototype.hasOwnProperty.call(c, 'forward');
      const f = c.forward;
      (c as { forward: unknown }).forward = (...a: unknown[]) => {
        const out = (f as (...args: unknown[]) => unknown).apply(c, a);
        const outs = (Array.isArray(out) ? out : [out]).filter(isTensor);
        if (!seen.has(c)) seen.set(c, outs.map((t) => [...t.shape]));
        return out;
      };
      return { c, own, f };
    });
    try {
      tidy(() => noGrad(() => {
        const xs = inputShapes.map((s) => zeros([batch, ...s], { dtype }));
        (model.forward as (...a: Tensor[]) => unknown)(...xs);
      }));
    } finally {
      for (const { c, own, f } of originals) {
        if (own) (c as { forward: unknown }).forward = f;
        else delete (c as { forward?: unknown }).forward;
      }
      for (const [m, t] of modes) m.training = t;
    }
    return seen;
  });
  const shapes = new Map<AnyModule, string>();
  for (const [c, a] of runs[0]) {
    const b = runs[1].get(c);
    const sym = a.map((s, i) => s.map((d, j) => (b && b[i] && d !== b[i][j] ? null : d)) as SymbolicShape);
    shapes.set(c, sym.map(formatSymbolicShape).join(', '));
  }
  return shapes;
}

const fmtInt = (n: number): string => n.toLocaleString('en-US');

/**
 * Keras's model summary: one row per layer with its name and type, output shape and
 * parameter count, then total, trainable and non-trainable parameter counts.
 * Functional models also list what each layer is connected to.
 */
const SUMMARY_KEYS = optionKeys<SummaryOptions>()(['inputShape', 'inputDtype', 'printFn']);

export function summary(model: AnyModule, options: SummaryOptions = {}): string {
  checkOptions('summary', options, SUMMARY_KEYS, { input_shape: 'inputShape', print_fn: 'printFn' });
  const rows: Row[] = [];
  const seen = new Set<Tensor>();
  let trainable = 0;
  let frozen = 0;
  const tally = (m: AnyModule): number => {
    const c = countOf(m, seen);
    trainable += c.trainable;
    frozen += c.frozen;
    return c.trainable + c.frozen;
  };
  const graph = isGraph(model);
  let unbuilt = false;
  if (isGraph(model)) {
    for (const x of model.inputs) rows.push({ name: x.name, type: 'InputLayer', shape: formatSymbolicShape(x.shape), params: 0, connected: '-' });
    for (const call of model.calls) {
      rows.push({
        name: call.layer.name,
        type: call.layer.constructor.name,
        shape: call.outputs.map((o) => formatSymbolicShape(o.shape)).join(', '),
        params: tally(call.layer),
        connected: call.inputs.map((i) => i.name).join(', '),
      });
    }
  } else {
    let shapes = new Map<AnyModule, string>();
    const s = options.inputShape ?? model.expectedInputShape() ?? undefined;
    if (s) {
      const list = (Array.isArray(s[0]) ? s : [s]) as readonly (readonly number[])[];
      const dtype = options.inputDtype ?? 'float32';
      // a lazy model is built by its first call, as Keras's summary builds a model given its input shape
      const infer = () => {
        if (!isBuilt(model)) build(model, ...list.map((shape) => zeros([1, ...shape], { dtype })));
        shapes = probeChildShapes(model, list, dtype);
      };
      if (options.inputShape) infer();
      else {
        // the shape the first layer declares is a hint: a model whose forward wants more shows '?'
        try {
          infer();
        } catch {
          shapes = new Map();
        }
      }
    }
    const children = model.children();
    for (const c of children.length ? children : [model]) {
      if (!isBuilt(c)) {
        unbuilt = true;
        rows.push({ name: c.name, type: c.constructor.name, shape: '?', params: -2 });
        continue;
      }
      rows.push({ name: c.name, type: c.constructor.name, shape: shapes.get(c) ?? '?', params: tally(c) });
    }
    // parameters registered directly on the model, not in a child
    const direct = model.unbuiltReason === null ? model.parameters({ recurse: false }).filter((p) => !seen.has(p)) : [];
    if (children.length && direct.length) {
      const n = direct.reduce((a, p) => a + p.size, 0);
      direct.forEach((p) => (p.requiresGrad ? (trainable += p.size) : (frozen += p.size)));
      rows.push({ name: '(own parameters)', type: model.constructor.name, shape: '', params: n });
    }
  }

  const header: Row = { name: 'Layer (type)', type: '', shape: 'Output Shape', params: -1, connected: graph ? 'Connected to' : undefined };
  const first = (r: Row) => (r.type ? `${r.name} (${r.type})` : r.name);
  const count = (n: number): string => (n === -1 ? 'Param #' : n === -2 ? '0 (unbuilt)' : fmtInt(n));
  const cells = (r: Row) => [first(r), r.shape, count(r.params), ...(graph ? [r.connected ?? ''] : [])];
  const table = [header, ...rows].map(cells);
  const widths = table[0].map((_, j) => Math.max(...table.map((r) => r[j].length)) + 3);
  const line = (r: string[]) => ` ${r.map((c, j) => c.padEnd(widths[j])).join('')}`.trimEnd();
  const width = widths.reduce((a, b) => a + b, 1);
  const out = [
    `Model: "${model.name}"`,
    '_'.repeat(width),
    line(table[0]),
    '='.repeat(width),
    ...table.slice(1).map(line),
    '='.repeat(width),
    `Total params: ${fmtInt(trainable + frozen)}`,
    `Trainable params: ${fmtInt(trainable)}`,
    `Non-trainable params: ${fmtInt(frozen)}`,
    '_'.repeat(width),
    ...(unbuilt ? ['Some layers are not built yet: their weights are made at the first call (or pass inputShape to summary, or give the first layer inputShape/inputDim).'] : []),
  ].join('\n');
  const printFn = options.printFn === undefined ? console.log : options.printFn;
  printFn?.(out);
  return out;
}
