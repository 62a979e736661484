import type { Tensor } from '@ml/tensor';
import { Module, type AnyModule, type ModuleOptions } from './module.js';

/** A single-input, single-output layer, the kind Sequential chains. */
export type Layer = Module<[Tensor], Tensor>;

/**
 * Layers applied one after another (PyTorch's and Keras's Sequential). Children are
 * named `0`, `1`, …, so state-dict keys read `0.weight`, `2.bias`.
 */
export class Sequential extends Module {
  readonly layers: Layer[] = [];

  constructor(layers: readonly Layer[] = [], options: ModuleOptions = {}) {
    super(options);
    for (const l of layers) this.add(l);
  }

  /** Append a layer (Keras's `model.add`). */
  add(layer: Layer): this {
    this.layers.push(this.registerModule(String(this.layers.length), layer));
    return this;
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
