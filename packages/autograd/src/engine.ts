import { add, concat, formatShape, isGradEnabled, keep, mul, onesLike, setGradEnabled, tidy, zeros, type Tensor } from '@ml/tensor';
import { installAutograd, type GradNode } from '@ml/tensor/backend';

/** Tensors reachable from `roots` through tape nodes, outputs before their inputs. */
function reverseTopological(roots: readonly Tensor[]): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // iterative post-order DFS (graphs of long training loops are deep)
  const stack: { t: Tensor; next: number }[] = [];
  for (const r of roots) {
    if (seen.has(r)) continue;
    seen.add(r);
    stack.push({ t: r, next: 0 });
    while (stack.length) {
      const top = stack[stack.length - 1];
      const inputs = top.t.gradNode?.inputs ?? [];
      if (top.next < inputs.length) {
        const child = inputs[top.next++];
        if (child.requiresGrad && !seen.has(child)) {
          seen.add(child);
          stack.push({ t: child, next: 0 });
        }
      } else {
        order.push(top.t);
        stack.pop();
      }
    }
  }
  return order.reverse();
}

/**
 * Core reverse pass: propagate `seeds` (∂L/∂output for each output) back through the
 * tape and return ∂L/∂t for every tensor in `wanted` that the outputs depend on.
 * With `createGraph`, the gradient computation is itself recorded.
 */
export function propagate(
  outputs: readonly Tensor[],
  seeds: readonly Tensor[],
  wanted: ReadonlySet<Tensor>,
  createGraph: boolean,
): Map<Tensor, Tensor> {
  const grads = new Map<Tensor, Tensor>();
  const accumulate = (t: Tensor, g: Tensor): void => {
    if (g.shape.length !== t.shape.length || g.shape.some((d, i) => d !== t.shape[i])) {
      throw new Error(`autograd: gradient ${formatShape(g.shape)} does not match tensor ${formatShape(t.shape)}`);
    }
    const prev = grads.get(t);
    grads.set(t, prev ? add(prev, g) : g);
  };
  outputs.forEach((o, i) => accumulate(o, seeds[i]));
  // Gradients of slices of one tensor wait here until all are in, then join in one pass
  // (see joinSlices): a loop over a sequence's time steps takes T slices of one tensor,
  // and padding each one's gradient to the full size would cost O(T²).
  const pending = new Map<Tensor, SliceGrad[]>();
  const prevMode = setGradEnabled(createGraph);
  try {
    for (const t of reverseTopological(outputs)) {
      const parts = pending.get(t);
      if (parts !== undefined) {
        pending.delete(t);
        for (const g of joinSlices(t, parts)) accumulate(t, g);
      }
      const node = t.gradNode;
      const dy = grads.get(t);
      if (!node || !dy) continue;
      // the rule lives on the op's definition (packages/tensor/src/ops/<family>.ts)
      if (node.def.grad === undefined) throw new Error(`autograd: op '${node.op}' has no gradient rule (it is differentiated through its composite, so it should not have been recorded)`);
      const needs = node.inputs.map((x) => x.requiresGrad);
      if (node.op === 'slice' && needs[0]) {
        const x = node.inputs[0];
        const attrs = node.attrs as SliceAttrs;
        const list = pending.get(x) ?? [];
        list.push({ dy, node, begins: attrs.begins, sizes: attrs.sizes, steps: attrs.steps });
        pending.set(x, list);
        continue;
      }
      const inputGrads = node.def.grad(dy, node, needs);
      node.inputs.forEach((x, i) => {
        const g = inputGrads[i];
        if (g && needs[i]) accumulate(x, g);
      });
    }
  } finally {
    setGradEnabled(prevMode);
  }
  const out = new Map<Tensor, Tensor>();
  for (const w of wanted) {
    const g = grads.get(w);
    if (g) out.set(w, g);
  }
  return out;
}

interface SliceAttrs {
  begins: readonly number[];
  sizes: readonly number[];
  steps: readonly number[];
}

/** The gradient of one slice of a tensor, waiting to be joined with the others. */
interface SliceGrad extends SliceAttrs {
  dy: Tensor;
  node: GradNode;
}

/**
 * The gradients of slices of `x`, as tensors of x's shape to add up. When the slices cut
 * `x` along one axis only (whole along the others, step 1) and do not overlap, as a
 * sequence's time steps do, they are joined with zeros between them in one concat: O(size
 * of x) instead of one full-size padding per slice. A single such slice (a narrow, a
 * select) is joined the same way: a concat moves whole rows on backends with a copy kernel
 * for it, where the slice's zero padding is a loop over elements. Otherwise each slice's
 * own rule (a zero padding of its gradient) gives one tensor each.
 */
function joinSlices(x: Tensor, parts: readonly SliceGrad[]): Tensor[] {
  const own = (): Tensor[] => parts.map((p) => p.node.def.grad!(p.dy, p.node, [true])[0]!);
  const axisOf = (p: SliceGrad): number | null => {
    const cut = p.sizes.flatMap((size, d) => (p.begins[d] !== 0 || size !== x.shape[d] ? [d] : []));
    return p.steps.every((s) => s === 1) && cut.length <= 1 ? (cut[0] ?? 0) : null;
  };
  const axis = axisOf(parts[0]);
  if (axis === null || parts.some((p) => axisOf(p) !== axis || p.sizes.some((n) => n === 0))) return own();
  const sorted = [...parts].sort((a, b) => a.begins[axis] - b.begins[axis]);
  // overlapping slices (one index taken twice): add their paddings instead
  if (sorted.some((p, i) => i > 0 && p.begins[axis] < sorted[i - 1].begins[axis] + sorted[i - 1].sizes[axis])) return own();
  const pieces: Tensor[] = [];
  let at = 0;
  const gap = (length: number): Tensor => zeros(x.shape.map((n, d) => (d === axis ? length : n)), { dtype: parts[0].dy.dtype, backend: x.backend.name });
  for (const p of sorted) {
    if (p.begins[axis] > at) pieces.push(gap(p.begins[axis] - at));
    pieces.push(p.dy);
    at = p.begins[axis] + p.sizes[axis];
  }
  if (at < x.shape[axis]) pieces.push(gap(x.shape[axis] - at));
  return [concat(pieces, axis)];
}

/** Leaves that require grad, reachable from `root`. */
function leavesOf(root: Tensor): Set<Tensor> {
  const leaves = new Set<Tensor>();
  for (const t of reverseTopological([root])) if (t.isLeaf && t.requiresGrad) leaves.add(t);
  return leaves;
}

/**
 * PyTorch's `loss.backward()`: accumulate ∂root/∂leaf into `leaf.grad` for every leaf
 * that requires grad. `gradient` is required for non-scalar roots.
 */
export function backward(root: Tensor, gradient?: Tensor): void {
  root.assertAlive('backward');
  if (!root.requiresGrad) {
    throw new Error('backward: tensor does not require grad — no input of the computation had requiresGrad set');
  }
  if (!gradient && root.size !== 1) {
    throw new Error(`backward: gradient can be implicit only for one-element outputs; got ${formatShape(root.shape)} — pass a gradient tensor`);
  }
  if (gradient && (gradient.shape.length !== root.shape.length || gradient.shape.some((d, i) => d !== root.shape[i]))) {
    throw new Error(`backward: gradient ${formatShape(gradient.shape)} does not match output ${formatShape(root.shape)}`);
  }
  const leaves = leavesOf(root);
  const grads = tidy(() => {
    const seed = gradient ? mul(gradient, 1) : onesLike(root);
    // leaf gradients are stored contiguous (PyTorch's layout contract), so optimizers and
    // users read them without transposed or broadcast strides
    return [...propagate([root], [seed], leaves, false).entries()].map(([leaf, g]) => ({ leaf, g: g.contiguous() }));
  });
  const prev = setGradEnabled(false);
  try {
    for (const { leaf, g } of grads) {
      const old = leaf.grad;
      leaf.grad = keep(old ? add(old, g) : g);
      if (old) {
        old.dispose();
        g.dispose();
      }
    }
  } finally {
    setGradEnabled(prev);
  }
}

function withGradMode<T>(on: boolean, fn: () => T): T {
  const prev = setGradEnabled(on);
  try {
    return fn();
  } finally {
    setGradEnabled(prev);
  }
}

/** Run `fn` without recording gradients (inference, parameter updates). */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/** Run `fn` with gradient recording on, even inside `noGrad`. */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}

export { isGradEnabled };

installAutograd({ backward });
