/**
 * One kernel of the module, defined once: its parameters by name and type (the order of
 * the exported function's arguments, and so its TypeScript signature), its locals, its
 * instructions, and, for a kernel the thread pool may split, how its arguments split.
 */
import { fn, type ArrayNames, type Fn, type FunctionDef, type Locals, type Params, type ScalarNames } from '../assembler.js';

/** What a kernel's instructions may depend on besides its own definition. */
export interface BuildContext {
  /** whether the module uses relaxed SIMD's fused multiply-add in its products */
  readonly fma: boolean;
  /** `call` of another kernel of the module, by its name (its arguments on the stack) */
  call(name: string): number[];
}

/**
 * How the thread pool splits a call into ranges of units (images, planes, blocks,
 * vectors, rows): the argument counting the units, the pointers that move on by a unit's
 * bytes (given by the caller: they depend on the shapes), and optionally an argument that
 * a range's last unit runs with (alone) — for a kernel whose vector path writes a little
 * past its unit, into the next one, which another thread may already have written.
 */
export interface SplitSpec<N extends string> {
  readonly units: N;
  readonly pointers: readonly N[];
  readonly last?: { readonly arg: N; readonly value: number };
}

/** A kernel: its parameters (names and types, in order), its split (or undefined), and how to build its function. */
export interface Kernel<P extends Params = Params, S extends SplitSpec<keyof P & string> | undefined = SplitSpec<keyof P & string> | undefined> {
  readonly params: P;
  readonly split: S;
  /** the function, named `name`, for a module built as `ctx` says */
  build(name: string, ctx: BuildContext): FunctionDef;
}

/** The instruction builder a kernel's body gets: its parameters' and locals' names. */
export type KernelFn<P extends Params, L extends Locals> = Fn<ScalarNames<P, L>, ArrayNames<L>>;

/**
 * A kernel from named, typed parameters and locals (numbered in the records' order) and a
 * body written with those names; `split` where the thread pool may divide its work.
 */
export function kernel<P extends Params, L extends Locals, S extends SplitSpec<keyof P & string> | undefined = undefined>(def: {
  params: P;
  locals: L;
  split?: S;
  body: (f: KernelFn<P, L>, ctx: BuildContext) => number[];
}): Kernel<P, S> {
  return {
    params: def.params,
    split: def.split as S,
    build: (name, ctx) => fn(name, def.params, def.locals, (f) => def.body(f, ctx)),
  };
}

type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;
type LastOf<U> = UnionToIntersection<U extends unknown ? () => U : never> extends () => infer R ? R : never;
/** The members of a union as a tuple (in no particular order: only its length is used here). */
type UnionToTuple<U, L = LastOf<U>> = [U] extends [never] ? [] : [...UnionToTuple<Exclude<U, L>>, L];

/**
 * The JavaScript signature of a kernel with parameters `P`: one number per parameter
 * (i32, f32 and f64 all cross as numbers), addresses in bytes.
 */
export type Signature<P extends Params> = (...args: Numbers<UnionToTuple<keyof P>>) => void;
/** A tuple of numbers as long as `T`. */
type Numbers<T extends unknown[]> = { [I in keyof T]: number };

/** A kernel's arguments by name. */
export type NamedArgs<P extends Params> = { [N in keyof P]: number };
