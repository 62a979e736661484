/**
 * `exportOnnx(model, options)`: trace a module tree into an ONNX ModelProto.
 *
 * The walk starts at the root module and asks each module's registered exporter (see
 * context.ts) for its nodes; containers (Sequential, functional `Model`) recurse into their
 * children. Shapes are traced by running each module's `forward` on zeros of its input shapes
 * in eval mode, so exporters see the real static dims; dim 0 is the batch, written as the
 * symbolic dim `batch` unless `dynamicBatch: false`.
 */
import { noGrad } from '@ml/autograd';
import { Model, Module, type AnyModule } from '@ml/nn';
import { checkOptions, optionKeys, tidy, zeros, type DType, type Tensor } from '@ml/tensor';
import {
  findOnnxExporter, UnsupportedModuleError,
  type OnnxAttributes, type OnnxAttributeValue, type OnnxExportContext, type OnnxValueInfo,
} from './context.js';
import { onnx, onnxElemType, rawBytes, type OnnxTypes } from './proto.js';
import './layers.js';

/** The opset written unless `opset` says otherwise. */
export const DEFAULT_OPSET = 17;
/** The opsets the exporter can write (13: Softmax over one axis; 17: LayerNormalization; 18 moved reduce axes to an input). */
export const MIN_OPSET = 13;
export const MAX_OPSET = 21;

export interface ExportOnnxOptions {
  /**
   * Shape of each input including the batch dim, e.g. `[[1, 784]]`. Optional for a functional
   * `Model` (its `input()` shapes, batch 1) and for a model whose first layer knows its input
   * shape (`inputShape`, `inFeatures`).
   */
  inputShapes?: readonly (readonly number[])[];
  /** dtype of each input (default float32; an Embedding's ids are int32) */
  inputDtypes?: readonly DType[];
  /** ONNX opset version, 13…21 (default 17) */
  opset?: number;
  /** graph input names (default: a Model's input names, else `input`, `input_1`, …) */
  inputNames?: readonly string[];
  /** graph output names (default `output`, `output_1`, …) */
  outputNames?: readonly string[];
  /** write dim 0 of every input and output as the symbolic dim `batch` (default true) */
  dynamicBatch?: boolean;
}

export const EXPORT_KEYS = optionKeys<ExportOnnxOptions>()(['inputShapes', 'inputDtypes', 'opset', 'inputNames', 'outputNames', 'dynamicBatch']);
export const EXPORT_ALIASES = { opset_version: 'opset', input_names: 'inputNames', output_names: 'outputNames', dynamic_axes: 'dynamicBatch' };

const INPUT_DTYPES: readonly DType[] = ['float32', 'float64', 'int32', 'bool'];

interface InputSpec {
  shape: readonly number[];
  dtype: DType;
}

function inputSpecs(model: AnyModule, options: ExportOnnxOptions): InputSpec[] {
  const dtypes = options.inputDtypes;
  let shapes: (readonly number[])[];
  if (options.inputShapes !== undefined) {
    if (!Array.isArray(options.inputShapes) || options.inputShapes.some((s) => !Array.isArray(s))) {
      throw new TypeError(`exportOnnx: inputShapes must be an array of shapes such as [[1, 784]], got ${JSON.stringify(options.inputShapes)}`);
    }
    shapes = options.inputShapes.map((s) => [...s]);
  } else if (model instanceof Model) {
    shapes = model.inputs.map((t) => t.shape.map((d) => d ?? 1));
  } else {
    const sample = model.expectedInputShape();
    if (sample === null) throw new Error(`exportOnnx: give inputShapes (e.g. [[1, 784]]): ${model.constructor.name} '${model.name}' does not know its input shape`);
    shapes = [[1, ...sample]];
  }
  for (const s of shapes) {
    if (s.length === 0 || s.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new Error(`exportOnnx: each input shape needs a batch dim and positive integer dims, got [${s.join(', ')}]`);
    }
  }
  if (model instanceof Model && shapes.length !== model.inputs.length) {
    throw new Error(`exportOnnx: the model has ${model.inputs.length} input(s), inputShapes gives ${shapes.length}`);
  }
  if (dtypes !== undefined && dtypes.length !== shapes.length) throw new Error(`exportOnnx: inputDtypes has ${dtypes.length} entries for ${shapes.length} input(s)`);
  return shapes.map((shape, i) => ({
    shape,
    dtype: dtypes?.[i] ?? (model instanceof Model ? model.inputs[i].dtype : 'float32'),
  }));
}

function attribute(name: string, v: OnnxAttributeValue | number | readonly number[] | string): OnnxTypes.IAttributeProto {
  const A = onnx.AttributeProto.AttributeType;
  const a: OnnxAttributeValue =
    typeof v === 'number' ? { type: 'int', value: v } : typeof v === 'string' ? { type: 'string', value: v } : Array.isArray(v) ? { type: 'ints', value: v as readonly number[] } : (v as OnnxAttributeValue);
  switch (a.type) {
    case 'int':
      if (!Number.isInteger(a.value)) throw new Error(`exportOnnx: attribute '${name}' must be an integer, got ${a.value} (use { type: 'float', value })`);
      return { name, type: A.INT, i: a.value };
    case 'float':
      return { name, type: A.FLOAT, f: a.value };
    case 'ints':
      return { name, type: A.INTS, ints: [...a.value] };
    case 'floats':
      return { name, type: A.FLOATS, floats: [...a.value] };
    case 'string':
      return { name, type: A.STRING, s: new TextEncoder().encode(a.value) };
  }
}

/** An error already naming the module it happened in (not wrapped again by the modules above). */
class ExportError extends Error {
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = 'ExportError';
  }
}

interface Unsupported {
  path: string;
  cls: string;
  reason: string;
}

/** The graph under construction, and the context handed to exporters. */
class GraphBuilder {
  readonly nodes: OnnxTypes.INodeProto[] = [];
  readonly initializers: OnnxTypes.ITensorProto[] = [];
  readonly values = new Map<string, OnnxValueInfo>();
  readonly used = new Set<string>();
  readonly unsupported: Unsupported[] = [];
  readonly #byTensor = new Map<Tensor, string>();

  /** @param backend where the model's weights live: the traced zeros are made there */
  constructor(
    readonly opset: number,
    readonly backend: string | undefined,
  ) {}

  unique(base: string): string {
    const clean = base.replace(/[^A-Za-z0-9_.:/-]/g, '_') || 'v';
    let name = clean;
    for (let i = 1; this.used.has(name); i++) name = `${clean}_${i}`;
    this.used.add(name);
    return name;
  }

  addTensorInitializer(name: string, t: Tensor): string {
    const known = this.#byTensor.get(t);
    if (known !== undefined) return known;
    const unique = this.unique(name);
    const dtype = t.dtype === 'int32' ? 'int32' : t.dtype === 'bool' ? 'bool' : 'float32';
    this.initializers.push({ name: unique, dims: [...t.shape], dataType: onnxElemType(dtype), rawData: rawBytes(t.dataSync(), dtype) });
    this.values.set(unique, { shape: [...t.shape], dtype: dtype === 'float32' ? 'float32' : dtype });
    this.#byTensor.set(t, unique);
    return unique;
  }

  addConstant(name: string, values: readonly number[], shape: readonly number[], dtype: 'float32' | 'int64' | 'int32'): string {
    const unique = this.unique(name);
    this.initializers.push({ name: unique, dims: [...shape], dataType: onnxElemType(dtype), rawData: rawBytes(values, dtype) });
    this.values.set(unique, { shape: [...shape], dtype: dtype === 'float32' ? 'float32' : 'int32' });
    return unique;
  }

  addNode(opType: string, inputs: readonly string[], outputs: readonly string[], attributes: OnnxAttributes = {}): void {
    for (const i of inputs) if (i !== '' && !this.used.has(i)) throw new Error(`exportOnnx: node ${opType} reads '${i}', which is not in the graph yet`);
    this.nodes.push({
      opType,
      input: [...inputs],
      output: [...outputs],
      name: this.unique(`${opType}_node`),
      attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v)),
    });
  }

  info(name: string): OnnxValueInfo {
    const i = this.values.get(name);
    if (i === undefined) throw new Error(`exportOnnx: no traced shape for '${name}'`);
    return i;
  }

  /** Export `module` at `path`; see OnnxExportContext.exportModule. */
  exportAt(module: AnyModule, inputs: readonly string[], path: string): string[] {
    const ins = inputs.map((n) => this.info(n));
    const label = path === '' ? 'model' : `model.${path}`;
    // trace the output shapes on zeros of the input shapes
    let traced: OnnxValueInfo[] | null = null;
    let failure: ExportError | null = null;
    try {
      traced = tidy(() =>
        noGrad(() => {
          const xs = ins.map((i) => zeros(i.shape, { dtype: i.dtype, backend: this.backend }));
          const out = (module.forward as (...a: Tensor[]) => unknown)(...xs);
          // nested outputs (an LSTM's [out, [h, c]]) become a flat list: [out, h, c]
          return flatOutputs(out).map((t) => ({ shape: [...t.shape], dtype: t.dtype }));
        }),
      );
    } catch (e) {
      const shapes = ins.map((i) => `[${i.shape.join(', ')}]`).join(', ');
      failure = new ExportError(`exportOnnx: ${label} (${module.constructor.name}) fails on inputs of shape ${shapes}: ${(e as Error).message}`, e);
      // a container goes on into its children, so the error names the innermost module that fails
      if (module.children().length === 0) throw failure;
    }
    const exporter = findOnnxExporter(module);
    let names: string[] | null = null;
    if (exporter === null) {
      if (failure) throw failure;
      this.unsupported.push({ path: label, cls: module.constructor.name, reason: 'no ONNX exporter is registered for this class (see registerOnnxExporter)' });
    } else {
      const ctx = this.context(path, traced ?? []);
      try {
        names = exporter(ctx, module, inputs);
      } catch (e) {
        if (e instanceof ExportError) throw e;
        if (failure) throw failure;
        if (!(e instanceof UnsupportedModuleError)) throw new ExportError(`exportOnnx: the exporter of ${label} (${module.constructor.name}) failed: ${(e as Error).message}`, e);
        this.unsupported.push({ path: label, cls: module.constructor.name, reason: e.message });
      }
    }
    // a container whose children all traced but which failed itself
    if (traced === null) throw failure!;
    if (names !== null && names.length !== traced.length) {
      throw new ExportError(`exportOnnx: the exporter of ${label} (${module.constructor.name}) returned ${names.length} output(s), its forward ${traced.length}`, null);
    }
    // after a refusal the walk goes on with placeholder outputs, so that every refusal is reported
    const shapes = traced;
    const outs = names ?? traced.map(() => this.unique(`${module.name}_unsupported`));
    outs.forEach((n, i) => {
      if (!this.values.has(n)) this.values.set(n, shapes[i]);
    });
    return outs;
  }

  context(path: string, outputs: readonly OnnxValueInfo[]): OnnxExportContext {
    return {
      opset: this.opset,
      path,
      outputs,
      setInfo: (name, info) => void this.values.set(name, { shape: [...info.shape], dtype: info.dtype }),
      unique: (base) => this.unique(base),
      addInitializer: (name, t) => this.addTensorInitializer(name, t),
      addConstant: (name, values, shape, dtype) => this.addConstant(name, values, shape, dtype),
      addNode: (op, inputs, outputs, attrs) => this.addNode(op, inputs, outputs, attrs),
      info: (name) => this.info(name),
      shapeOf: (name) => this.info(name).shape,
      exportModule: (m, inputs, childName) => this.exportAt(m, inputs, path === '' ? childName : `${path}.${childName}`),
    };
  }
}

function valueInfo(name: string, info: OnnxValueInfo, dynamicBatch: boolean): OnnxTypes.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnxElemType(info.dtype),
        shape: { dim: info.shape.map((d, i) => (i === 0 && dynamicBatch ? { dimParam: 'batch' } : { dimValue: d })) },
      },
    },
  };
}

function checkNames(what: string, names: readonly string[] | undefined, count: number): void {
  if (names === undefined) return;
  if (names.length !== count) throw new Error(`exportOnnx: ${what} has ${names.length} name(s) for ${count} ${what === 'inputNames' ? 'input' : 'output'}(s)`);
  if (new Set(names).size !== names.length) throw new Error(`exportOnnx: ${what} has duplicate names: ${names.join(', ')}`);
}

/**
 * Export a module as an ONNX model (the bytes of a ModelProto). The module is put in eval mode
 * while it is traced (Dropout is the identity, BatchNorm uses its running statistics) and its
 * modes are restored afterwards.
 *
 * ```ts
 * const bytes = exportOnnx(model, { inputShapes: [[1, 784]] });
 * ```
 */
export function exportOnnx(model: AnyModule, options: ExportOnnxOptions = {}): Uint8Array {
  checkOptions('exportOnnx', options, EXPORT_KEYS, EXPORT_ALIASES);
  if (!(model instanceof Module)) throw new TypeError(`exportOnnx: model must be an @ml/nn Module, got ${model === null ? 'null' : typeof model}`);
  for (const d of options.inputDtypes ?? []) {
    if (!INPUT_DTYPES.includes(d)) throw new TypeError(`exportOnnx: inputDtypes must be ${INPUT_DTYPES.join(', ')}; got '${String(d)}'`);
  }
  for (const names of [options.inputNames, options.outputNames]) {
    if (names !== undefined && (!Array.isArray(names) || names.some((n) => typeof n !== 'string' || n === ''))) {
      throw new TypeError(`exportOnnx: inputNames and outputNames must be arrays of non-empty strings, got ${JSON.stringify(names)}`);
    }
  }
  const opset = options.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) throw new RangeError(`exportOnnx: opset must be an integer in ${MIN_OPSET}…${MAX_OPSET}, got ${opset}`);
  const specs = inputSpecs(model, options);
  checkNames('inputNames', options.inputNames, specs.length);
  const dynamicBatch = options.dynamicBatch ?? true;

  // tracing runs forward on zeros, which would build a lazy layer with fresh random weights
  const lazy = [...model.namedModules()].filter(([, m]) => m.unbuiltReason !== null);
  if (lazy.length > 0) {
    const lines = lazy.map(([p, m]) => `  ${p === '' ? 'model' : `model.${p}`} (${m.constructor.name}): not built yet — ${m.unbuiltReason}`);
    throw new Error(`exportOnnx: cannot export ${lazy.length} module(s):\n${lines.join('\n')}\nCall the model once on a batch (or build(model, batch)) first, so its weights exist`);
  }
  const modes = model.modules().map((m) => [m, m.training] as const);
  model.eval();
  try {
    const weights = [...model.parameters(), ...model.buffers()];
    const backend = weights.length > 0 ? weights[0].backend.name : undefined;
    try {
      if (weights.length > 0) weights[0].dataSync();
    } catch (e) {
      // webgpu reads are asynchronous only; the file needs every weight's values now
      throw new Error(`exportOnnx: the model's weights are on the '${backend}' backend, which cannot be read synchronously; move the model first: await model.to('cpu')`, { cause: e });
    }
    const g = new GraphBuilder(opset, backend);
    const defaultIn = (i: number): string =>
      model instanceof Model ? model.inputs[i].name : specs.length === 1 ? 'input' : `input_${i}`;
    const inNames = specs.map((s, i) => {
      const wanted = options.inputNames?.[i] ?? defaultIn(i);
      const name = g.unique(wanted);
      if (name !== wanted) throw new Error(`exportOnnx: input name '${wanted}' is used twice`);
      g.values.set(name, { shape: s.shape, dtype: s.dtype });
      return name;
    });
    const outs = g.exportAt(model, inNames, '');
    if (g.unsupported.length > 0) {
      const lines = g.unsupported.map((u) => `  ${u.path} (${u.cls}): ${u.reason}`);
      throw new Error(`exportOnnx: cannot export ${g.unsupported.length} module(s):\n${lines.join('\n')}`);
    }
    checkNames('outputNames', options.outputNames, outs.length);
    const outNames = outs.map((internal, i) => {
      const wanted = options.outputNames?.[i] ?? (outs.length === 1 ? 'output' : `output_${i}`);
      const name = g.unique(wanted);
      if (name !== wanted) throw new Error(`exportOnnx: output name '${wanted}' is taken by another value of the graph`);
      g.addNode('Identity', [internal], [name]);
      g.values.set(name, g.info(internal));
      return name;
    });
    const proto = onnx.ModelProto.create({
      irVersion: 8,
      producerName: '@ml/onnx',
      producerVersion: '0.1.0',
      opsetImport: [{ domain: '', version: opset }],
      graph: {
        name: model.name,
        node: g.nodes,
        initializer: g.initializers,
        input: inNames.map((n) => valueInfo(n, g.info(n), dynamicBatch)),
        output: outNames.map((n) => valueInfo(n, g.info(n), dynamicBatch)),
      },
    });
    return onnx.ModelProto.encode(proto).finish();
  } finally {
    for (const [m, training] of modes) m.training = training;
  }
}

/** A module's output as a flat list of tensors, depth first. */
function flatOutputs(out: unknown): Tensor[] {
  return Array.isArray(out) ? out.flatMap((o) => flatOutputs(o)) : [out as Tensor];
}
