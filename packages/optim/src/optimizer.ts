import { noGrad } from '@ml/autograd';
import { formatShape, isTensor, tidy, type Tensor } from '@ml/tensor';

/** Options every optimizer's groups carry; each optimizer adds its own. */
export interface GroupOptions {
  lr: number;
}

/** A parameter group: its tensors and options (schedulers change `lr` here). */
export type ParamGroup<O extends GroupOptions> = O & { params: Tensor[] };

export type Params<O extends GroupOptions> = Iterable<Tensor> | (Partial<O> & { params: Iterable<Tensor> })[];

/** Per-parameter state: tensors (moments) and numbers (step counts). */
export type ParamState = Record<string, Tensor | number>;

export interface OptimizerStateDict {
  /** by parameter index, counted across groups in order (PyTorch's layout) */
  state: Record<number, ParamState>;
  /** each group's options, with `params` as indices */
  paramGroups: (Record<string, unknown> & { params: number[] })[];
}

/**
 * Base of every optimizer (PyTorch's `torch.optim.Optimizer`): parameter groups with
 * their own options, per-parameter state, `step()`, `zeroGrad()`, state dicts.
 * Subclasses implement `update(p, grad, state, group)` returning the new value.
 */
export abstract class Optimizer<O extends GroupOptions = GroupOptions> {
  readonly paramGroups: ParamGroup<O>[] = [];
  readonly state = new Map<Tensor, ParamState>();
  protected readonly defaults: O;

  constructor(params: Params<O>, defaults: O) {
    this.defaults = defined(defaults);
    const list = [...(params as Iterable<Tensor | (Partial<O> & { params: Iterable<Tensor> })>)];
    if (list.length === 0) throw new Error(`${this.constructor.name}: got an empty parameter list`);
    if (list.every(isTensor)) this.addParamGroup({ params: list as Tensor[] } as Partial<O> & { params: Tensor[] });
    else for (const g of list as (Partial<O> & { params: Iterable<Tensor> })[]) this.addParamGroup(g);
  }

  addParamGroup(group: Partial<O> & { params: Iterable<Tensor> }): void {
    const params = [...group.params];
    for (const p of params) {
      if (!isTensor(p)) throw new Error(`${this.constructor.name}: parameters must be tensors`);
      if (this.paramGroups.some((g) => g.params.includes(p))) throw new Error(`${this.constructor.name}: a parameter ${formatShape(p.shape)} appears in two groups`);
    }
    const full = { ...this.defaults, ...defined(group), params } as ParamGroup<O>;
    this.validate(full);
    this.paramGroups.push(full);
  }

  /** Throw a clear error for bad options (`SGD: invalid learning rate -0.1 (must be ≥ 0)`). */
  protected validate(g: O): void {
    if (!(g.lr >= 0) || !Number.isFinite(g.lr)) throw new Error(`${this.constructor.name}: invalid learning rate ${g.lr} (must be ≥ 0)`);
  }

  protected abstract update(p: Tensor, grad: Tensor, state: ParamState, group: ParamGroup<O>): Tensor;

  /** Apply one update to every parameter that has a gradient. */
  step(): void {
    noGrad(() => {
      for (const group of this.paramGroups) {
        for (const p of group.params) {
          if (!p.grad) continue;
          const state = this.state.get(p) ?? {};
          this.state.set(p, state);
          const grad = p.grad;
          const next = tidy(() => {
            const before = { ...state };
            const v = this.update(p, grad, state, group);
            // keep new state tensors, free the ones they replaced
            for (const [k, t] of Object.entries(state)) {
              if (isTensor(t) && t !== before[k]) {
                t.keep();
                const old = before[k];
                if (isTensor(old)) old.dispose();
              }
            }
            return v;
          });
          p.assign(next);
          next.dispose();
        }
      }
    });
  }

  /** Clear every parameter's gradient (disposed and set to null). */
  zeroGrad(): void {
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        p.grad?.dispose();
        p.grad = null;
      }
    }
  }

  /**
   * The optimizer's state and hyperparameters, parameters by index (PyTorch's layout). The
   * state tensors are the optimizer's own, as in PyTorch: later steps may update them in
   * place, so clone them to keep a snapshot (checkpoint writers serialize them at once).
   */
  stateDict(): OptimizerStateDict {
    let i = 0;
    const state: Record<number, ParamState> = {};
    const paramGroups = this.paramGroups.map((g) => {
      const { params, ...opts } = g;
      const idx = params.map((p) => {
        const s = this.state.get(p);
        if (s) state[i] = { ...s };
        return i++;
      });
      return { ...(opts as Record<string, unknown>), params: idx };
    });
    return { state, paramGroups };
  }

  /** Restore from `stateDict()`; group count and sizes must match. Tensors are copied. */
  loadStateDict(sd: OptimizerStateDict): void {
    const name = this.constructor.name;
    if (sd.paramGroups.length !== this.paramGroups.length) {
      throw new Error(`${name}.loadStateDict: the state has ${sd.paramGroups.length} parameter groups, the optimizer ${this.paramGroups.length}`);
    }
    sd.paramGroups.forEach((g, gi) => {
      if (g.params.length !== this.paramGroups[gi].params.length) {
        throw new Error(`${name}.loadStateDict: group ${gi} has ${g.params.length} parameters in the state, ${this.paramGroups[gi].params.length} in the optimizer`);
      }
    });
    // check every state tensor before changing anything, so a bad state loads nothing
    sd.paramGroups.forEach((g, gi) => {
      g.params.forEach((idx, k) => {
        const p = this.paramGroups[gi].params[k];
        for (const [key, v] of Object.entries(sd.state[idx] ?? {})) {
          if (isTensor(v) && v.shape.join() !== p.shape.join() && v.size !== 1) {
            throw new Error(`${name}.loadStateDict: state '${key}' of parameter ${idx} is ${formatShape(v.shape)}, the parameter ${formatShape(p.shape)}`);
          }
        }
      });
    });
    sd.paramGroups.forEach((g, gi) => {
      const { params, ...opts } = g;
      Object.assign(this.paramGroups[gi], opts);
      params.forEach((idx, k) => {
        const p = this.paramGroups[gi].params[k];
        const s = sd.state[idx];
        const old = this.state.get(p);
        // copy first: `sd` may hold this optimizer's own tensors (loading its own stateDict())
        const copy: ParamState = {};
        for (const [key, v] of Object.entries(s ?? {})) {
          copy[key] = isTensor(v) ? tidy(() => v.cast(p.dtype).contiguous().add(0)).keep() : v;
        }
        if (old) for (const v of Object.values(old)) if (isTensor(v)) v.dispose();
        if (s) this.state.set(p, copy);
        else this.state.delete(p);
      });
    });
  }
}

/** Drop keys whose value is undefined, so `{ momentum: undefined }` keeps the default. */
export function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

export function checkRange(opt: string, name: string, v: number, lo: number, hi: number, hiOpen = true): void {
  if (!(v >= lo && (hiOpen ? v < hi : v <= hi))) throw new Error(`${opt}: invalid ${name} ${v} (must be in [${lo}, ${hi}${hiOpen ? ')' : ']'})`);
}
