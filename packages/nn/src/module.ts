// Over 600 lines on purpose: Module is one class, and its state-dict, device and dtype methods need its #private fields.
import { noGrad } from '@ml/autograd';
import { callKerasMethod } from './keras-methods.js';
import {
  cast,
  checkOptions,
  formatShape,
  fromArray,
  isFloat,
  isTensor,
  loadSafetensors,
  saveSafetensors,
  type SaveSafetensorsOptions,
  tidy,
  toBackend,
  zeros,
  type DType,
  type Tensor,
  optionKeys,
} from '@ml/tensor';
import { summary, type SummaryOptions } from './summary.js';
import { SymbolicTensor, concreteShape, formatSymbolicShape, isSymbolic, type SymbolicShape } from './symbolic.js';

interface BufferEntry {
  tensor: Tensor;
  persistent: boolean;
}

const nameCounts = new Map<string, number>();

/** `MaxPool2d` → `max_pool2d`, `LSTM` → `lstm`: the Keras-style base of a layer name. */
function snakeCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase();
}

/** Unique layer names as Keras makes them: `linear`, `linear_1`, `linear_2`, … */
export function uniqueName(base: string): string {
  const n = nameCounts.get(base) ?? 0;
  nameCounts.set(base, n + 1);
  return n === 0 ? base : `${base}_${n}`;
}

/** Forget the counters behind automatic layer names (tests, notebooks). */
export function resetNameCounters(): void {
  nameCounts.clear();
}

/** A JSON-safe copy of constructor options: numbers, strings, booleans, null and arrays/objects of them. */
function jsonOptions(options: object): Record<string, unknown> {
  const clean = (v: unknown): unknown => {
    if (v === null || typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
    if (Array.isArray(v)) return v.every((e) => clean(e) !== undefined) ? v.map(clean) : undefined;
    if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      const out: Record<string, unknown> = {};
      for (const [k, e] of Object.entries(v)) {
        const c = clean(e);
        if (c !== undefined) out[k] = c;
      }
      return out;
    }
    return undefined; // functions, tensors, modules
  };
  return (clean(options) as Record<string, unknown> | undefined) ?? {};
}

export interface ModuleOptions {
  /** layer name in `summary()` and in functional graphs; default: snake_case of the class, numbered */
  name?: string;
}

export interface ParametersOptions {
  /** false: only this module's own parameters, not its children's (default true) */
  recurse?: boolean;
}

export interface BuffersOptions {
  /** only the buffers saved in the state dict */
  persistentOnly?: boolean;
}

export interface LoadOptions {
  /** reject missing and unexpected keys (default true) */
  strict?: boolean;
}

const PARAMETERS_KEYS = optionKeys<ParametersOptions>()(['recurse']);
const LOAD_KEYS = optionKeys<LoadOptions>()(['strict']);

export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/**
 * Base class of every layer and model (PyTorch's `nn.Module`).
 *
 * A module owns named parameters (tensors that require grad), buffers (state that is
 * saved but not trained, such as BatchNorm's running mean) and submodules. Their dotted
 * paths — `layers.0.weight` — are the keys of `stateDict()` and the tensor names in a
 * saved safetensors file. Subclasses register them in the constructor:
 *
 * ```ts
 * this.weight = this.registerParameter('weight', init);
 * this.proj = this.registerModule('proj', new Linear({ inFeatures: 4, outFeatures: 2 }));
 * ```
 */
export abstract class Module<I extends unknown[] = [Tensor], O = Tensor> {
  /** `train()` sets it, `eval()` clears it; Dropout and BatchNorm read it */
  training = true;
  readonly name: string;
  readonly #params = new Map<string, Tensor>();
  readonly #buffers = new Map<string, BufferEntry>();
  readonly #modules = new Map<string, Module<never[], unknown>>();

  readonly #config: Record<string, unknown>;
  /** what a lazy layer still lacks before its weights exist; null once built */
  #unbuilt: string | null = null;

  constructor(options: ModuleOptions = {}) {
    this.name = options.name ?? uniqueName(snakeCase(new.target.name));
    this.#config = jsonOptions(options);
  }

  /**
   * The constructor options as JSON (functions such as custom initializers are dropped),
   * with the layer's name: what a saved model's architecture file records.
   */
  getConfig(): Record<string, unknown> {
    return { ...this.#config, name: this.name };
  }

  abstract forward(...args: I): O;

  // Keras's model methods: implemented by @ml/train, which also declares their signatures
  // (the `never` parameters here admit no call until it does; see keras-methods.ts)
  compile(...args: [never, ...never[]]): unknown {
    return callKerasMethod('compile', this, args);
  }
  fit(...args: [never, ...never[]]): unknown {
    return callKerasMethod('fit', this, args);
  }
  evaluate(...args: [never, ...never[]]): unknown {
    return callKerasMethod('evaluate', this, args);
  }
  predict(...args: [never, ...never[]]): unknown {
    return callKerasMethod('predict', this, args);
  }
  save(...args: [never, ...never[]]): unknown {
    return callKerasMethod('save', this, args);
  }

  /**
   * Run the module. On real tensors this is `forward`; on symbolic tensors (from
   * `input()`) it records the call in a functional graph and returns symbolic outputs.
   */
  call(...args: SymbolicTensor[]): unknown extends O ? SymbolicTensor | SymbolicTensor[] : O extends readonly unknown[] ? SymbolicTensor[] : SymbolicTensor;
  call(...args: I): O;
  call(...args: unknown[]): unknown {
    if (args.length > 0 && args.every(isSymbolic)) return this.#symbolicCall(args as SymbolicTensor[]);
    if (args.some(isSymbolic)) throw new Error(`${this.constructor.name}.call: mix of symbolic and real tensors`);
    return this.forward(...(args as I));
  }

  // ------------------------------------------------------------ lazy building

  /**
   * Null when this layer's weights exist. A lazy layer (Keras's deferred build, PyTorch's
   * `LazyLinear`: `new Dense(64)` without an input size) says here what it is waiting for
   * until its first call creates the weights.
   */
  get unbuiltReason(): string | null {
    return this.#unbuilt;
  }

  /** Called by a lazy layer's constructor: its weights are created later, at the first call. */
  protected deferBuild(missing: string): void {
    this.#unbuilt = missing;
  }

  /** Called by a lazy layer once it has created its weights. */
  protected markBuilt(): void {
    this.#unbuilt = null;
  }

  /**
   * A lazy layer builds itself from the shapes of its own entries of a state dict (keys
   * relative to the layer, e.g. `weight`), so weights can be loaded into an unbuilt model.
   * Returns what went wrong, or null when built. The default: cannot.
   */
  protected buildFromShapes(shapes: Readonly<Record<string, readonly number[]>>): string | null {
    void shapes;
    return 'this layer cannot infer its sizes from weight shapes';
  }

  /**
   * Shape of one input sample (no batch dim) when this layer knows it: from `inputShape`
   * or `inputDim` options, or an eager Linear's `inFeatures`. `summary()` and `Sequential`
   * use it to infer shapes and build lazy layers; null when unknown.
   */
  expectedInputShape(): readonly number[] | null {
    return null;
  }

  /** Throw when a layer of this tree is a lazy layer not built yet (`op` is what the user called). */
  protected assertBuilt(op: string): void {
    for (const [path, m] of this.namedModules()) {
      if (m.#unbuilt === null) continue;
      const where = path ? ` at '${path}'` : '';
      throw new Error(
        `${op}: layer '${m.name}' (${m.constructor.name}${where}) is not built yet — ${m.#unbuilt}. ` +
          'Call the model once on a batch (or build(model, batch)), give the first layer inputDim/inputShape, or use fit, which builds it',
      );
    }
  }

  // ------------------------------------------------------------ registration

  /** Register `tensor` as a trainable parameter (sets `requiresGrad`); returns it. */
  protected registerParameter(name: string, tensor: Tensor): Tensor {
    this.#checkName('registerParameter', name);
    if (!isFloat(tensor.dtype)) throw new Error(`registerParameter('${name}'): parameters must be floating point, got ${tensor.dtype}`);
    if (!tensor.isLeaf) tensor = tensor.detach();
    tensor.requiresGrad_(true);
    tensor.keep();
    this.#params.set(name, tensor);
    return tensor;
  }

  /** Register non-trained state; persistent buffers are part of `stateDict()`. */
  protected registerBuffer(name: string, tensor: Tensor, options: { persistent?: boolean } = {}): Tensor {
    this.#checkName('registerBuffer', name);
    tensor.keep();
    this.#buffers.set(name, { tensor, persistent: options.persistent ?? true });
    return tensor;
  }

  /** Register a child module; its parameters get the prefix `name.`. */
  protected registerModule<M extends Module<never[], unknown>>(name: string, module: M): M {
    this.#checkName('registerModule', name);
    this.#modules.set(name, module);
    return module;
  }

  #checkName(op: string, name: string): void {
    if (name === '' || name.includes('.')) throw new Error(`${op}: invalid name '${name}' (non-empty, no dots)`);
    if (this.#params.has(name) || this.#buffers.has(name) || this.#modules.has(name)) {
      throw new Error(`${op}: '${name}' is already registered on ${this.constructor.name}`);
    }
  }

  /** Replace a buffer's tensor (e.g. BatchNorm's running statistics), disposing the old one. */
  protected setBuffer(name: string, tensor: Tensor): Tensor {
    const entry = this.#buffers.get(name);
    if (!entry) throw new Error(`setBuffer: no buffer '${name}' on ${this.constructor.name}`);
    const old = entry.tensor;
    entry.tensor = tensor.keep();
    this.#rebindField(old, entry.tensor);
    old.dispose();
    return entry.tensor;
  }

  // ------------------------------------------------------------ traversal

  /**
   * PyTorch registers a module assigned as an attribute (`self.fc = nn.Linear(...)`); a
   * subclass here registers its children with `registerModule`, and a module left in a
   * field without it is adopted under the field's name when the tree is first walked, so
   * its parameters are trained, counted and saved as a PyTorch user expects. Modules inside
   * arrays or maps are not adopted (as PyTorch needs a ModuleList): register those.
   */
  #adoptFields(): void {
    let registered: Set<unknown> | null = null;
    for (const [key, value] of Object.entries(this)) {
      if (!(value instanceof Module) || value === this || key === '' || key.includes('.')) continue;
      registered ??= new Set<unknown>(this.#modules.values());
      if (registered.has(value) || this.#params.has(key) || this.#buffers.has(key) || this.#modules.has(key)) continue;
      this.#modules.set(key, value as Module<never[], unknown>);
      registered.add(value);
    }
  }

  /** Direct children, in registration order (then modules adopted from fields). */
  *namedChildren(): IterableIterator<[string, Module<never[], unknown>]> {
    this.#adoptFields();
    yield* this.#modules.entries();
  }

  children(): Module<never[], unknown>[] {
    this.#adoptFields();
    return [...this.#modules.values()];
  }

  /** This module and all descendants with dotted paths (`''` for this one); each module once. */
  *namedModules(prefix = '', seen = new Set<object>()): IterableIterator<[string, Module<never[], unknown>]> {
    if (seen.has(this)) return;
    seen.add(this);
    this.#adoptFields();
    yield [prefix, this as unknown as Module<never[], unknown>];
    for (const [name, m] of this.#modules) yield* m.namedModules(prefix ? `${prefix}.${name}` : name, seen);
  }

  modules(): Module<never[], unknown>[] {
    return [...this.namedModules()].map(([, m]) => m);
  }

  /** Parameters with dotted paths; a parameter shared by two layers appears once. */
  namedParameters(options: ParametersOptions = {}): IterableIterator<[string, Tensor]> {
    checkOptions('namedParameters', options, PARAMETERS_KEYS);
    if (options.recurse === false) {
      if (this.#unbuilt !== null) this.assertBuilt('parameters');
    } else this.assertBuilt('parameters');
    return this.#namedParameters(options);
  }

  *#namedParameters(options: ParametersOptions): IterableIterator<[string, Tensor]> {
    const seen = new Set<Tensor>();
    const mods: Iterable<[string, Module<never[], unknown>]> =
      options.recurse === false ? [['', this as unknown as Module<never[], unknown>]] : this.namedModules();
    for (const [path, m] of mods) {
      for (const [name, p] of m.#params) {
        if (seen.has(p)) continue;
        seen.add(p);
        yield [path ? `${path}.${name}` : name, p];
      }
    }
  }

  parameters(options: ParametersOptions = {}): Tensor[] {
    checkOptions('parameters', options, PARAMETERS_KEYS);
    return [...this.namedParameters(options)].map(([, p]) => p);
  }

  namedBuffers(options: BuffersOptions = {}): IterableIterator<[string, Tensor]> {
    checkOptions('namedBuffers', options, ['persistentOnly'] as const satisfies readonly (keyof BuffersOptions)[]);
    return this.#namedBuffers(options);
  }

  *#namedBuffers(options: BuffersOptions): IterableIterator<[string, Tensor]> {
    for (const [path, m] of this.namedModules()) {
      for (const [name, b] of m.#buffers) {
        if (options.persistentOnly && !b.persistent) continue;
        yield [path ? `${path}.${name}` : name, b.tensor];
      }
    }
  }

  buffers(): Tensor[] {
    return [...this.namedBuffers()].map(([, b]) => b);
  }

  /** Number of parameter elements (all, or only those that require grad). */
  numParameters(options: { trainableOnly?: boolean } = {}): number {
    checkOptions('numParameters', options, ['trainableOnly']);
    let n = 0;
    for (const p of this.parameters()) if (!options.trainableOnly || p.requiresGrad) n += p.size;
    return n;
  }

  // ------------------------------------------------------------ modes and gradients

  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Clear `.grad` of every parameter (disposed and set to null, as PyTorch's `set_to_none`); unbuilt lazy layers have none. */
  zeroGrad(): void {
    for (const p of new Set(this.modules().flatMap((m) => [...m.#params.values()]))) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Freeze (`false`) or unfreeze every parameter. Frozen ones count as non-trainable. */
  requiresGrad_(flag = true): this {
    for (const p of this.parameters()) p.requiresGrad_(flag);
    return this;
  }

  /** Call `fn` on every submodule, children first, then on this module (PyTorch's `apply`). */
  apply(fn: (m: Module<never[], unknown>) => void): this {
    this.#adoptFields();
    for (const m of this.#modules.values()) m.apply(fn);
    fn(this as unknown as Module<never[], unknown>);
    return this;
  }

  // ------------------------------------------------------------ state

  /** Parameters and persistent buffers by dotted path (live tensors, not copies). */
  stateDict(): Record<string, Tensor> {
    this.assertBuilt('stateDict');
    // PyTorch's order: module by module, each one's parameters then its buffers
    const sd: Record<string, Tensor> = {};
    const seen = new Set<Tensor>();
    for (const [path, m] of this.namedModules()) {
      const key = (name: string) => (path ? `${path}.${name}` : name);
      for (const [name, p] of m.#params) {
        if (seen.has(p)) continue;
        seen.add(p);
        sd[key(name)] = p;
      }
      for (const [name, b] of m.#buffers) if (b.persistent) sd[key(name)] = b.tensor;
    }
    return sd;
  }

  /**
   * Copy values into parameters and buffers. Every key and shape is checked before any
   * value is written, so a bad dict changes nothing. `strict` (default) also rejects
   * missing and unexpected keys. Values are cast to each parameter's dtype.
   */
  loadStateDict(state: Record<string, Tensor>, options: LoadOptions = {}): LoadStateDictResult {
    checkOptions('loadStateDict', options, LOAD_KEYS);
    const strict = options.strict ?? true;
    this.#buildFromState(state);
    const own = this.stateDict();
    // own keys only: a file's 'constructor' or 'toString' is a key like any other
    const has = (o: object, k: string): boolean => Object.hasOwn(o, k);
    const missingKeys = Object.keys(own).filter((k) => !has(state, k));
    const unexpectedKeys = Object.keys(state).filter((k) => !has(own, k));
    const sourceOf = (k: string): Tensor | undefined => (has(state, k) ? state[k] : undefined);
    for (const [k, target] of Object.entries(own)) {
      const src = sourceOf(k);
      if (src === undefined) continue;
      if (!isTensor(src)) throw new Error(`loadStateDict: value for '${k}' is not a tensor`);
      if (src.shape.length !== target.shape.length || src.shape.some((d, i) => d !== target.shape[i])) {
        throw new Error(`loadStateDict: size mismatch for '${k}': the file has ${formatShape(src.shape)}, the model has ${formatShape(target.shape)}`);
      }
      if (isFloat(target.dtype) !== isFloat(src.dtype) && target.dtype !== src.dtype) {
        throw new Error(`loadStateDict: dtype mismatch for '${k}': the file has ${src.dtype}, the model has ${target.dtype}`);
      }
    }
    if (strict && (missingKeys.length > 0 || unexpectedKeys.length > 0)) {
      const parts: string[] = [];
      if (missingKeys.length) parts.push(`missing keys: ${missingKeys.map((k) => `'${k}'`).join(', ')}`);
      if (unexpectedKeys.length) parts.push(`unexpected keys: ${unexpectedKeys.map((k) => `'${k}'`).join(', ')}`);
      throw new Error(`loadStateDict: ${parts.join('; ')} (pass { strict: false } to load the rest)`);
    }
    // a tensor from another backend is copied through the host: that needs a synchronous
    // read, checked for every key before any is loaded (nothing is half-loaded)
    for (const [k, target] of Object.entries(own)) {
      const src = sourceOf(k);
      if (src && src.backend !== target.backend && src.backend.readSync === undefined) {
        throw new Error(
          `loadStateDict: '${k}' is on backend '${src.backend.name}', which reads only asynchronously, and the model is on '${target.backend.name}' — move the state first (await toBackend(t, '${target.backend.name}') for each tensor) or the model (await model.to('${src.backend.name}'))`,
        );
      }
    }
    noGrad(() => {
      for (const [k, target] of Object.entries(own)) {
        const src = sourceOf(k);
        if (!src) continue;
        tidy(() => {
          let v = src.backend === target.backend ? src : fromArray(src.dataSync(), src.shape, { dtype: src.dtype, backend: target.backend.name });
          if (v.dtype !== target.dtype) v = cast(v, target.dtype);
          target.assign(v);
        });
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  /** Build every unbuilt lazy layer from the shapes of its entries in `state`. */
  #buildFromState(state: Record<string, Tensor>): void {
    for (const [path, m] of this.namedModules()) {
      if (m.#unbuilt === null) continue;
      const prefix = path ? `${path}.` : '';
      const shapes: Record<string, readonly number[]> = {};
      for (const [k, t] of Object.entries(state)) {
        if (k.startsWith(prefix) && !k.slice(prefix.length).includes('.') && isTensor(t)) shapes[k.slice(prefix.length)] = t.shape;
      }
      const failure = m.buildFromShapes(shapes);
      if (failure !== null) {
        throw new Error(`loadStateDict: lazy layer '${m.name}' (${m.constructor.name}${path ? ` at '${path}'` : ''}) is not built and cannot be built from the state: ${failure}. Call the model once on a batch first`);
      }
    }
  }

  /**
   * Write the state dict to a safetensors file, atomically and durably (`saveSafetensors`:
   * a temp file fsynced, renamed over `path`, the directory fsynced): a crash leaves the
   * previous file or the new one, and temps left by killed processes are removed.
   * `options.int64: true` writes int32 buffers (BatchNorm's `num_batches_tracked`) as I64,
   * the dtype PyTorch's `load_state_dict` expects there.
   */
  async saveWeights(path: string, metadata: Record<string, string> = {}, options: SaveSafetensorsOptions = {}): Promise<void> {
    checkOptions('saveWeights', options, ['int64'] as const satisfies readonly (keyof SaveSafetensorsOptions)[]);
    await saveSafetensors(path, this.stateDict(), { format: 'ml', ...metadata }, options);
  }

  /** Read weights saved by `save()` (or by PyTorch's safetensors with the same keys). */
  async loadWeights(path: string, options: LoadOptions = {}): Promise<LoadStateDictResult> {
    checkOptions('loadWeights', options, LOAD_KEYS);
    const backend = this.modules().flatMap((m) => [...m.#params.values()])[0]?.backend.name;
    const { tensors } = await loadSafetensors(path, backend ? { backend } : {});
    try {
      return this.loadStateDict(tensors, options);
    } catch (e) {
      throw new Error(`${(e as Error).message} [file ${path}]`);
    } finally {
      for (const t of Object.values(tensors)) t.dispose();
    }
  }

  /** Move every parameter and buffer to another backend and/or cast floats to `dtype`. */
  async to(target: string | { backend?: string; dtype?: DType }): Promise<this> {
    const { backend, dtype } = typeof target === 'string' ? { backend: target, dtype: undefined } : target;
    for (const m of this.modules()) {
      for (const [name, p] of m.#params) {
        let q = backend ? await toBackend(p.detach(), backend) : p;
        if (dtype && isFloat(q.dtype) && q.dtype !== dtype) q = cast(q.detach(), dtype);
        if (q !== p) m.#replaceParam(name, p, q);
      }
      for (const entry of m.#buffers.values()) {
        const b = entry.tensor;
        let q = backend ? await toBackend(b, backend) : b;
        if (dtype && isFloat(q.dtype) && q.dtype !== dtype) q = cast(q, dtype);
        if (q !== b) {
          entry.tensor = q.keep();
          m.#rebindField(b, q);
          b.dispose();
        }
      }
    }
    return this;
  }

  /** Cast floating-point parameters and buffers to float64 (in place on this module). */
  double(): this {
    return this.#castAll('float64');
  }

  /** Cast floating-point parameters and buffers to float32. */
  float(): this {
    return this.#castAll('float32');
  }

  #castAll(dtype: DType): this {
    noGrad(() => {
      for (const m of this.modules()) {
        for (const [name, p] of m.#params) if (p.dtype !== dtype) m.#replaceParam(name, p, cast(p.detach(), dtype));
        for (const entry of m.#buffers.values()) {
          const b = entry.tensor;
          if (!isFloat(b.dtype) || b.dtype === dtype) continue;
          entry.tensor = cast(b, dtype).keep();
          m.#rebindField(b, entry.tensor);
          b.dispose();
        }
      }
    });
    return this;
  }

  #replaceParam(name: string, old: Tensor, next: Tensor): void {
    const q = (next.isLeaf ? next : next.detach()).keep();
    q.requiresGrad_(old.requiresGrad);
    this.#params.set(name, q);
    this.#rebindField(old, q);
    old.dispose();
  }

  /** Point any field of this module that holds `old` (directly or in an array) at `next`. */
  #rebindField(old: Tensor, next: Tensor): void {
    const self = this as unknown as Record<string, unknown>;
    for (const key of Object.keys(self)) {
      const v = self[key];
      if (v === old) self[key] = next;
      else if (Array.isArray(v)) v.forEach((e, i) => { if (e === old) v[i] = next; });
    }
  }

  /** Free every parameter and buffer. The module cannot be used afterwards. */
  dispose(): void {
    for (const m of this.modules()) {
      for (const p of m.#params.values()) p.dispose();
      for (const b of m.#buffers.values()) b.tensor.dispose();
    }
  }

  /**
   * Run `fn` with some parameters temporarily replaced by the given tensors (PyTorch's
   * `torch.func.functional_call`): gradients then flow to those tensors, e.g. for
   * `gradcheck` of a layer with respect to its weights.
   */
  withParameters<T>(params: Record<string, Tensor>, fn: () => T): T {
    const swaps: { m: Module<never[], unknown>; name: string; old: Tensor; next: Tensor }[] = [];
    const byPath = new Map(this.namedModules());
    for (const [key, next] of Object.entries(params)) {
      const dot = key.lastIndexOf('.');
      const m = byPath.get(dot < 0 ? '' : key.slice(0, dot));
      const name = key.slice(dot + 1);
      const old = m ? m.#params.get(name) : undefined;
      if (!m || !old) throw new Error(`withParameters: no parameter '${key}'`);
      if (old.shape.join() !== next.shape.join()) {
        throw new Error(`withParameters: '${key}' has shape ${formatShape(old.shape)}, got ${formatShape(next.shape)}`);
      }
      swaps.push({ m, name, old, next });
    }
    for (const s of swaps) {
      s.m.#params.set(s.name, s.next);
      s.m.#rebindField(s.old, s.next);
    }
    try {
      return fn();
    } finally {
      for (const s of swaps) {
        s.m.#params.set(s.name, s.old);
        s.m.#rebindField(s.next, s.old);
      }
    }
  }

  // ------------------------------------------------------------ printing

  /**
   * Print Keras's summary table (layer, output shape, parameter count, totals) and
   * return it. Pass `inputShape` (one sample, no batch dim) to show output shapes of
   * models not built from `input()`.
   */
  summary(options: SummaryOptions = {}): string {
    return summary(this as unknown as Module<never[], unknown>, options);
  }

  /** One-line description of this module's options, shown inside `toString()`. */
  extraRepr(): string {
    return '';
  }

  /** PyTorch-style tree: `Sequential(\n  (0): Linear(inFeatures=4, …)\n)`. */
  toString(): string {
    const head = `${this.constructor.name}(${this.extraRepr()}`;
    this.#adoptFields();
    if (this.#modules.size === 0) return `${head})`;
    const lines = [...this.#modules].map(([n, m]) => `  (${n}): ${m.toString().split('\n').join('\n  ')}`);
    return `${head}\n${lines.join('\n')}\n)`;
  }

  // ------------------------------------------------------------ symbolic calls

  /**
   * Infer output shapes by running the layer on zeros twice, with batch sizes 2 and 3:
   * output dims that change with the batch are the symbolic batch dim. Runs in eval mode
   * without gradients, so no state (running stats, RNG) changes.
   */
  #symbolicCall(args: SymbolicTensor[]): SymbolicTensor | SymbolicTensor[] {
    const probe = (batch: number): { shapes: number[][]; dtypes: DType[]; multi: boolean } =>
      tidy(() => {
        const modes = this.modules().map((m) => [m, m.training] as const);
        this.eval();
        try {
          return noGrad(() => {
            const xs = args.map((a) => zeros(concreteShape(a.shape, batch), { dtype: a.dtype }));
            const out = this.forward(...(xs as unknown as I)) as unknown;
            const outs = Array.isArray(out) ? (out as unknown[]) : [out];
            if (!outs.every(isTensor)) throw new Error('a symbolic call needs a forward that returns a tensor or an array of tensors');
            return { shapes: outs.map((t) => [...t.shape]), dtypes: outs.map((t) => t.dtype), multi: Array.isArray(out) };
          });
        } catch (e) {
          const shapes = args.map((a) => formatSymbolicShape(a.shape)).join(', ');
          throw new Error(`${this.name} (${this.constructor.name}) cannot take input of shape ${shapes}: ${(e as Error).message}`);
        } finally {
          for (const [m, t] of modes) m.training = t;
        }
      });
    const a = probe(2);
    const b = probe(3);
    const outs = a.shapes.map((s2, i) => {
      const shape: SymbolicShape = s2.map((d, j) => (d === b.shapes[i][j] ? d : null));
      const name = a.multi ? `${this.name}/${i}` : this.name;
      return new SymbolicTensor(shape, a.dtypes[i], { layer: this, inputs: args, outputIndex: i }, name);
    });
    return a.multi ? outs : outs[0];
  }
}

/** A module with no parameters that applies `fn` (used for activations and merges). */
export type AnyModule = Module<never[], unknown>;

/** True when no layer of `model` is a lazy layer still waiting for its first call. */
export function isBuilt(model: AnyModule): boolean {
  return model.modules().every((m) => m.unbuiltReason === null);
}

/**
 * Create the weights of every lazy layer of `model` (Keras's `model.build`): runs one
 * forward pass on `sampleInputs` without gradients, in eval mode (no dropout, no running
 * statistics updated), then restores each module's training flag. A no-op when the model is
 * already built, so `compile`/`fit` call it before making an optimizer.
 */
export function build(model: AnyModule, ...sampleInputs: Tensor[]): void {
  if (isBuilt(model)) return;
  if (sampleInputs.length === 0) {
    const shape = model.expectedInputShape();
    if (shape === null) {
      const lazy = model.modules().find((m) => m.unbuiltReason !== null)!;
      throw new Error(`build: '${model.name}' has an unbuilt lazy layer '${lazy.name}' (${lazy.constructor.name}) and no declared input shape; pass a sample batch: build(model, x)`);
    }
    sampleInputs = [zeros([1, ...shape])];
  }
  const modes = model.modules().map((m) => [m, m.training] as const);
  model.eval();
  try {
    tidy(() => {
      noGrad(() => {
        (model.forward as (...xs: Tensor[]) => unknown)(...sampleInputs);
      });
    });
  } finally {
    for (const [m, t] of modes) m.training = t;
  }
}
