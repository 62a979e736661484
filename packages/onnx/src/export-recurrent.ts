/**
 * ONNX exporters of the recurrent layers of @ml/nn: RNN, LSTM, GRU (one ONNX RNN/LSTM/GRU
 * node per layer) and their cells (the same node over a sequence of length 1).
 *
 * Layouts (docs/recurrent-attention.md has the full table):
 *   - @ml keeps PyTorch's gate order: LSTM rows i, f, g, o and GRU rows r, z, n. ONNX wants
 *     LSTM i, o, f, c and GRU z, r, h, so the gate blocks of W, R and both biases are permuted.
 *   - ONNX's B is [W_b ‖ R_b] per direction; W is [D, gates·H, in], R is [D, gates·H, H].
 *   - GRU writes `linear_before_reset = 1`: r multiplies (W_hn h + b_hn), as in PyTorch.
 *   - ONNX's Y is [L, D, N, H]; @ml's output is [L, N, D·H] (both directions concatenated on the
 *     feature axis), hence Transpose(0, 2, 1, 3) and Reshape(0, 0, −1).
 *   - ONNX's Y_h is [D, N, H] per layer; @ml's hN stacks layer k, direction d at row k·D + d,
 *     which is the Concat of the layers' Y_h along axis 0.
 *
 * An Elman RNN with relu is unrolled into MatMul/Add/Relu nodes over the traced sequence
 * length: ONNX's RNN takes the activation as a list-of-strings attribute, which the exporter's
 * attribute type does not write yet.
 */
import { GRU, GRUCell, LSTM, LSTMCell, RNN, RNNCell } from '@ml/nn';
import type { Tensor } from '@ml/tensor';
import { registerOnnxExporter, UnsupportedModuleError, type OnnxAttributes, type OnnxExportContext } from './context.js';

type Mode = 'RNN' | 'LSTM' | 'GRU';

/**
 * ONNX gate block j is @ml's (PyTorch's) block ORDER[j]:
 * LSTM ONNX i,o,f,c ← PyTorch i,f,g,o; GRU ONNX z,r,h ← PyTorch r,z,n.
 */
const ORDER: Record<Mode, readonly number[]> = { RNN: [0], LSTM: [0, 3, 1, 2], GRU: [1, 0, 2] };

/** The weights of one layer and direction, as @ml stores them (PyTorch's layout). */
interface DirectionWeights {
  weightIh: Tensor;
  weightHh: Tensor;
  biasIh: Tensor | null;
  biasHh: Tensor | null;
}

/** What the exporter needs to know about a recurrent layer or cell. */
interface RecurrentSpec {
  mode: Mode;
  hiddenSize: number;
  numLayers: number;
  bidirectional: boolean;
  nonlinearity: 'tanh' | 'relu';
  /** weights at index k·D + d */
  weights: readonly DirectionWeights[];
}

/** Rows of `w` ([gates·H, cols] or [gates·H]) with the gate blocks permuted into ONNX's order. */
function permuteGates(w: Tensor, mode: Mode, hidden: number): number[] {
  const src = w.dataSync();
  const cols = w.ndim === 2 ? w.shape[1] : 1;
  const block = hidden * cols;
  const out: number[] = [];
  for (const g of ORDER[mode]) for (let i = 0; i < block; i++) out.push(Number(src[g * block + i]));
  return out;
}

function node(ctx: OnnxExportContext, op: string, inputs: readonly string[], base: string, attrs: OnnxAttributes = {}): string {
  const out = ctx.unique(base);
  ctx.addNode(op, inputs, [out], attrs);
  return out;
}

const at = (ctx: OnnxExportContext, what: string): string => (ctx.path === '' ? what : `${ctx.path}.${what}`);
const ints = (ctx: OnnxExportContext, name: string, v: readonly number[]): string => ctx.addConstant(at(ctx, name), v, [v.length], 'int64');

/** Rows [from, to) of a [rows, N, H] state. */
function sliceRows(ctx: OnnxExportContext, s: string, from: number, to: number, base: string): string {
  return node(ctx, 'Slice', [s, ints(ctx, 'starts', [from]), ints(ctx, 'ends', [to]), ints(ctx, 'axes', [0])], base);
}

/**
 * Write a recurrent stack on `x` ([L, N, in], time-major) with optional initial states
 * ([numLayers·D, N, H]); returns the output [L, N, D·H] and the final states, each
 * [numLayers·D, N, H] (h, and c for an LSTM). `seqLen` is needed by the unrolled relu RNN only.
 */
function exportRecurrentStack(ctx: OnnxExportContext, spec: RecurrentSpec, x: string, init: readonly (string | undefined)[], seqLen: number): { output: string; finals: string[] } {
  const D = spec.bidirectional ? 2 : 1;
  const H = spec.hiddenSize;
  const nStates = spec.mode === 'LSTM' ? 2 : 1;
  const finals: string[][] = Array.from({ length: nStates }, () => []);
  let input = x;
  for (let k = 0; k < spec.numLayers; k++) {
    const ws = spec.weights.slice(k * D, (k + 1) * D);
    const inits = init.map((s) => (s === undefined ? undefined : D * spec.numLayers === 1 ? s : sliceRows(ctx, s, k * D, (k + 1) * D, at(ctx, `init_l${k}`))));
    const { y, states } =
      spec.mode === 'RNN' && spec.nonlinearity === 'relu'
        ? unrolledRelu(ctx, ws, H, input, inits[0], seqLen, k)
        : onnxLayer(ctx, spec.mode, ws, H, input, inits, k);
    states.forEach((s, m) => finals[m].push(s));
    // Y [L, D, N, H] → [L, N, H] for one direction; → [L, N, D, H] → [L, N, D·H] for two
    if (D === 1) {
      input = node(ctx, 'Squeeze', [y, ints(ctx, 'axes', [1])], at(ctx, `out_l${k}`));
    } else {
      const t = node(ctx, 'Transpose', [y], at(ctx, `y_l${k}_t`), { perm: [0, 2, 1, 3] });
      input = node(ctx, 'Reshape', [t, ints(ctx, 'shape', [0, 0, -1])], at(ctx, `out_l${k}`));
    }
  }
  const stacked = finals.map((f, m) => (f.length === 1 ? f[0] : node(ctx, 'Concat', f, at(ctx, m === 0 ? 'h_n' : 'c_n'), { axis: 0 })));
  return { output: input, finals: stacked };
}

/** One ONNX RNN/LSTM/GRU node for layer k (all its directions). */
function onnxLayer(ctx: OnnxExportContext, mode: Mode, ws: readonly DirectionWeights[], H: number, x: string, inits: readonly (string | undefined)[], k: number): { y: string; states: string[] } {
  const D = ws.length;
  const G = ORDER[mode].length;
  const inSize = ws[0].weightIh.shape[1];
  const W = ctx.addConstant(at(ctx, `W_l${k}`), ws.flatMap((w) => permuteGates(w.weightIh, mode, H)), [D, G * H, inSize], 'float32');
  const R = ctx.addConstant(at(ctx, `R_l${k}`), ws.flatMap((w) => permuteGates(w.weightHh, mode, H)), [D, G * H, H], 'float32');
  const hasBias = ws[0].biasIh !== null;
  const B = hasBias ? ctx.addConstant(at(ctx, `B_l${k}`), ws.flatMap((w) => [...permuteGates(w.biasIh!, mode, H), ...permuteGates(w.biasHh!, mode, H)]), [D, 2 * G * H], 'float32') : '';
  // inputs: X, W, R, B, sequence_lens, initial_h, (initial_c, P for LSTM)
  const inputs = [x, W, R, B, '', inits[0] ?? ''];
  if (mode === 'LSTM') inputs.push(inits[1] ?? '');
  while (inputs[inputs.length - 1] === '') inputs.pop();
  const attrs: Record<string, number | string> = { hidden_size: H, direction: D === 2 ? 'bidirectional' : 'forward' };
  if (mode === 'GRU') attrs.linear_before_reset = 1;
  const y = ctx.unique(at(ctx, `y_l${k}`));
  const hN = ctx.unique(at(ctx, `h_n_l${k}`));
  const outs = [y, hN];
  if (mode === 'LSTM') outs.push(ctx.unique(at(ctx, `c_n_l${k}`)));
  ctx.addNode(mode, inputs, outs, attrs);
  return { y, states: outs.slice(1) };
}

/** [rows, cols] → its transpose as a float32 constant (for x·Wᵀ as MatMul(x, Wᵀ)). */
function transposed(ctx: OnnxExportContext, w: Tensor, name: string): string {
  const [r, c] = w.shape;
  const src = w.dataSync();
  const out = new Array<number>(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = Number(src[i * c + j]);
  return ctx.addConstant(name, out, [c, r], 'float32');
}

/**
 * h_t = relu(x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh), unrolled over the L steps, each direction
 * separately; returns Y [L, D, N, H] and Y_h [D, N, H] as the ONNX RNN node would.
 */
function unrolledRelu(ctx: OnnxExportContext, ws: readonly DirectionWeights[], H: number, x: string, init: string | undefined, L: number, k: number): { y: string; states: string[] } {
  const ys: string[] = [];
  const hs: string[] = [];
  ws.forEach((w, d) => {
    const tag = `l${k}${d === 1 ? '_reverse' : ''}`;
    let xp = node(ctx, 'MatMul', [x, transposed(ctx, w.weightIh, at(ctx, `weight_ih_${tag}_t`))], at(ctx, `xp_${tag}`));
    if (w.biasIh) xp = node(ctx, 'Add', [xp, ctx.addInitializer(at(ctx, `bias_ih_${tag}`), w.biasIh)], at(ctx, `xp_${tag}`));
    const whh = transposed(ctx, w.weightHh, at(ctx, `weight_hh_${tag}_t`));
    const bhh = w.biasHh ? ctx.addInitializer(at(ctx, `bias_hh_${tag}`), w.biasHh) : null;
    let h: string | null = init === undefined ? null : node(ctx, 'Gather', [init, ctx.addConstant(at(ctx, 'dir'), [d], [], 'int64')], at(ctx, `h0_${tag}`), { axis: 0 });
    const steps = new Array<string>(L);
    for (let i = 0; i < L; i++) {
      const t = d === 0 ? i : L - 1 - i;
      let pre = node(ctx, 'Gather', [xp, ctx.addConstant(at(ctx, 't'), [t], [], 'int64')], at(ctx, `xp_${tag}_${t}`), { axis: 0 });
      if (h !== null) pre = node(ctx, 'Add', [pre, node(ctx, 'MatMul', [h, whh], at(ctx, `hh_${tag}_${t}`))], at(ctx, `pre_${tag}_${t}`));
      if (bhh !== null) pre = node(ctx, 'Add', [pre, bhh], at(ctx, `pre_${tag}_${t}`));
      h = node(ctx, 'Relu', [pre], at(ctx, `h_${tag}_${t}`));
      steps[t] = node(ctx, 'Unsqueeze', [h, ints(ctx, 'axes', [0, 1])], at(ctx, `y_${tag}_${t}`));
    }
    ys.push(steps.length === 1 ? steps[0] : node(ctx, 'Concat', steps, at(ctx, `y_${tag}`), { axis: 0 }));
    hs.push(node(ctx, 'Unsqueeze', [h!, ints(ctx, 'axes', [0])], at(ctx, `h_n_${tag}`)));
  });
  const y = ys.length === 1 ? ys[0] : node(ctx, 'Concat', ys, at(ctx, `y_l${k}`), { axis: 1 });
  const hN = hs.length === 1 ? hs[0] : node(ctx, 'Concat', hs, at(ctx, `h_n_l${k}`), { axis: 0 });
  return { y, states: [hN] };
}

type SequenceLayer = RNN | LSTM | GRU;

function sequenceSpec(m: SequenceLayer): RecurrentSpec {
  if (m.inputSize === null) throw new UnsupportedModuleError('the layer is lazy and not built yet');
  const mode: Mode = m instanceof LSTM ? 'LSTM' : m instanceof GRU ? 'GRU' : 'RNN';
  return {
    mode,
    hiddenSize: m.hiddenSize,
    numLayers: m.numLayers,
    bidirectional: m.bidirectional,
    nonlinearity: m instanceof RNN ? m.nonlinearity : 'tanh',
    weights: m.weightIh.map((weightIh, j) => ({ weightIh, weightHh: m.weightHh[j], biasIh: m.bias ? m.biasIh[j] : null, biasHh: m.bias ? m.biasHh[j] : null })),
  };
}

/**
 * Write an RNN, LSTM or GRU on `x` (3-D, in the layer's layout) with optional initial states
 * (h0, and c0 for an LSTM). Returns [output, hN] (and cN for an LSTM), shaped as the layer's
 * forward returns them. For composing a custom module's exporter.
 */
export function exportRecurrent(ctx: OnnxExportContext, layer: SequenceLayer, x: string, init: readonly (string | undefined)[] = [], seqLen?: number): string[] {
  const spec = sequenceSpec(layer);
  const xs = safeShape(ctx, x);
  if (xs !== undefined && xs.length !== 3) {
    throw new UnsupportedModuleError(`expected a 3-D input ${layer.batchFirst ? '[N, L, inputSize]' : '[L, N, inputSize]'}, got [${xs.join(', ')}]; export unbatched sequences with a batch dim of 1`);
  }
  const L = seqLen ?? (xs === undefined ? undefined : xs[layer.batchFirst ? 1 : 0]);
  if (L === undefined && spec.mode === 'RNN' && spec.nonlinearity === 'relu') throw new UnsupportedModuleError('a relu RNN is unrolled and needs the sequence length (pass seqLen)');
  const seq = layer.batchFirst ? node(ctx, 'Transpose', [x], at(ctx, 'input_tm'), { perm: [1, 0, 2] }) : x;
  const { output, finals } = exportRecurrentStack(ctx, spec, seq, init, L ?? 0);
  const out = layer.batchFirst ? node(ctx, 'Transpose', [output], at(ctx, 'sequence_out'), { perm: [1, 0, 2] }) : output;
  return [out, ...finals];
}

/** The traced shape of `x`, or undefined for an intermediate value the exporter has no shape for. */
function safeShape(ctx: OnnxExportContext, x: string): readonly number[] | undefined {
  try {
    return ctx.shapeOf(x);
  } catch {
    return undefined;
  }
}

for (const cls of [RNN, LSTM, GRU] as const) {
  registerOnnxExporter<SequenceLayer>(cls, (ctx, layer, [x, ...init]) => exportRecurrent(ctx, layer, x, init));
}

// ------------------------------------------------------------ cells: one step of the same node

type Cell = RNNCell | LSTMCell | GRUCell;

function cellSpec(m: Cell): RecurrentSpec {
  if (m.inputSize === null) throw new UnsupportedModuleError('the cell is lazy and not built yet');
  return {
    mode: m instanceof LSTMCell ? 'LSTM' : m instanceof GRUCell ? 'GRU' : 'RNN',
    hiddenSize: m.hiddenSize,
    numLayers: 1,
    bidirectional: false,
    nonlinearity: m instanceof RNNCell ? m.nonlinearity : 'tanh',
    weights: [{ weightIh: m.weightIh, weightHh: m.weightHh, biasIh: m.biasIh, biasHh: m.biasHh }],
  };
}

/**
 * Write one step of a cell: x [N, in] and optional states [N, H] (h, and c for an LSTMCell)
 * become a sequence of length 1 and a single direction. Returns h' (and c').
 */
export function exportCell(ctx: OnnxExportContext, cell: Cell, x: string, states: readonly (string | undefined)[] = []): string[] {
  const spec = cellSpec(cell);
  const xs = safeShape(ctx, x);
  if (xs !== undefined && xs.length !== 2) throw new UnsupportedModuleError(`expected input [N, ${cell.inputSize}], got [${xs.join(', ')}]; export unbatched input with a batch dim of 1`);
  const axis0 = ints(ctx, 'axes', [0]);
  const x3 = node(ctx, 'Unsqueeze', [x, axis0], at(ctx, 'x_seq'));
  const init = states.map((s) => (s === undefined ? undefined : node(ctx, 'Unsqueeze', [s, axis0], at(ctx, 'state'))));
  const { finals } = exportRecurrentStack(ctx, spec, x3, init, 1);
  return finals.map((s, i) => node(ctx, 'Squeeze', [s, axis0], at(ctx, i === 0 ? 'h' : 'c')));
}

for (const cls of [RNNCell, LSTMCell, GRUCell] as const) {
  registerOnnxExporter<Cell>(cls, (ctx, cell, [x, ...states]) => exportCell(ctx, cell, x, states));
}
