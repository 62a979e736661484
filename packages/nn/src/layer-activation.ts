import { checkOptions, type Tensor, optionKeys } from '@ml/tensor';
import { activationByName, type ActivationName } from './activation.js';
import { Module, type ModuleOptions } from './module.js';

/**
 * What a layer's `activation` option accepts: a Keras name (`'relu'`, `'sigmoid'`,
 * `'softmax'`, …, see `ACTIVATION_NAMES`), a function of a tensor, or a module such as
 * `new LeakyReLU({ negativeSlope: 0.2 })`.
 */
export type ActivationSpec = ActivationName | ((x: Tensor) => Tensor) | Module<[Tensor], Tensor>;

/** A resolved activation: the function to apply and, for a name, the name a config records. */
export interface ResolvedActivation {
  fn: (x: Tensor) => Tensor;
  /** the name given, or null for a function or module (which a saved config cannot record) */
  name: string | null;
  module: Module<[Tensor], Tensor> | null;
}

/** Resolve a layer's `activation` option; `layer` names the class in errors. 'linear' and undefined mean none. */
export function resolveActivation(layer: string, activation: ActivationSpec | undefined): ResolvedActivation | null {
  if (activation === undefined || activation === 'linear') return null;
  if (typeof activation === 'string') {
    try {
      return { fn: activationByName(activation), name: activation, module: null };
    } catch (e) {
      throw new Error(`${layer}: ${(e as Error).message.replace(/^activationByName: /, '')}`);
    }
  }
  if (activation instanceof Module) return { fn: (x) => activation.forward(x), name: null, module: activation };
  if (typeof activation === 'function') return { fn: activation, name: null, module: null };
  throw new TypeError(`${layer}: activation must be a name such as 'relu', a function or a module, got ${typeof activation}`);
}

export interface ActivationOptions extends ModuleOptions {
  /** one of Keras's names (`ACTIVATION_NAMES`) */
  activation: ActivationName;
}

const ACTIVATION_KEYS = optionKeys<ActivationOptions>()(['name', 'activation']);

/**
 * An activation function by Keras's name as a layer (Keras's `Activation('relu')`):
 * `new Activation('relu')`, or `new Activation({ activation: 'relu' })`. Saved architectures
 * record the name.
 */
export class Activation extends Module {
  readonly activation: ActivationName;
  readonly #fn: (x: Tensor) => Tensor;

  constructor(activation: ActivationName | ActivationOptions, options: ModuleOptions = {}) {
    const o: ActivationOptions = typeof activation === 'string' ? { ...options, activation } : activation;
    if (typeof activation === 'string') checkOptions('Activation', options, ['name'] as const satisfies readonly (keyof ModuleOptions)[]);
    else checkOptions('Activation', o, ACTIVATION_KEYS);
    super(o);
    if (typeof o.activation !== 'string') throw new TypeError(`Activation: activation must be a name such as 'relu', got ${typeof o.activation}`);
    this.activation = o.activation;
    this.#fn = resolveActivation('Activation', o.activation)?.fn ?? ((x) => x);
  }

  forward(x: Tensor): Tensor {
    return this.#fn(x);
  }

  override extraRepr(): string {
    return `'${this.activation}'`;
  }
}
