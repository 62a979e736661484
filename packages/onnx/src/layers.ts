/**
 * ONNX exporters of the feed-forward layers, containers and functional graphs of @ml/nn.
 * Each `registerOnnxExporter` call below is one row of the README's layer → operator table.
 */
import {
  Activation, Add, AvgPool1d, AvgPool2d, Average, BatchNorm1d, BatchNorm2d, Concatenate, Conv1d, Conv2d, Dropout, ELU, Embedding, Flatten, GELU,
  GlobalAvgPool2d, GlobalMaxPool2d, HardSigmoid, Identity, LayerNorm, LeakyReLU, Linear, LogSoftmax, MaxPool1d, MaxPool2d, Maximum, Model,
  Multiply, ReLU, Reshape, SELU, Sequential, Sigmoid, SiLU, Softmax, Softplus, Subtract, Tanh, type AnyModule, type SymbolicTensor,
} from '@ml/nn';
import { registerOnnxExporter, UnsupportedModuleError, type OnnxExportContext } from './context.js';

// ------------------------------------------------------------ helpers

/** One node with one fresh output named after `base`; returns the output's name. */
function node(ctx: OnnxExportContext, op: string, inputs: readonly string[], base: string, attrs: Parameters<OnnxExportContext['addNode']>[3] = {}): string {
  const out = ctx.unique(base);
  ctx.addNode(op, inputs, [out], attrs);
  return out;
}

const scalarConst = (ctx: OnnxExportContext, v: number): string => ctx.addConstant(`${ctx.path || 'model'}.const`, [v], [], 'float32');
const f = (value: number) => ({ type: 'float' as const, value });
const base = (ctx: OnnxExportContext, what: string): string => (ctx.path === '' ? what : `${ctx.path}.${what}`);

/** ReduceMean/ReduceMax over `axes`: an attribute up to opset 17, an input from opset 18. */
function reduce(ctx: OnnxExportContext, op: 'ReduceMean' | 'ReduceMax', x: string, axes: readonly number[], keepdims: boolean, name: string): string {
  if (ctx.opset >= 18) {
    const a = ctx.addConstant(`${name}_axes`, axes, [axes.length], 'int64');
    return node(ctx, op, [x, a], name, { keepdims: keepdims ? 1 : 0 });
  }
  return node(ctx, op, [x], name, { axes, keepdims: keepdims ? 1 : 0 });
}

/** SELU's constants, as @ml/nn's `selu` (Klambauer et al. 2017). */
const SELU_ALPHA = 1.6732632423543772;
const SELU_SCALE = 1.0507009873554805;

/** `'hard_sigmoid'`, `'hardSigmoid'` → `hardsigmoid`: the spellings @ml/nn accepts for one name. */
const squash = (name: string): string => name.toLowerCase().replace(/_/g, '');

/** Write a Keras-named activation (as a layer's `activation` option or the Activation layer). */
function namedActivation(ctx: OnnxExportContext, x: string, name: string): string {
  const b = base(ctx, squash(name));
  switch (squash(name)) {
    case 'linear':
      return x;
    case 'relu':
      return node(ctx, 'Relu', [x], b);
    case 'sigmoid':
      return node(ctx, 'Sigmoid', [x], b);
    case 'tanh':
      return node(ctx, 'Tanh', [x], b);
    case 'softmax':
      return node(ctx, 'Softmax', [x], b, { axis: -1 });
    case 'logsoftmax':
      return node(ctx, 'LogSoftmax', [x], b, { axis: -1 });
    case 'gelu':
      return gelu(ctx, x, 'none');
    case 'elu':
      return node(ctx, 'Elu', [x], b, { alpha: f(1) });
    case 'selu':
      return node(ctx, 'Selu', [x], b, { alpha: f(SELU_ALPHA), gamma: f(SELU_SCALE) });
    case 'silu':
    case 'swish':
      return silu(ctx, x);
    case 'softplus':
      return softplus(ctx, x, 1);
    case 'hardsigmoid':
      return node(ctx, 'HardSigmoid', [x], b, { alpha: f(1 / 6), beta: f(0.5) });
    case 'leakyrelu':
      return node(ctx, 'LeakyRelu', [x], b, { alpha: f(0.01) });
    default:
      throw new UnsupportedModuleError(`activation '${name}' has no ONNX mapping`);
  }
}

/** GELU: `Gelu` from opset 20; before it ½x(1 + erf(x/√2)), or the tanh form ½x(1 + tanh(√(2/π)(x + 0.044715x³))). */
function gelu(ctx: OnnxExportContext, x: string, approximate: 'none' | 'tanh'): string {
  const b = base(ctx, 'gelu');
  if (ctx.opset >= 20) return node(ctx, 'Gelu', [x], b, { approximate });
  const half = node(ctx, 'Mul', [x, scalarConst(ctx, 0.5)], `${b}_half`);
  let inner: string;
  if (approximate === 'tanh') {
    const x3 = node(ctx, 'Mul', [node(ctx, 'Mul', [x, x], `${b}_x2`), x], `${b}_x3`);
    const sum = node(ctx, 'Add', [x, node(ctx, 'Mul', [x3, scalarConst(ctx, 0.044715)], `${b}_cx3`)], `${b}_sum`);
    inner = node(ctx, 'Tanh', [node(ctx, 'Mul', [sum, scalarConst(ctx, Math.sqrt(2 / Math.PI))], `${b}_scaled`)], `${b}_tanh`);
  } else {
    inner = node(ctx, 'Erf', [node(ctx, 'Mul', [x, scalarConst(ctx, Math.SQRT1_2)], `${b}_scaled`)], `${b}_erf`);
  }
  return node(ctx, 'Mul', [half, node(ctx, 'Add', [inner, scalarConst(ctx, 1)], `${b}_one_plus`)], b);
}

/** x·σ(x) */
function silu(ctx: OnnxExportContext, x: string): string {
  const b = base(ctx, 'silu');
  return node(ctx, 'Mul', [x, node(ctx, 'Sigmoid', [x], `${b}_sigmoid`)], b);
}

/** softplus(x; β) = log(1 + e^{βx})/β, and x itself where βx > 20 (PyTorch's threshold, as @ml/tensor's). */
function softplus(ctx: OnnxExportContext, x: string, beta: number): string {
  const b = base(ctx, 'softplus');
  const bx = beta === 1 ? x : node(ctx, 'Mul', [x, scalarConst(ctx, beta)], `${b}_bx`);
  let soft = node(ctx, 'Softplus', [bx], `${b}_soft`);
  if (beta !== 1) soft = node(ctx, 'Div', [soft, scalarConst(ctx, beta)], `${b}_div`);
  const big = node(ctx, 'Greater', [bx, scalarConst(ctx, 20)], `${b}_big`);
  return node(ctx, 'Where', [big, x, soft], b);
}

/** How a Linear or Conv layer's `activation` option was given (its private state, read through its config). */
function layerActivation(ctx: OnnxExportContext, layer: AnyModule, x: string): string {
  let config: Record<string, unknown>;
  try {
    config = layer.getConfig();
  } catch {
    const child = [...layer.namedChildren()].find(([n]) => n === 'activation')?.[1];
    if (child === undefined) throw new UnsupportedModuleError('its activation is a JavaScript function, which ONNX cannot express; pass it by name or as a module');
    ctx.setInfo(x, ctx.outputs[0]); // an activation keeps the shape
    return ctx.exportModule(child, [x], 'activation')[0];
  }
  const act = config.activation;
  return typeof act === 'string' ? namedActivation(ctx, x, act) : x;
}

// ------------------------------------------------------------ containers

registerOnnxExporter(Sequential, (ctx, seq, inputs) => {
  const names = new Map<AnyModule, string>();
  for (const [n, m] of seq.namedChildren()) if (!names.has(m)) names.set(m, n);
  let xs = [...inputs];
  seq.layers.forEach((layer, i) => {
    xs = ctx.exportModule(layer as AnyModule, xs, names.get(layer as AnyModule) ?? String(i));
  });
  return xs;
});

registerOnnxExporter(Model, (ctx, model, inputs) => {
  const values = new Map<SymbolicTensor, string>();
  model.inputs.forEach((s, i) => values.set(s, inputs[i]));
  for (const call of model.calls) {
    const outs = ctx.exportModule(call.layer, call.inputs.map((s) => values.get(s)!), call.layer.name);
    call.outputs.forEach((s, i) => {
      if (s) values.set(s, outs[i]);
    });
  }
  return model.outputs.map((s) => values.get(s)!);
});

// ------------------------------------------------------------ linear, reshape, identity

registerOnnxExporter(Linear, (ctx, layer, [x]) => {
  if (layer.inFeatures === null) throw new UnsupportedModuleError('the layer is lazy and not built yet');
  const b = base(ctx, 'linear');
  // Gemm computes x·Wᵀ + b on 2-D inputs (PyTorch's exporter writes the same); N-d inputs use MatMul
  let y: string;
  if (ctx.shapeOf(x).length === 2) {
    const w = ctx.addInitializer(base(ctx, 'weight'), layer.weight);
    const ins = layer.bias ? [x, w, ctx.addInitializer(base(ctx, 'bias'), layer.bias)] : [x, w];
    y = node(ctx, 'Gemm', ins, b, { transB: 1 });
  } else {
    const [o, i] = layer.weight.shape;
    const src = layer.weight.dataSync();
    const wt = new Array<number>(o * i);
    for (let r = 0; r < o; r++) for (let c = 0; c < i; c++) wt[c * o + r] = src[r * i + c];
    const w = ctx.addConstant(base(ctx, 'weight_t'), wt, [i, o], 'float32');
    y = node(ctx, 'MatMul', [x, w], `${b}_matmul`);
    if (layer.bias) y = node(ctx, 'Add', [y, ctx.addInitializer(base(ctx, 'bias'), layer.bias)], b);
  }
  return [layerActivation(ctx, layer, y)];
});

registerOnnxExporter(Identity, (ctx, _m, [x]) => [node(ctx, 'Identity', [x], base(ctx, 'identity'))]);
// eval mode: dropout is the identity
registerOnnxExporter(Dropout, (ctx, _m, [x]) => [node(ctx, 'Identity', [x], base(ctx, 'dropout'))]);

registerOnnxExporter(Flatten, (ctx, layer, [x]) => {
  const shape = ctx.shapeOf(x);
  const r = shape.length;
  const s = layer.startDim < 0 ? layer.startDim + r : layer.startDim;
  const e = layer.endDim < 0 ? layer.endDim + r : layer.endDim;
  if (s === 1 && e === r - 1) return [node(ctx, 'Flatten', [x], base(ctx, 'flatten'), { axis: 1 })];
  // 0 copies a dim (the batch stays symbolic), −1 is the merged run
  const target = [...shape.slice(0, s).map((d, i) => (i === 0 ? 0 : d)), -1, ...shape.slice(e + 1)];
  const t = ctx.addConstant(base(ctx, 'shape'), target, [target.length], 'int64');
  return [node(ctx, 'Reshape', [x, t], base(ctx, 'flatten'))];
});

registerOnnxExporter(Reshape, (ctx, layer, [x]) => {
  const target = [0, ...layer.shape];
  const t = ctx.addConstant(base(ctx, 'shape'), target, [target.length], 'int64');
  return [node(ctx, 'Reshape', [x, t], base(ctx, 'reshape'))];
});

registerOnnxExporter(Embedding, (ctx, layer, [ids]) => {
  let w: string;
  if (layer.paddingIdx === null) w = ctx.addInitializer(base(ctx, 'weight'), layer.weight);
  else {
    // @ml's forward zeroes the padding row's lookups whatever the row holds: so does the exported table
    const values = Array.from(layer.weight.dataSync());
    values.fill(0, layer.paddingIdx * layer.embeddingDim, (layer.paddingIdx + 1) * layer.embeddingDim);
    w = ctx.addConstant(base(ctx, 'weight'), values, layer.weight.shape, 'float32');
  }
  return [node(ctx, 'Gather', [w, ids], base(ctx, 'embedding'), { axis: 0 })];
});

// ------------------------------------------------------------ activations

registerOnnxExporter(ReLU, (ctx, _m, [x]) => [node(ctx, 'Relu', [x], base(ctx, 'relu'))]);
registerOnnxExporter(LeakyReLU, (ctx, m, [x]) => [node(ctx, 'LeakyRelu', [x], base(ctx, 'leaky_relu'), { alpha: f(m.negativeSlope) })]);
registerOnnxExporter(ELU, (ctx, m, [x]) => [node(ctx, 'Elu', [x], base(ctx, 'elu'), { alpha: f(m.alpha) })]);
registerOnnxExporter(GELU, (ctx, m, [x]) => [gelu(ctx, x, m.approximate)]);
registerOnnxExporter(Sigmoid, (ctx, _m, [x]) => [node(ctx, 'Sigmoid', [x], base(ctx, 'sigmoid'))]);
registerOnnxExporter(Tanh, (ctx, _m, [x]) => [node(ctx, 'Tanh', [x], base(ctx, 'tanh'))]);
registerOnnxExporter(SiLU, (ctx, _m, [x]) => [silu(ctx, x)]);
registerOnnxExporter(Softplus, (ctx, m, [x]) => [softplus(ctx, x, m.beta)]);
registerOnnxExporter(Softmax, (ctx, m, [x]) => [node(ctx, 'Softmax', [x], base(ctx, 'softmax'), { axis: m.dim })]);
registerOnnxExporter(LogSoftmax, (ctx, m, [x]) => [node(ctx, 'LogSoftmax', [x], base(ctx, 'log_softmax'), { axis: m.dim })]);
registerOnnxExporter(HardSigmoid, (ctx, _m, [x]) => [node(ctx, 'HardSigmoid', [x], base(ctx, 'hard_sigmoid'), { alpha: f(1 / 6), beta: f(0.5) })]);
registerOnnxExporter(SELU, (ctx, _m, [x]) => [node(ctx, 'Selu', [x], base(ctx, 'selu'), { alpha: f(SELU_ALPHA), gamma: f(SELU_SCALE) })]);
registerOnnxExporter(Activation, (ctx, m, [x]) => [namedActivation(ctx, x, m.activation)]);


// ------------------------------------------------------------ convolution and pooling

/** [N, …spatial, C] → [N, C, …spatial] and back, for `dataFormat: 'channelsLast'`. */
const toFirst = (r: number): number[] => [0, r - 1, ...Array.from({ length: r - 2 }, (_, i) => i + 1)];
const toLast = (r: number): number[] => [0, ...Array.from({ length: r - 2 }, (_, i) => i + 2), 1];

/** Run `body` on channels-first data, transposing around it for channels-last layers. */
function channelsFirst(ctx: OnnxExportContext, x: string, format: 'channelsFirst' | 'channelsLast', spatial: number, op: string, body: (xc: string, spatialShape: readonly number[]) => string): string {
  const shape = ctx.shapeOf(x);
  if (shape.length !== spatial + 2) throw new UnsupportedModuleError(`${op} is exported for batched input [N, …] of rank ${spatial + 2}, traced with rank ${shape.length}`);
  if (format === 'channelsFirst') return body(x, shape.slice(2));
  const xc = node(ctx, 'Transpose', [x], base(ctx, 'to_channels_first'), { perm: toFirst(shape.length) });
  const y = body(xc, shape.slice(1, -1));
  return node(ctx, 'Transpose', [y], base(ctx, 'to_channels_last'), { perm: toLast(shape.length) });
}

/**
 * Explicit ONNX pads [x1_begin, x2_begin, …, x1_end, x2_end, …]. 'same' gives output ⌈in/stride⌉
 * with the odd extra on the bottom/right, as @ml/tensor's conv (and TensorFlow) do.
 */
function convPads(padding: number | readonly number[] | 'same' | 'valid', inShape: readonly number[], k: readonly number[], s: readonly number[], d: readonly number[]): number[] {
  const n = inShape.length;
  if (padding === 'valid') return new Array<number>(2 * n).fill(0);
  if (padding === 'same') {
    const begin: number[] = [];
    const end: number[] = [];
    for (let i = 0; i < n; i++) {
      const out = Math.ceil(inShape[i] / s[i]);
      const total = Math.max(0, (out - 1) * s[i] + d[i] * (k[i] - 1) + 1 - inShape[i]);
      begin.push(Math.floor(total / 2));
      end.push(total - Math.floor(total / 2));
    }
    return [...begin, ...end];
  }
  const p = typeof padding === 'number' ? new Array<number>(n).fill(padding) : [...padding];
  return [...p, ...p];
}

const nTuple = (v: number | readonly number[] | undefined, n: number, dflt: number | readonly number[]): number[] => {
  const x = v ?? dflt;
  return typeof x === 'number' ? new Array<number>(n).fill(x) : [...x];
};

function exportConv(ctx: OnnxExportContext, layer: Conv1d | Conv2d, x: string, spatial: 1 | 2): string {
  if (layer.inChannels === null) throw new UnsupportedModuleError('the layer is lazy and not built yet');
  const k = nTuple(layer.kernelSize, spatial, 1);
  const s = nTuple(layer.stride, spatial, 1);
  const d = nTuple(layer.dilation, spatial, 1);
  const y = channelsFirst(ctx, x, layer.dataFormat, spatial, layer.constructor.name, (xc, inShape) => {
    const w = ctx.addInitializer(base(ctx, 'weight'), layer.weight);
    const ins = layer.bias ? [xc, w, ctx.addInitializer(base(ctx, 'bias'), layer.bias)] : [xc, w];
    return node(ctx, 'Conv', ins, base(ctx, 'conv'), {
      kernel_shape: k, strides: s, dilations: d, group: layer.groups, pads: convPads(layer.padding, inShape, k, s, d),
    });
  });
  return layerActivation(ctx, layer, y);
}

registerOnnxExporter(Conv2d, (ctx, layer, [x]) => [exportConv(ctx, layer, x, 2)]);
registerOnnxExporter(Conv1d, (ctx, layer, [x]) => [exportConv(ctx, layer, x, 1)]);

function exportPool(ctx: OnnxExportContext, layer: MaxPool1d | MaxPool2d | AvgPool1d | AvgPool2d, x: string, spatial: 1 | 2, max: boolean): string {
  const o = layer.options as { kernelSize: number | readonly number[]; stride?: number | readonly number[]; padding?: number | readonly number[]; dilation?: number | readonly number[]; countIncludePad?: boolean };
  const k = nTuple(o.kernelSize, spatial, 1);
  const s = nTuple(o.stride, spatial, k);
  const d = nTuple(o.dilation, spatial, 1);
  const p = nTuple(o.padding, spatial, 0);
  return channelsFirst(ctx, x, layer.dataFormat, spatial, layer.constructor.name, (xc) => {
    if (max) return node(ctx, 'MaxPool', [xc], base(ctx, 'max_pool'), { kernel_shape: k, strides: s, pads: [...p, ...p], dilations: d });
    if (d.some((v) => v !== 1)) throw new UnsupportedModuleError('AveragePool has no dilation before opset 19');
    return node(ctx, 'AveragePool', [xc], base(ctx, 'avg_pool'), { kernel_shape: k, strides: s, pads: [...p, ...p], count_include_pad: (o.countIncludePad ?? true) ? 1 : 0 });
  });
}

registerOnnxExporter(MaxPool2d, (ctx, layer, [x]) => [exportPool(ctx, layer, x, 2, true)]);
registerOnnxExporter(MaxPool1d, (ctx, layer, [x]) => [exportPool(ctx, layer, x, 1, true)]);
registerOnnxExporter(AvgPool2d, (ctx, layer, [x]) => [exportPool(ctx, layer, x, 2, false)]);
registerOnnxExporter(AvgPool1d, (ctx, layer, [x]) => [exportPool(ctx, layer, x, 1, false)]);

/** Global pooling as a reduction over the spatial axes ([N, C, …] → [N, C], as @ml/nn's). */
function globalPool(ctx: OnnxExportContext, layer: GlobalAvgPool2d | GlobalMaxPool2d, x: string, op: 'ReduceMean' | 'ReduceMax'): string {
  const r = ctx.shapeOf(x).length;
  const axes = Array.from({ length: r - 2 }, (_, i) => (layer.dataFormat === 'channelsLast' ? i + 1 : i + 2));
  return reduce(ctx, op, x, axes, false, base(ctx, op === 'ReduceMean' ? 'global_avg_pool' : 'global_max_pool'));
}
registerOnnxExporter(GlobalAvgPool2d, (ctx, layer, [x]) => [globalPool(ctx, layer, x, 'ReduceMean')]);
registerOnnxExporter(GlobalMaxPool2d, (ctx, layer, [x]) => [globalPool(ctx, layer, x, 'ReduceMax')]);

// ------------------------------------------------------------ normalization

/** Per-channel constants of a [C] tensor, or `fill` when the layer has none. */
function channelValues(t: { dataSync(): ArrayLike<number> } | null, c: number, fill: number): number[] {
  return t === null ? new Array<number>(c).fill(fill) : Array.from(t.dataSync());
}

function exportBatchNorm(ctx: OnnxExportContext, layer: BatchNorm1d | BatchNorm2d, x: string): string {
  const c = layer.numFeatures;
  const b = base(ctx, 'batch_norm');
  const scale = layer.weight ? ctx.addInitializer(base(ctx, 'weight'), layer.weight) : ctx.addConstant(base(ctx, 'weight'), channelValues(null, c, 1), [c], 'float32');
  const bias = layer.bias ? ctx.addInitializer(base(ctx, 'bias'), layer.bias) : ctx.addConstant(base(ctx, 'bias'), channelValues(null, c, 0), [c], 'float32');
  if (layer.runningMean !== null && layer.runningVar !== null) {
    const mean = ctx.addInitializer(base(ctx, 'running_mean'), layer.runningMean);
    const v = ctx.addInitializer(base(ctx, 'running_var'), layer.runningVar);
    // ONNX's BatchNormalization: y = scale·(x − mean)/√(var + ε) + B, in inference mode
    return node(ctx, 'BatchNormalization', [x, scale, bias, mean, v], b, { epsilon: f(layer.eps) });
  }
  // without running statistics @ml/nn normalizes with the batch's own, also in eval mode
  const r = ctx.shapeOf(x).length;
  const axes = [0, ...Array.from({ length: r - 2 }, (_, i) => i + 2)];
  const bshape = [c, ...new Array<number>(r - 2).fill(1)];
  const mu = reduce(ctx, 'ReduceMean', x, axes, true, `${b}_mean`);
  const centered = node(ctx, 'Sub', [x, mu], `${b}_centered`);
  const v = reduce(ctx, 'ReduceMean', node(ctx, 'Mul', [centered, centered], `${b}_sq`), axes, true, `${b}_var`);
  const inv = node(ctx, 'Reciprocal', [node(ctx, 'Sqrt', [node(ctx, 'Add', [v, scalarConst(ctx, layer.eps)], `${b}_var_eps`)], `${b}_std`)], `${b}_inv_std`);
  const normed = node(ctx, 'Mul', [centered, inv], `${b}_normed`);
  const shapeC = ctx.addConstant(`${b}_bshape`, bshape, [bshape.length], 'int64');
  const sc = node(ctx, 'Reshape', [scale, shapeC], `${b}_scale`);
  const bi = node(ctx, 'Reshape', [bias, shapeC], `${b}_shift`);
  return node(ctx, 'Add', [node(ctx, 'Mul', [normed, sc], `${b}_scaled`), bi], b);
}
registerOnnxExporter(BatchNorm1d, (ctx, layer, [x]) => [exportBatchNorm(ctx, layer, x)]);
registerOnnxExporter(BatchNorm2d, (ctx, layer, [x]) => [exportBatchNorm(ctx, layer, x)]);

registerOnnxExporter(LayerNorm, (ctx, layer, [x]) => {
  const k = layer.normalizedShape.length;
  const size = layer.normalizedShape.reduce((a, d) => a * d, 1);
  const b = base(ctx, 'layer_norm');
  const scale = layer.weight ? ctx.addInitializer(base(ctx, 'weight'), layer.weight) : ctx.addConstant(base(ctx, 'weight'), new Array<number>(size).fill(1), layer.normalizedShape, 'float32');
  const bias = layer.bias ? ctx.addInitializer(base(ctx, 'bias'), layer.bias) : ctx.addConstant(base(ctx, 'bias'), new Array<number>(size).fill(0), layer.normalizedShape, 'float32');
  if (ctx.opset >= 17) return [node(ctx, 'LayerNormalization', [x, scale, bias], b, { axis: -k, epsilon: f(layer.eps) })];
  // before opset 17: (x − μ)/√(σ² + ε)·γ + β over the last k axes
  const r = ctx.shapeOf(x).length;
  const axes = Array.from({ length: k }, (_, i) => r - k + i);
  const mu = reduce(ctx, 'ReduceMean', x, axes, true, `${b}_mean`);
  const centered = node(ctx, 'Sub', [x, mu], `${b}_centered`);
  const v = reduce(ctx, 'ReduceMean', node(ctx, 'Mul', [centered, centered], `${b}_sq`), axes, true, `${b}_var`);
  const inv = node(ctx, 'Reciprocal', [node(ctx, 'Sqrt', [node(ctx, 'Add', [v, scalarConst(ctx, layer.eps)], `${b}_var_eps`)], `${b}_std`)], `${b}_inv_std`);
  const normed = node(ctx, 'Mul', [centered, inv], `${b}_normed`);
  return [node(ctx, 'Add', [node(ctx, 'Mul', [normed, scale], `${b}_scaled`), bias], b)];
});

// ------------------------------------------------------------ merge layers of functional graphs

/** Fold inputs left to right with a binary op, in @ml/nn's order (float sums are not associative). */
function fold(ctx: OnnxExportContext, op: string, xs: readonly string[], name: string): string {
  if (xs.length === 1) return node(ctx, 'Identity', [xs[0]], name);
  let acc = xs[0];
  for (let i = 1; i < xs.length; i++) acc = node(ctx, op, [acc, xs[i]], name);
  return acc;
}
registerOnnxExporter(Add, (ctx, _m, xs) => [fold(ctx, 'Add', xs, base(ctx, 'add'))]);
registerOnnxExporter(Multiply, (ctx, _m, xs) => [fold(ctx, 'Mul', xs, base(ctx, 'multiply'))]);
registerOnnxExporter(Maximum, (ctx, _m, xs) => [fold(ctx, 'Max', xs, base(ctx, 'maximum'))]);
registerOnnxExporter(Subtract, (ctx, _m, xs) => [node(ctx, 'Sub', xs, base(ctx, 'subtract'))]);
registerOnnxExporter(Average, (ctx, _m, xs) => {
  const sum = fold(ctx, 'Add', xs, base(ctx, 'average_sum'));
  return [node(ctx, 'Div', [sum, scalarConst(ctx, xs.length)], base(ctx, 'average'))];
});
registerOnnxExporter(Concatenate, (ctx, m, xs) => [node(ctx, 'Concat', xs, base(ctx, 'concatenate'), { axis: m.dim })]);
