import { checkOptions, dropoutMask, isFloat, type Tensor, optionKeys } from '@ml/tensor';
import { Module, type ModuleOptions } from './module.js';

export interface DropoutOptions extends ModuleOptions {
  /** probability of zeroing an element (default 0.5) */
  p?: number;
}

const DROPOUT_KEYS = optionKeys<DropoutOptions>()(['p', 'name']);

/**
 * Inverted dropout: in training, each element is zeroed with probability p and the rest
 * are scaled by 1/(1−p), so eval mode (identity) needs no rescaling. Masks come from the
 * seeded generator (`manualSeed`).
 */
export class Dropout extends Module {
  readonly p: number;
  constructor(options: DropoutOptions = {}) {
    checkOptions('Dropout', options, DROPOUT_KEYS, { rate: 'p' });
    super(options);
    this.p = options.p ?? 0.5;
    if (!(this.p >= 0 && this.p <= 1)) throw new Error(`Dropout: p must be in [0, 1], got ${this.p}`);
  }
  forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training);
  }
  override extraRepr(): string {
    return `p=${this.p}`;
  }
}

/** Functional dropout; identity when `training` is false or p = 0. */
export function dropout(x: Tensor, p: number, training = true): Tensor {
  if (!isFloat(x.dtype)) throw new TypeError(`dropout: expected a floating-point tensor, got ${x.dtype}`);
  if (!training || p === 0) return x;
  if (p === 1) return x.mul(0);
  // the mask holds 0 or 1/(1−p): one product forward, one backward
  return x.mul(dropoutMask(x.shape, p, 1 / (1 - p), { dtype: x.dtype, backend: x.backend.name }));
}
