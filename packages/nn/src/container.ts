import { checkOptions, optionKeys, type Tensor } from '@ml/tensor';
import { checkInputShape } from './linear.js';
import { Module, build, isBuilt, type AnyModule, type ModuleOptions } from './module.js';
import { isSymbolic, type SymbolicTensor } from './symbolic.js';

/** A single-input, single-output layer, the kind Sequential chains. */
export type Layer = Module<[Tensor], Tensor>;

export interface SequentialOptions extends ModuleOptions {
  /** shape of one input sample without the batch dim (Keras's `Input(shape)`); lazy layers are built from it */
  inputShape?: readonly number[];
}

const NAME_KEYS = optionKeys<ModuleOptions>()(['name']);
const SEQUENTIAL_KEYS = optionKeys<SequentialOptions>()(['name', 'inputShape']);

/**
 * Layers applied one after another (PyTorch's and Keras's Sequential). Children are
 * named `0`, `1`, …, so state-dict keys read `0.weight`, `2.bias`.
 *
 * As in Keras, when the input shape is known — the first layer's `inputShape`/`inputDim`,
 * a leading `input({ shape })`, or `options.inputShape` — every lazy layer is built as soon
 * as it is added (by a forward pass on a zero sample), so `parameters()` and `summary()`
 * work before any data is seen, and a layer that cannot take its input fails at `add`.
 */
export class Sequential extends Module {
  readonly layers: Layer[] = [];
  readonly #inputShape: readonly number[] | undefined;

  constructor(layers: readonly (Layer | SymbolicTensor)[] = [], options: SequentialOptions = {}) {
    checkOptions('Sequential', options, SEQUENTIAL_KEYS, { input_shape: 'inputShape' });
    const head = layers[0];
    let inputShape = checkInputShape('Sequential', options.inputShape);
    if (head !== undefined && isSymbolic(head)) {
      if (head.shape[0] !== null || head.shape.slice(1).some((d) => d === null)) {
        throw new Error(`Sequential: a leading input must have shape [null, ...sample dims], got [${head.shape.join(', ')}]`);
      }
      inputShape = head.shape.slice(1) as number[];
    }
    super(inputShape === undefined ? options : { ...options, inputShape });
    this.#inputShape = inputShape;
    const rest = head !== undefined && isSymbolic(head) ? layers.slice(1) : layers;
    for (const l of rest) {
      if (isSymbolic(l)) throw new Error('Sequential: an input() may only come first');
      this.#push(l);
    }
    this.#buildIfKnown();
  }

  #push(layer: Layer): void {
    if (!(layer instanceof Module)) throw new TypeError(`Sequential: layer ${this.layers.length} is not a Module`);
    this.layers.push(this.registerModule(String(this.layers.length), layer));
  }

  /** Build the lazy layers when the input shape is known (Keras builds a Sequential with an input shape at once). */
  #buildIfKnown(): void {
    if (isBuilt(this) || this.expectedInputShape() === null) return;
    try {
      build(this);
    } catch (e) {
      throw new Error(`Sequential: cannot build the layers from the input shape [${this.expectedInputShape()!.join(', ')}]: ${(e as Error).message}`);
    }
  }

  /** Append a layer (Keras's `model.add`); built at once when the model's input shape is known. */
  add(layer: Layer): this {
    this.#push(layer);
    this.#buildIfKnown();
    return this;
  }

  override expectedInputShape(): readonly number[] | null {
    return this.#inputShape ?? this.layers[0]?.expectedInputShape() ?? null;
  }

  get length(): number {
    return this.layers.length;
  }

  at(i: number): Layer {
    const l = this.layers.at(i);
    if (!l) throw new Error(`Sequential.at: index ${i} out of range for ${this.layers.length} layers`);
    return l;
  }

  forward(x: Tensor): Tensor {
    for (const l of this.layers) x = l.forward(x);
    return x;
  }
}

/** A list of submodules registered as `0`, `1`, … (PyTorch's ModuleList); it has no forward. */
export class ModuleList<M extends AnyModule = AnyModule> extends Module<never[], never> {
  readonly items: M[] = [];
  constructor(modules: readonly M[] = [], options: ModuleOptions = {}) {
    checkOptions('ModuleList', options, NAME_KEYS);
    super(options);
    for (const m of modules) this.append(m);
  }
  append(m: M): this {
    this.items.push(this.registerModule(String(this.items.length), m));
    return this;
  }
  get length(): number {
    return this.items.length;
  }
  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
  forward(): never {
    throw new Error('ModuleList has no forward(); iterate over it instead');
  }
}

/** Submodules by name (PyTorch's ModuleDict); it has no forward. */
export class ModuleDict<M extends AnyModule = AnyModule> extends Module<never[], never> {
  readonly entries = new Map<string, M>();
  constructor(modules: Record<string, M> = {}, options: ModuleOptions = {}) {
    checkOptions('ModuleDict', options, NAME_KEYS);
    super(options);
    for (const [k, m] of Object.entries(modules)) this.set(k, m);
  }
  set(key: string, m: M): this {
    this.entries.set(key, this.registerModule(key, m));
    return this;
  }
  get(key: string): M {
    const m = this.entries.get(key);
    if (!m) throw new Error(`ModuleDict: no module '${key}' (have ${[...this.entries.keys()].join(', ')})`);
    return m;
  }
  forward(): never {
    throw new Error('ModuleDict has no forward(); get a module by name instead');
  }
}
