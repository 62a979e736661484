import { checkOptions, formatShape, fromArray, isTensor, onesLike, optionKeys, setGradEnabled, stack, tidy, zerosLike, type Tensor } from '@ml/tensor';
import { propagate } from './engine.js';

/** A tensor, or arrays / plain objects of them (parameters of a model, say). */
export type TensorTree = Tensor | readonly TensorTree[] | { readonly [key: string]: TensorTree };

/** The same structure with tensors replaced by their gradients. */
export type GradTree<T> = T extends Tensor
  ? Tensor
  : T extends readonly unknown[]
    ? { [K in keyof T]: GradTree<T[K]> }
    : T extends object
      ? { [K in keyof T]: GradTree<T[K]> }
      : never;

function mapTree(tree: unknown, f: (t: Tensor) => Tensor): unknown {
  if (isTensor(tree)) return f(tree);
  if (Array.isArray(tree)) return tree.map((v) => mapTree(v, f));
  if (tree !== null && typeof tree === 'object') {
    return Object.fromEntries(Object.entries(tree).map(([k, v]) => [k, mapTree(v, f)]));
  }
  return tree;
}

function treeLeaves(tree: unknown, out: Tensor[] = []): Tensor[] {
  mapTree(tree, (t) => {
    out.push(t);
    return t;
  });
  return out;
}

export interface GradOptions {
  /** which positional arguments to differentiate (default 0); an array returns an array of gradients */
  argnums?: number | readonly number[];
}

/**
 * Core of grad/valueAndGrad: call f with the chosen arguments as differentiable
 * inputs and return f's value and the gradients in the arguments' structure.
 * Arguments that already require grad (e.g. inside an outer `grad`) are used as they
 * are, so the result stays connected and `grad(grad(f))` works.
 */
function evaluate(
  f: (...args: unknown[]) => Tensor,
  args: unknown[],
  argnums: readonly number[],
): { value: Tensor; grads: unknown[]; nested: boolean } {
  for (const i of argnums) {
    if (i < 0 || i >= args.length) throw new RangeError(`grad: argnums ${i} is out of range for ${args.length} arguments`);
  }
  const nested = isNested(args);
  const run = () => {
    const prev = setGradEnabled(true);
    depth++;
    let value: Tensor;
    const callArgs = [...args];
    const targets: Tensor[][] = [];
    try {
      for (const i of argnums) {
        const leaves: Tensor[] = [];
        callArgs[i] = mapTree(args[i], (t) => {
          const x = t.requiresGrad ? t : t.detach();
          if (!x.requiresGrad) x.requiresGrad = true;
          leaves.push(x);
          return x;
        });
        targets.push(leaves);
      }
      value = f(...callArgs);
    } finally {
      depth--;
      setGradEnabled(prev);
    }
    if (!isTensor(value)) throw new TypeError('grad: f must return a Tensor');
    if (value.size !== 1) {
      throw new Error(`grad: f must return a one-element tensor (a loss), got ${formatShape(value.shape)}; use vjp() for other outputs`);
    }
    const wanted = new Set(targets.flat());
    const found = value.requiresGrad ? propagate([value], [onesLike(value)], wanted, nested) : new Map<Tensor, Tensor>();
    const grads = argnums.map((i, k) => {
      let j = 0;
      return mapTree(args[i], () => {
        const x = targets[k][j++];
        return found.get(x) ?? zerosLike(x);
      });
    });
    return { value: nested ? value : value.detach(), grads, nested };
  };
  // Without an outer graph, intermediates are freed at once; otherwise they must live on.
  return nested ? run() : tidy(run);
}

/**
 * How many grad/vjp evaluations are running f right now. Inside one, a gradient must
 * itself be recorded (create_graph), since the outer transform may differentiate it —
 * also through tensors f captures rather than receives.
 */
let depth = 0;
function isNested(args: readonly unknown[]): boolean {
  return depth > 0 || treeLeaves(args).some((t) => t.requiresGrad);
}

type Fn<A extends unknown[]> = (...args: A) => Tensor;

const GRAD_KEYS = optionKeys<GradOptions>()(['argnums']);

/**
 * ∇f: a function returning ∂f/∂(argument 0) in that argument's structure (JAX's grad).
 * `argnums: [0, 2]` returns an array of gradients for those arguments.
 */
export function grad<A extends [TensorTree, ...unknown[]]>(f: Fn<A>): (...args: A) => GradTree<A[0]>;
export function grad<A extends unknown[]>(f: Fn<A>, options: { argnums: number }): (...args: A) => TensorTree;
export function grad<A extends unknown[]>(f: Fn<A>, options: { argnums: readonly number[] }): (...args: A) => TensorTree[];
export function grad<A extends unknown[]>(f: Fn<A>, options: GradOptions = {}): (...args: A) => unknown {
  checkOptions('grad', options, GRAD_KEYS);
  const argnums = options.argnums ?? 0;
  const list = typeof argnums === 'number' ? [argnums] : [...argnums];
  return (...args: A) => {
    const { value, grads, nested } = evaluate(f as unknown as Fn<unknown[]>, args, list);
    if (!nested) value.dispose();
    return typeof argnums === 'number' ? grads[0] : grads;
  };
}

/** f's value together with its gradient (one forward pass). */
export function valueAndGrad<A extends [TensorTree, ...unknown[]]>(f: Fn<A>): (...args: A) => [Tensor, GradTree<A[0]>];
export function valueAndGrad<A extends unknown[]>(f: Fn<A>, options: { argnums: number }): (...args: A) => [Tensor, TensorTree];
export function valueAndGrad<A extends unknown[]>(f: Fn<A>, options: { argnums: readonly number[] }): (...args: A) => [Tensor, TensorTree[]];
export function valueAndGrad<A extends unknown[]>(f: Fn<A>, options: GradOptions = {}): (...args: A) => [Tensor, unknown] {
  checkOptions('valueAndGrad', options, GRAD_KEYS);
  const argnums = options.argnums ?? 0;
  const list = typeof argnums === 'number' ? [argnums] : [...argnums];
  return (...args: A) => {
    const { value, grads } = evaluate(f as unknown as Fn<unknown[]>, args, list);
    return [value, typeof argnums === 'number' ? grads[0] : grads];
  };
}

/**
 * Vector–Jacobian product: for y = f(xs…), returns vᵀ·∂y/∂xᵢ for each input.
 * Differentiable when any input already requires grad.
 */
export function vjp(f: (...xs: Tensor[]) => Tensor, xs: readonly Tensor[], v: Tensor): { value: Tensor; grads: Tensor[] } {
  const nested = isNested(xs);
  const run = () => {
    const prev = setGradEnabled(true);
    depth++;
    let value: Tensor;
    const inputs = xs.map((x) => {
      const t = x.requiresGrad ? x : x.detach();
      t.requiresGrad = true;
      return t;
    });
    try {
      value = f(...inputs);
    } finally {
      depth--;
      setGradEnabled(prev);
    }
    if (v.shape.length !== value.shape.length || v.shape.some((d, i) => d !== value.shape[i])) {
      throw new Error(`vjp: cotangent ${formatShape(v.shape)} does not match output ${formatShape(value.shape)}`);
    }
    const found = value.requiresGrad ? propagate([value], [v], new Set(inputs), nested) : new Map<Tensor, Tensor>();
    return { value: nested ? value : value.detach(), grads: inputs.map((x) => found.get(x) ?? zerosLike(x)) };
  };
  return nested ? run() : tidy(run);
}

/** Jacobian of f at x: shape [...out, ...in] (one reverse pass per output element). */
export function jacobian(f: (x: Tensor) => Tensor, x: Tensor): Tensor {
  return tidy(() => {
    const y = f(x.detach());
    const n = y.size;
    const rows: Tensor[] = [];
    for (let i = 0; i < n; i++) {
      const e = oneHotLike(y, i);
      rows.push(vjp(f, [x], e).grads[0]);
    }
    const stacked = stack(rows.length ? rows : [zerosLike(x)], 0);
    return stacked.reshape([...y.shape, ...x.shape]);
  });
}

/** Hessian of scalar f at x: ∂²f/∂x∂x, shape [...x.shape, ...x.shape]. */
export function hessian(f: (x: Tensor) => Tensor, x: Tensor): Tensor {
  return jacobian((z) => grad(f)(z) as Tensor, x);
}

/** Hessian-vector product H·v of scalar f at x without forming H (reverse-over-reverse). */
export function hvp(f: (x: Tensor) => Tensor, x: Tensor, v: Tensor): Tensor {
  const g = (z: Tensor) => (grad(f)(z) as Tensor).mul(v).sum();
  return grad(g)(x) as Tensor;
}

/** e_i: zeros shaped like y with a 1 at flat position i. */
function oneHotLike(y: Tensor, i: number): Tensor {
  const values = new Float64Array(y.size);
  values[i] = 1;
  return fromArray(values, y.shape, { dtype: y.dtype, backend: y.backend.name });
}
