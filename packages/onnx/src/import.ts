/**
 * `importOnnx(bytes)`: an ONNX model as an `@ml/nn` Module. Its forward evaluates the graph's
 * nodes in dependency order with `@ml/tensor` ops (see import-ops.ts), so it runs on every
 * backend and autograd differentiates it; float initializers are parameters (fine-tune them
 * with any optimizer), integer initializers and BatchNorm statistics buffers.
 */
import { Module } from '@ml/nn';
import { checkOptions, fromArray, isFloat, isTensor, optionKeys, type Tensor } from '@ml/tensor';
import { OnnxError } from './import-errors.js';
import { MAX_ELEMENTS, readModel, type GraphIR, type HostValue, type InputIR, type NodeIR } from './import-model.js';
import { Attrs, constantValue, isHost, OPS, tensorDType, type OpContext, type Value } from './import-ops.js';

export interface ImportOnnxOptions {
  /** backend the weights live on and the graph runs on (default: the current backend) */
  backend?: string;
  /** false: parameters do not require gradients (default true: fine-tuning works at once) */
  trainable?: boolean;
  /**
   * the most elements one tensor may have, in the file or computed while running it (default
   * 2^28): a larger one is an OnnxError before anything is allocated
   */
  maxElements?: number;
}

/** `ML_DEBUG=1` (Node): log each node as it runs, with its input and output shapes and time. */
const DEBUG = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.ML_DEBUG === '1';

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

const IMPORT_KEYS = optionKeys<ImportOnnxOptions>()(['backend', 'trainable', 'maxElements']);

/** A node of the parameter tree: holds the initializers under one dotted prefix (`fc1.weight`). */
class OnnxScope extends Module<never[], never> {
  forward(): never {
    throw new Error('an ONNX parameter scope has no forward; call the OnnxModel');
  }
  addParameter(name: string, t: Tensor): Tensor {
    return this.registerParameter(name, t);
  }
  addBuffer(name: string, t: Tensor): Tensor {
    return this.registerBuffer(name, t);
  }
  addModule(name: string, m: OnnxScope): OnnxScope {
    return this.registerModule(name, m);
  }
}

/** `fc1.weight` → ['fc1', 'weight']; `onnx::MatMul_12` → ['onnx__MatMul_12'] (segments without dots or odd characters). */
function segments(name: string): string[] {
  return name.split('.').map((s) => s.replace(/[^A-Za-z0-9_]/g, '_') || '_');
}

/** True when every use of `name` is as BatchNormalization's running mean or variance. */
function isStatistic(name: string, nodes: readonly NodeIR[]): boolean {
  let stat = false;
  let other = false;
  for (const n of nodes) {
    n.inputs.forEach((x, i) => {
      if (x !== name) return;
      if (n.opType === 'BatchNormalization' && (i === 3 || i === 4)) stat = true;
      else other = true;
    });
  }
  return stat && !other;
}

/** Check operator support and attribute types before anything is built; all unsupported ops in one error. */
function checkNodes(graph: GraphIR): void {
  const missing = new Map<string, string[]>();
  for (const n of graph.nodes) {
    const key = n.domain ? `${n.domain}::${n.opType}` : n.opType;
    if (n.domain || !Object.prototype.hasOwnProperty.call(OPS, n.opType)) {
      missing.set(key, [...(missing.get(key) ?? []), n.name]);
    }
  }
  if (missing.size) {
    const list = [...missing].map(([op, names]) => `${op} (node${names.length > 1 ? 's' : ''} ${names.slice(0, 5).map((s) => `'${s}'`).join(', ')}${names.length > 5 ? ` and ${names.length - 5} more` : ''})`);
    throw new OnnxError(`unsupported operators: ${list.join('; ')}. Supported: ${Object.keys(OPS).sort().join(', ')}`);
  }
  for (const n of graph.nodes) {
    const def = OPS[n.opType];
    for (const [name, attr] of n.attrs) {
      const want = def.attrs[name];
      if (want === undefined) continue;
      if (attr.kind !== want && !(want === 'float' && attr.kind === 'int')) {
        throw new OnnxError(`node '${n.name}' (${n.opType}): attribute '${name}' must be ${want.toUpperCase()}, got ${attr.kind === 'unsupported' ? attr.type : attr.kind.toUpperCase()}`);
      }
    }
    let present = 0;
    while (present < n.inputs.length && n.inputs[present] !== '') present++;
    if (present < def.minInputs) throw new OnnxError(`node '${n.name}' (${n.opType}): needs ${def.minInputs} inputs, got ${present}`);
  }
}

/**
 * An imported ONNX graph as a Module. `forward(...inputs)` takes the graph inputs in order
 * and returns its one output; `forwardAll` returns every output, `run` works by names as ONNX
 * Runtime does. Parameters keep the file's initializer names as state-dict paths where they
 * can (`fc1.weight`), with odd characters replaced; `parameterNames` maps file name → path.
 */
export class OnnxModel extends Module<Tensor[], Tensor> {
  /** the graph inputs a forward takes, in order (initializers excluded) */
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly opset: number;
  readonly producer: string;
  /** initializer name in the file → its path in `stateDict()` */
  readonly parameterNames: ReadonlyMap<string, string>;
  readonly #graph: GraphIR;
  readonly #backend: string | undefined;
  readonly #maxElements: number;
  readonly #initial = new Map<string, Value>();
  readonly #constants = new Map<NodeIR, HostValue>();
  /** tensors of persistent host values (initializers, constants), made once */
  readonly #cache = new WeakMap<HostValue, Tensor>();
  readonly #persistent = new Set<HostValue>();
  readonly #kept: Tensor[] = [];

  /** The same as {@link importOnnx}: `new OnnxModel(bytes, options)`. */
  constructor(bytes: Uint8Array, options: ImportOnnxOptions = {}) {
    super({ name: 'onnx_model' });
    checkOptions('OnnxModel', options, IMPORT_KEYS);
    const graph = parse('OnnxModel', bytes, options.maxElements ?? MAX_ELEMENTS);
    this.#graph = graph;
    this.#backend = options.backend;
    this.#maxElements = options.maxElements ?? MAX_ELEMENTS;
    this.inputNames = graph.inputs.map((i) => i.name);
    this.outputNames = graph.outputs;
    this.opset = graph.opset;
    this.producer = graph.producer;
    checkNodes(graph);
    for (const n of graph.nodes) {
      if (n.opType !== 'Constant') continue;
      const value = constantValue(n, new Attrs(n.attrs));
      this.#constants.set(n, value);
      this.#persistent.add(value);
    }
    this.parameterNames = this.#registerInitializers(graph);
    if (options.trainable === false) this.requiresGrad_(false);
  }

  #registerInitializers(graph: GraphIR): Map<string, string> {
    const scopes = new Map<string, OnnxScope>();
    const used = new Map<string, Set<string>>([['', new Set()]]);
    const names = new Map<string, string>();
    const register = (path: string, leaf: string, t: Tensor, kind: 'param' | 'buffer'): void => {
      const scope = path ? (scopes.get(path) as OnnxScope) : null;
      if (kind === 'param') {
        if (scope) scope.addParameter(leaf, t);
        else this.registerParameter(leaf, t);
      } else if (scope) scope.addBuffer(leaf, t);
      else this.registerBuffer(leaf, t);
    };
    for (const [name, hv] of graph.initializers) {
      let segs = segments(name);
      // a prefix that is already a tensor's name cannot also be a scope: flatten the name then
      for (let k = 1; k < segs.length; k++) {
        const parent = segs.slice(0, k - 1).join('.');
        if (used.get(parent)?.has(segs[k - 1]) && !scopes.has(segs.slice(0, k).join('.'))) {
          segs = [segs.join('_')];
          break;
        }
      }
      let path = '';
      for (const s of segs.slice(0, -1)) {
        const next = path ? `${path}.${s}` : s;
        if (!scopes.has(next)) {
          const scope = new OnnxScope({ name: s });
          if (path) (scopes.get(path) as OnnxScope).addModule(s, scope);
          else this.registerModule(s, scope);
          scopes.set(next, scope);
          used.get(path)?.add(s);
          used.set(next, new Set());
        }
        path = next;
      }
      const taken = used.get(path) as Set<string>;
      const base = segs[segs.length - 1];
      let leaf = base;
      for (let i = 1; taken.has(leaf); i++) leaf = `${base}_${i}`;
      taken.add(leaf);
      // int64 beyond int32 (Slice's "to the end" INT64_MAX) is kept exact on the host; its buffer holds it clamped
      const fits = hv.dtype !== 'int64' || hv.data.every((v) => v >= INT32_MIN && v <= INT32_MAX);
      const data = fits ? hv.data : hv.data.map((v) => Math.min(Math.max(v, INT32_MIN), INT32_MAX));
      const t = fromArray(data, hv.shape, { dtype: tensorDType(hv.dtype), backend: this.#backend });
      const float = isFloat(t.dtype);
      register(path, leaf, t, float && !isStatistic(name, graph.nodes) ? 'param' : 'buffer');
      names.set(name, path ? `${path}.${leaf}` : leaf);
      if (float) this.#initial.set(name, t);
      else {
        this.#initial.set(name, hv); // shape arithmetic reads integer initializers on the host
        if (fits) this.#cache.set(hv, t);
      }
    }
    return names;
  }

  forward(...inputs: Tensor[]): Tensor {
    if (this.outputNames.length !== 1) {
      throw new OnnxError(`OnnxModel.forward: the graph has ${this.outputNames.length} outputs (${this.outputNames.join(', ')}); use forwardAll or run`);
    }
    return this.forwardAll(...inputs)[0];
  }

  /** Every graph output, in the file's order. */
  forwardAll(...inputs: Tensor[]): Tensor[] {
    if (inputs.length !== this.inputNames.length) {
      throw new OnnxError(`OnnxModel: the graph takes ${this.inputNames.length} inputs (${this.inputNames.join(', ')}), got ${inputs.length}`);
    }
    const out = this.run(Object.fromEntries(this.inputNames.map((n, i) => [n, inputs[i]])));
    return this.outputNames.map((n) => out[n]);
  }

  /** Feeds and results by name, as ONNX Runtime's `session.run`. */
  run(feeds: Readonly<Record<string, Tensor>>): Record<string, Tensor> {
    const env = new Map<string, Value>(this.#initial);
    for (const input of this.#graph.inputs) {
      const t = feeds[input.name];
      if (t === undefined) throw new OnnxError(`OnnxModel: input '${input.name}' is not given (inputs: ${this.inputNames.join(', ')})`);
      if (!isTensor(t)) throw new OnnxError(`OnnxModel: input '${input.name}' must be a Tensor, got ${t === null ? 'null' : typeof t}`);
      checkInput(input, t);
      env.set(input.name, t);
    }
    for (const key of Object.keys(feeds)) {
      if (!this.inputNames.includes(key)) throw new OnnxError(`OnnxModel: '${key}' is not an input of the graph (inputs: ${this.inputNames.join(', ')})`);
    }
    for (const node of this.#graph.nodes) this.#runNode(node, env);
    const result: Record<string, Tensor> = {};
    for (const name of this.outputNames) {
      // a graph output may be a host value (a shape, a constant): it leaves as a tensor
      const ctx = this.#context({ name, opType: 'graph output', domain: '', inputs: [name], outputs: [], attrs: new Map() });
      result[name] = ctx.tensor(env.get(name) as Value);
    }
    return result;
  }

  #runNode(node: NodeIR, env: Map<string, Value>): void {
    const def = OPS[node.opType];
    const ins = node.inputs.map((n) => (n === '' ? undefined : env.get(n)));
    const ctx = this.#context(node);
    const attrs = new Attrs(node.attrs);
    let outs: (Value | undefined)[];
    const t0 = DEBUG ? performance.now() : 0;
    try {
      const constant = this.#constants.get(node);
      if (constant) outs = [constant];
      else {
        const hosted = def.host && ins.every((v) => v === undefined || isHost(v)) ? def.host(ctx, ins as (HostValue | undefined)[], attrs) : null;
        outs = hosted ?? def.run(ctx, ins, attrs);
      }
    } catch (e) {
      if (e instanceof OnnxError) throw e;
      const msg = e instanceof Error ? e.message : String(e);
      throw new OnnxError(`node '${node.name}' (${node.opType}): ${msg}`, { cause: e });
    }
    if (DEBUG) {
      const shapes = (vs: readonly (Value | undefined)[]) => vs.map((v) => (v === undefined ? '-' : `${isHost(v) ? 'host' : v.backend.name}[${v.shape.join(',')}]`)).join(' ');
      console.debug(`[onnx] ${node.opType} '${node.name}' ${shapes(ins)} -> ${shapes(outs)} ${(performance.now() - t0).toFixed(2)} ms`);
    }
    node.outputs.forEach((o, i) => {
      if (!o) return;
      const v = outs[i];
      if (v === undefined) throw new OnnxError(`node '${node.name}' (${node.opType}): output ${i} '${o}' is not produced by this importer`);
      env.set(o, v);
    });
  }

  #context(node: NodeIR): OpContext {
    const fail = (message: string): never => {
      throw new OnnxError(`node '${node.name}' (${node.opType}): ${message}`);
    };
    const tensor = (v: Value): Tensor => {
      if (!isHost(v)) return v;
      const cached = this.#cache.get(v);
      if (cached && !cached.isDisposed) return cached;
      const dtype = tensorDType(v.dtype);
      if (v.dtype === 'int64') {
        for (const x of v.data) if (x < INT32_MIN || x > INT32_MAX) fail(`int64 value ${x} does not fit the int32 tensors this library computes in`);
      }
      const t = fromArray(v.data, v.shape, { dtype, backend: this.#backend });
      if (this.#persistent.has(v)) {
        this.#kept.push(t.keep());
        this.#cache.set(v, t);
      }
      return t;
    };
    const ints = (v: Value, what: string): number[] => {
      let data: ArrayLike<number>;
      if (isHost(v)) data = v.data;
      else if (v.backend.readSync) data = v.dataSync();
      else return fail(`${what} is computed on backend '${v.backend.name}', which cannot be read synchronously; give it as an initializer or constant`);
      const out = Array.from(data);
      if (out.some((x) => !Number.isInteger(x) && Number.isFinite(x))) fail(`${what} [${out.join(', ')}] must be integers`);
      return out;
    };
    return {
      node,
      opset: this.#graph.opset,
      maxElements: this.#maxElements,
      tensor,
      ints,
      scalar: (v, what) => {
        const data = isHost(v) ? Array.from(v.data) : v.backend.readSync ? Array.from(v.dataSync()) : fail(`${what} cannot be read synchronously on backend '${v.backend.name}'`);
        if (data.length !== 1) fail(`${what} must hold one value, got ${data.length}`);
        return data[0];
      },
    };
  }

  /** Free the parameters, buffers and the tensors made for the graph's constants. */
  override dispose(): void {
    super.dispose();
    for (const t of this.#kept.splice(0)) t.dispose();
  }
}

/** Decode and check the file; anything unexpected from the decoder becomes an OnnxError too. */
function parse(op: string, bytes: Uint8Array, maxElements: number): GraphIR {
  if (!Number.isSafeInteger(maxElements) || maxElements < 1) throw new RangeError(`${op}: maxElements must be a positive integer, got ${maxElements}`);
  try {
    return readModel(bytes, maxElements);
  } catch (e) {
    if (e instanceof OnnxError) throw e;
    // the decoder's recursion on absurdly nested messages, or any other surprise in a corrupt file
    throw new OnnxError(`not a valid ONNX file (${e instanceof Error ? e.message : String(e)})`, { cause: e });
  }
}

function checkInput(input: InputIR, t: Tensor): void {
  const wantFloat = input.dtype === 'float32' || input.dtype === 'float64';
  if (wantFloat !== isFloat(t.dtype) || (input.dtype === 'bool') !== (t.dtype === 'bool')) {
    throw new OnnxError(`OnnxModel: input '${input.name}' must be ${input.dtype === 'int64' ? 'int32 (ONNX int64)' : input.dtype}, got ${t.dtype}`);
  }
  if (input.dims === null) return;
  const ok = input.dims.length === t.ndim && input.dims.every((d, i) => typeof d !== 'number' || d === t.shape[i]);
  if (!ok) {
    const want = input.dims.map((d) => (d === null ? '?' : String(d))).join(', ');
    throw new OnnxError(`OnnxModel: input '${input.name}' must have shape [${want}], got [${t.shape.join(', ')}]`);
  }
}

/**
 * Read an ONNX model (the bytes of a `.onnx` file) as a Module that runs on every backend and
 * can be fine-tuned. Malformed files, unsupported operators (all listed at once) and
 * attributes of the wrong type are an {@link OnnxError} before anything is built.
 *
 * ```ts
 * const model = importOnnx(await readFile('mlp.onnx'));
 * const logits = model.forward(x);                       // x: float32 [batch, 784]
 * const opt = new SGD(model.parameters(), { lr: 0.01 }); // fine-tune as any Module
 * ```
 */
export function importOnnx(bytes: Uint8Array, options: ImportOnnxOptions = {}): OnnxModel {
  checkOptions('importOnnx', options, IMPORT_KEYS);
  return new OnnxModel(bytes, options);
}
