import { noGrad } from '@ml/autograd';
import { checkOptions, isTensor, optionKeys, tidy, type Tensor } from '@ml/tensor';
import { Optimizer, checkRange, type GroupOptions, type OptimizerStateDict, type ParamGroup, type ParamState } from './optimizer.js';

export interface LookaheadOptions {
  /** inner steps between synchronizations (default 5) */
  k?: number;
  /** how far the slow weights move toward the fast ones (default 0.5) */
  alpha?: number;
}

const LOOKAHEAD_KEYS = optionKeys<LookaheadOptions>()(['k', 'alpha']);

/**
 * Lookahead (Zhang et al., "Lookahead optimizer: k steps forward, 1 step back") around
 * any optimizer: the inner one takes k fast steps, then the slow weights φ move
 * φ ← φ + α(θ − φ) and the fast weights restart from them (θ ← φ). φ starts at the
 * parameters' values on the first step.
 *
 * Its `paramGroups` are the inner optimizer's, so schedules and `zeroGrad()` act on both.
 */
export class Lookahead<O extends GroupOptions = GroupOptions> extends Optimizer<O> {
  readonly k: number;
  readonly alpha: number;
  /** inner steps taken so far */
  stepCount = 0;

  constructor(
    readonly inner: Optimizer<O>,
    options: LookaheadOptions = {},
  ) {
    checkOptions('Lookahead', options, LOOKAHEAD_KEYS);
    super(
      inner.paramGroups.flatMap((g) => g.params),
      { ...inner.paramGroups[0] },
    );
    this.k = options.k ?? 5;
    this.alpha = options.alpha ?? 0.5;
    if (!(Number.isInteger(this.k) && this.k >= 1)) throw new Error(`Lookahead: k must be an integer ≥ 1, got ${this.k}`);
    checkRange('Lookahead', 'alpha', this.alpha, 0, 1, false);
    // share the inner optimizer's groups (one set of options, seen by schedules)
    this.paramGroups.splice(0, this.paramGroups.length, ...inner.paramGroups);
  }

  protected update(): Tensor {
    throw new Error('Lookahead.update is not used: step() delegates to the inner optimizer');
  }

  override step(): void {
    noGrad(() => {
      if (this.stepCount === 0) {
        for (const p of this.#params()) this.state.set(p, { slow: tidy(() => p.contiguous().add(0)).keep() });
      }
      this.inner.step();
      this.stepCount++;
      if (this.stepCount % this.k !== 0) return;
      for (const p of this.#params()) {
        const s = this.state.get(p) as ParamState;
        const slow = s.slow as Tensor;
        const next = tidy(() => slow.add(p.sub(slow).mul(this.alpha))).keep();
        slow.dispose();
        s.slow = next;
        p.assign(next);
      }
    });
  }

  #params(): Tensor[] {
    return this.paramGroups.flatMap((g: ParamGroup<O>) => g.params);
  }

  /** The inner optimizer's state with each parameter's `slow` weights added, and `lookaheadStep`. */
  override stateDict(): OptimizerStateDict {
    const sd = this.inner.stateDict();
    this.#params().forEach((p, i) => {
      const slow = this.state.get(p)?.slow;
      if (isTensor(slow)) sd.state[i] = { ...(sd.state[i] ?? {}), slow };
    });
    sd.paramGroups = sd.paramGroups.map((g) => ({ ...g, lookaheadStep: this.stepCount }));
    return sd;
  }

  override loadStateDict(sd: OptimizerStateDict): void {
    const innerState: OptimizerStateDict['state'] = {};
    const slow = new Map<number, Tensor>();
    for (const [i, s] of Object.entries(sd.state)) {
      const { slow: sl, ...rest } = s;
      if (isTensor(sl)) slow.set(Number(i), sl);
      innerState[Number(i)] = rest;
    }
    const groups = sd.paramGroups.map(({ lookaheadStep, ...g }) => {
      if (typeof lookaheadStep === 'number') this.stepCount = lookaheadStep;
      return g as OptimizerStateDict['paramGroups'][number];
    });
    this.inner.loadStateDict({ state: innerState, paramGroups: groups });
    this.#params().forEach((p, i) => {
      const old = this.state.get(p)?.slow;
      if (isTensor(old)) old.dispose();
      const s = slow.get(i);
      if (s) this.state.set(p, { slow: tidy(() => s.cast(p.dtype).contiguous().add(0)).keep() });
      else this.state.delete(p);
    });
  }
}
