/**
 * Op definitions: one typed record per op, holding its name, its gradient rule and its
 * fused kernel (the call of an optional backend method). The op's function, next to its
 * definition in `ops/<family>.ts`, checks the arguments, works out the output shape and
 * gives the composite (primitives only); `runOp`/`prim` in `ops/prim.ts` run it. Autograd
 * reads the gradient rule from the definition a graph node points to, so a definition is
 * the one place an op's parts meet. See ARCHITECTURE.md, "how to add an op".
 */
import type { Backend, DataId, SaveForBackward, View } from './backend.js';
import type { Tensor } from './tensor.js';

/** What the tape remembers about one application of an op. */
export interface GradNode<A extends object = object> {
  /** the op's name (its definition's) */
  readonly op: string;
  readonly def: OpDef<A>;
  readonly inputs: readonly Tensor[];
  readonly attrs: Readonly<A>;
  /** the op's output (single-output ops only record) */
  readonly output: Tensor;
  /** tensors a fused kernel kept for the backward pass (PyTorch's save_for_backward) */
  readonly saved: readonly Tensor[];
  readonly id: number;
}

/** A gradient rule: ∂L/∂input for each input (null: none) from `dy` = ∂L/∂output. */
export type GradRule<A extends object = object> = (dy: Tensor, node: GradNode<A>, needs: readonly boolean[]) => (Tensor | null)[];

/**
 * One op. `A` is the type of its attributes, the non-tensor arguments the tape keeps
 * (a misspelt attribute is a compile error where the op runs and where its rule reads it).
 */
export interface OpDef<A extends object = object> {
  readonly name: string;
  /**
   * The chain rule for the op, written with tensor ops (so gradients are recorded and can
   * be differentiated again). Absent: the op is differentiated through its composite, and
   * its fused kernel runs only when no gradient is needed.
   */
  grad?(dy: Tensor, node: GradNode<A>, needs: readonly boolean[]): (Tensor | null)[];
  /**
   * The fused kernel: call the backend's method for this op (an optional part of the
   * `Backend` contract, see `FusedKernels`) on the inputs' views. Null (or a backend
   * without the method) declines, and the composite runs. `save` keeps buffers for the
   * backward pass on the graph node (null when no gradient will be asked for).
   */
  fused?(backend: Backend, inputs: readonly View[], attrs: A, save: SaveForBackward): DataId | null;
}

const registry = new Map<string, OpDef>();

/** Register an op definition under its name; a second op of the same name is an error. */
export function defineOp<A extends object>(def: OpDef<A>): OpDef<A> {
  if (registry.has(def.name)) throw new Error(`defineOp: an op named '${def.name}' is already defined`);
  registry.set(def.name, def as OpDef);
  return def;
}

/** The definition of the op named `name` (autograd's rule table and the docs read these). */
export function getOpDef(name: string): OpDef {
  const def = registry.get(name);
  if (def === undefined) throw new Error(`getOpDef: no op named '${name}' is defined`);
  return def;
}

/** Every defined op, in definition order. */
export function opDefs(): OpDef[] {
  return [...registry.values()];
}
