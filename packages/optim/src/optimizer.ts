import { noGrad } from '@ml/autograd';
import { checkOptions, formatShape, isTensor, quoteValue, tidy, type Tensor } from '@ml/tensor';

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
    // a group may set any option the optimizer has (PyTorch's param groups), nothing else
    checkOptions(`${this.constructor.name}.addParamGroup`, group, ['params', ...Object.keys(this.defaults)]);
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

  /**
   * Restore from `stateDict()`; group count and sizes must match. Everything is checked
   * before anything changes, as `Module.loadStateDict` does: each group's options (known
   * names, the types of this optimizer's values, and its own range checks), the
   * parameter indices, and every state entry (a tensor shaped like its parameter, or a
   * finite number; `step` a non-negative integer). A bad value throws
   * `OptimizerStateError` naming it. Tensors are copied.
   */
  loadStateDict(sd: OptimizerStateDict): void {
    const name = this.constructor.name;
    const fail = (path: string, detail: string): never => {
      throw new OptimizerStateError(name, path, detail);
    };
    if (!isRecord(sd)) return fail('state dict', `must be an object with state and paramGroups, got ${quoteValue(sd)}`);
    if (!Array.isArray(sd.paramGroups)) return fail('paramGroups', `must be an array, got ${quoteValue(sd.paramGroups)}`);
    if (!isRecord(sd.state)) return fail('state', `must be an object, got ${quoteValue(sd.state)}`);
    if (sd.paramGroups.length !== this.paramGroups.length) {
      throw new Error(`${name}.loadStateDict: the state has ${sd.paramGroups.length} parameter groups, the optimizer ${this.paramGroups.length}`);
    }
    const indices = new Map<number, Tensor>();
    const options = sd.paramGroups.map((g: unknown, gi) => {
      const at = `paramGroups[${gi}]`;
      if (!isRecord(g)) return fail(at, `must be an object, got ${quoteValue(g)}`);
      const { params, ...opts } = g;
      if (!Array.isArray(params)) return fail(`${at}.params`, `must be an array of parameter indices, got ${quoteValue(params)}`);
      const own = this.paramGroups[gi];
      if (params.length !== own.params.length) {
        throw new Error(`${name}.loadStateDict: group ${gi} has ${params.length} parameters in the state, ${own.params.length} in the optimizer`);
      }
      params.forEach((idx: unknown, k) => {
        if (!Number.isSafeInteger(idx) || (idx as number) < 0) fail(`${at}.params[${k}]`, `must be a non-negative integer, got ${quoteValue(idx)}`);
        if (indices.has(idx as number)) fail(`${at}.params[${k}]`, `repeats the parameter index ${quoteValue(idx)}`);
        indices.set(idx as number, own.params[k]);
      });
      for (const [key, v] of Object.entries(opts)) {
        if (!Object.hasOwn(own, key)) fail(`${at}.${key}`, `is not an option of ${name}`);
        const bad = sameKind((own as unknown as Record<string, unknown>)[key], v);
        if (bad !== null) fail(`${at}.${key}`, bad);
      }
      try {
        this.validate({ ...own, ...opts } as O);
      } catch (e) {
        fail(at, `: ${(e as Error).message}`);
      }
      return opts;
    });
    // check every state entry before changing anything, so a bad state loads nothing
    for (const [key, entry] of Object.entries(sd.state as Record<string, unknown>)) {
      const at = `state[${key}]`;
      const p = /^(0|[1-9]\d*)$/.test(key) ? indices.get(Number(key)) : undefined;
      if (p === undefined) fail(at, 'names no parameter of paramGroups');
      if (!isRecord(entry)) fail(at, `must be an object, got ${quoteValue(entry)}`);
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (isTensor(v)) {
          if (v.shape.join() !== p!.shape.join() && v.size !== 1) {
            throw new Error(`${name}.loadStateDict: state '${k}' of parameter ${key} is ${formatShape(v.shape)}, the parameter ${formatShape(p!.shape)}`);
          }
        } else if (typeof v !== 'number' || !Number.isFinite(v)) {
          fail(`${at}.${k}`, `must be a tensor or a finite number, got ${quoteValue(v)}`);
        } else if (k === 'step' && (!Number.isSafeInteger(v) || v < 0)) {
          fail(`${at}.${k}`, `must be a non-negative integer, got ${quoteValue(v)}`);
        }
      }
    }
    sd.paramGroups.forEach((g, gi) => {
      Object.assign(this.paramGroups[gi], copyOptions(options[gi]));
      g.params.forEach((idx, k) => {
        const p = this.paramGroups[gi].params[k];
        const s = Object.hasOwn(sd.state, idx) ? sd.state[idx] : undefined;
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

/** A malformed optimizer state dict; `path` names the bad value (`paramGroups[0].lr`). */
export class OptimizerStateError extends Error {
  readonly path: string;
  readonly detail: string;
  constructor(optimizer: string, path: string, detail: string) {
    const where = detail.startsWith(':') ? `${path}${detail}` : `${path} ${detail}`;
    super(`${optimizer}.loadStateDict: ${where}`);
    this.name = 'OptimizerStateError';
    this.path = path;
    this.detail = detail;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}


/** Null when `v` has the kind of the optimizer's own value `like`, else what is wrong. */
function sameKind(like: unknown, v: unknown): string | null {
  const finite = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
  if (typeof like === 'number') return finite(v) ? null : `must be a finite number, got ${quoteValue(v)}`;
  if (typeof like === 'boolean') return typeof v === 'boolean' ? null : `must be a boolean, got ${quoteValue(v)}`;
  if (Array.isArray(like)) {
    return Array.isArray(v) && v.length === like.length && v.every(finite) ? null : `must be an array of ${like.length} finite numbers, got ${quoteValue(v)}`;
  }
  if (like === null) return v === null || finite(v) ? null : `must be null or a finite number, got ${quoteValue(v)}`;
  return typeof v === typeof like ? null : `must be a ${typeof like}, got ${quoteValue(v)}`;
}

/** Options as the optimizer keeps them: arrays (betas) copied, not shared with the state dict. */
function copyOptions(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Array.isArray(v) ? [...(v as unknown[])] : v]));
}

/** Drop keys whose value is undefined, so `{ momentum: undefined }` keeps the default. */
export function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/**
 * An optimizer's options with only `keys` allowed (an unknown key throws naming `op`, the
 * class the user constructed: `new.target.name`), undefined values dropped.
 */
export function checkedOptions<T extends object>(op: string, options: T, keys: readonly string[]): T {
  checkOptions(op, options, keys);
  return defined(options);
}

export function checkRange(opt: string, name: string, v: number, lo: number, hi: number, hiOpen = true): void {
  if (!(v >= lo && (hiOpen ? v < hi : v <= hi))) throw new Error(`${opt}: invalid ${name} ${v} (must be in [${lo}, ${hi}${hiOpen ? ')' : ']'})`);
}
