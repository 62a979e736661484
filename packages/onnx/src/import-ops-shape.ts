/** Imported operators that change shape or layout: Reshape, Flatten, Transpose, Concat, Squeeze/Unsqueeze, Expand, Split, Pad, Tile. */
import { broadcastShapes, concat, expand, narrow, pad, permute, reshape } from '@ml/tensor';
import type { HostValue } from './import-model.js';
import { fillShape } from './import-ops-constant.js';
import {
  allSmall, type Attrs, fail, guard, host, type Inputs, normAxis, type OpContext, type OpDef, shapeOf, sizeOfShape, type Value,
} from './import-ops-core.js';

function targetShape(ctx: OpContext, inShape: readonly number[], spec: readonly number[], allowZero: boolean): number[] {
  const out = spec.map((d, i) => (d === 0 && !allowZero ? (i < inShape.length ? inShape[i] : fail(ctx, `shape [${spec.join(', ')}] copies dim ${i} that input [${inShape.join(', ')}] lacks`)) : d));
  const free = out.filter((d) => d === -1).length;
  if (free > 1 || out.some((d) => !Number.isInteger(d) || d < -1)) fail(ctx, `shape [${spec.join(', ')}] is not a valid target shape`);
  const known = out.filter((d) => d !== -1).reduce((p, d) => p * d, 1);
  const n = sizeOfShape(inShape);
  if (free === 1) {
    if (known === 0 || n % known !== 0) fail(ctx, `cannot reshape [${inShape.join(', ')}] to [${spec.join(', ')}]`);
    return out.map((d) => (d === -1 ? n / known : d));
  }
  if (known !== n) fail(ctx, `cannot reshape [${inShape.join(', ')}] (${n} elements) to [${out.join(', ')}]`);
  return out;
}

export const reshapeOp: OpDef = {
  attrs: { allowzero: 'int', shape: 'ints' },
  minInputs: 1,
  host: (ctx, [x, s], a) => (x && s ? [{ ...x, shape: targetShape(ctx, x.shape, ctx.ints(s, 'shape'), a.int('allowzero', 0) === 1) }] : null),
  run: (ctx, [xv, sv], a) => {
    const x = ctx.tensor(xv as Value);
    const spec = sv !== undefined ? ctx.ints(sv, 'shape') : a.ints('shape') ?? fail(ctx, 'no shape given');
    return [reshape(x, targetShape(ctx, x.shape, spec, a.int('allowzero', 0) === 1))];
  },
};

export const flattenOp: OpDef = {
  attrs: { axis: 'int' },
  minInputs: 1,
  run: (ctx, [xv], a) => {
    const x = ctx.tensor(xv as Value);
    const r = x.ndim;
    let axis = a.int('axis', 1);
    if (!Number.isInteger(axis) || axis < -r || axis > r) fail(ctx, `axis ${axis} is out of range for rank ${r}`);
    if (axis < 0) axis += r;
    return [reshape(x, [sizeOfShape(x.shape.slice(0, axis)), sizeOfShape(x.shape.slice(axis))])];
  },
};

export const transposeOp: OpDef = {
  attrs: { perm: 'ints' },
  minInputs: 1,
  run: (ctx, [xv], a) => {
    const x = ctx.tensor(xv as Value);
    const perm = a.ints('perm') ?? x.shape.map((_, i) => x.ndim - 1 - i);
    if (perm.length !== x.ndim || new Set(perm).size !== perm.length || perm.some((p) => !Number.isInteger(p) || p < 0 || p >= x.ndim)) {
      fail(ctx, `perm [${perm.join(', ')}] is not a permutation of the ${x.ndim} dims of [${x.shape.join(', ')}]`);
    }
    return [permute(x, perm)];
  },
};

function hostConcat(ctx: OpContext, xs: readonly HostValue[], axis: number): HostValue {
  const r = xs[0].shape.length;
  const ax = normAxis(ctx, axis, r);
  for (const x of xs) {
    if (x.dtype !== xs[0].dtype || x.shape.length !== r || x.shape.some((d, i) => i !== ax && d !== xs[0].shape[i])) {
      fail(ctx, `inputs [${xs[0].shape.join(', ')}] and [${x.shape.join(', ')}] cannot be joined on axis ${axis}`);
    }
  }
  const shape = [...xs[0].shape];
  shape[ax] = xs.reduce((s, x) => s + x.shape[ax], 0);
  const outer = sizeOfShape(shape.slice(0, ax));
  const out: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const x of xs) {
      const block = sizeOfShape(x.shape.slice(ax));
      for (let j = 0; j < block; j++) out.push(x.data[o * block + j]);
    }
  }
  return host(xs[0].dtype, shape, out);
}

export const concatOp: OpDef = {
  attrs: { axis: 'int' },
  minInputs: 1,
  host: (ctx, inputs, a) => {
    if (!a.has('axis')) fail(ctx, 'attribute axis is required');
    const xs = inputs.filter((v): v is HostValue => v !== undefined);
    return allSmall(xs) ? [hostConcat(ctx, xs, a.int('axis', 0))] : null;
  },
  run: (ctx, inputs, a) => {
    if (!a.has('axis')) fail(ctx, 'attribute axis is required');
    const present = inputs.filter((v): v is Value => v !== undefined);
    guard(ctx, [present.reduce((n, v) => n + sizeOfShape(shapeOf(v)), 0)]);
    const xs = present.map((v) => ctx.tensor(v));
    const nonEmpty = xs.filter((t) => t.size > 0 || xs.length === 1);
    return [concat(nonEmpty.length ? nonEmpty : xs, normAxis(ctx, a.int('axis', 0), xs[0].ndim))];
  },
};

function axesOf(ctx: OpContext, inputs: Inputs | readonly (HostValue | undefined)[], a: Attrs): number[] | null {
  if (ctx.opset >= 13) return inputs[1] !== undefined ? ctx.ints(inputs[1], 'axes') : null;
  return a.ints('axes');
}

function squeezedShape(ctx: OpContext, shape: readonly number[], axes: number[] | null): number[] {
  if (axes === null) return shape.filter((d) => d !== 1);
  const ax = axes.map((x) => normAxis(ctx, x, shape.length));
  for (const x of ax) if (shape[x] !== 1) fail(ctx, `cannot squeeze dim ${x} of size ${shape[x]} in [${shape.join(', ')}]`);
  return shape.filter((_, i) => !ax.includes(i));
}

function unsqueezedShape(ctx: OpContext, shape: readonly number[], axes: number[] | null): number[] {
  if (axes === null) return fail(ctx, 'axes are required');
  const r = shape.length + axes.length;
  const ax = axes.map((x) => normAxis(ctx, x, r)).sort((p, q) => p - q);
  if (new Set(ax).size !== ax.length) fail(ctx, `axes [${axes.join(', ')}] repeat a dim`);
  const out = [...shape];
  for (const x of ax) out.splice(x, 0, 1);
  return out;
}

export const squeezeOp: OpDef = {
  attrs: { axes: 'ints' },
  minInputs: 1,
  host: (ctx, inputs, a) => (inputs[0] ? [{ ...inputs[0], shape: squeezedShape(ctx, inputs[0].shape, axesOf(ctx, inputs, a)) }] : null),
  run: (ctx, inputs, a) => {
    const x = ctx.tensor(inputs[0] as Value);
    return [reshape(x, squeezedShape(ctx, x.shape, axesOf(ctx, inputs, a)))];
  },
};

export const unsqueezeOp: OpDef = {
  attrs: { axes: 'ints' },
  minInputs: 1,
  host: (ctx, inputs, a) => (inputs[0] ? [{ ...inputs[0], shape: unsqueezedShape(ctx, inputs[0].shape, axesOf(ctx, inputs, a)) }] : null),
  run: (ctx, inputs, a) => {
    const x = ctx.tensor(inputs[0] as Value);
    return [reshape(x, unsqueezedShape(ctx, x.shape, axesOf(ctx, inputs, a)))];
  },
};

export const expandOp: OpDef = {
  attrs: {},
  minInputs: 2,
  run: (ctx, [xv, sv]) => {
    const x = ctx.tensor(xv as Value);
    const spec = fillShape(ctx, sv as Value);
    const shape = broadcastShapes('Expand', x.shape, spec);
    guard(ctx, shape);
    return [expand(x, shape)];
  },
};

export const splitOp: OpDef = {
  attrs: { axis: 'int', split: 'ints', num_outputs: 'int' },
  minInputs: 1,
  run: (ctx, [xv, sv], a) => {
    const x = ctx.tensor(xv as Value);
    const axis = normAxis(ctx, a.int('axis', 0), x.ndim);
    const n = x.shape[axis];
    const k = ctx.node.outputs.length;
    let sizes = sv !== undefined ? ctx.ints(sv, 'split') : a.ints('split');
    if (!sizes) {
      const each = Math.ceil(n / k);
      sizes = Array.from({ length: k }, (_, i) => Math.max(0, Math.min(each, n - i * each)));
    }
    if (sizes.length !== k || sizes.some((s) => s < 0) || sizes.reduce((p, q) => p + q, 0) !== n) fail(ctx, `split [${sizes.join(', ')}] does not divide dim ${n} into ${k} outputs`);
    let at = 0;
    return sizes.map((s) => {
      const part = narrow(x, axis, at, s);
      at += s;
      return part;
    });
  },
};

export const padOp: OpDef = {
  attrs: { mode: 'string', pads: 'ints', value: 'float' },
  minInputs: 1,
  run: (ctx, [xv, pv, cv, av], a) => {
    const x = ctx.tensor(xv as Value);
    const mode = a.string('mode', 'constant');
    if (mode !== 'constant') fail(ctx, `mode '${mode}' is not supported (constant is)`);
    const pads = ctx.opset >= 11 ? (pv !== undefined ? ctx.ints(pv, 'pads') : fail(ctx, 'input pads is required')) : a.ints('pads') ?? fail(ctx, 'attribute pads is required');
    const value = ctx.opset >= 11 ? (cv !== undefined ? ctx.scalar(cv, 'constant_value') : 0) : a.float('value', 0);
    const axes = av !== undefined ? ctx.ints(av, 'axes').map((d) => normAxis(ctx, d, x.ndim)) : x.shape.map((_, i) => i);
    if (pads.length !== 2 * axes.length) fail(ctx, `pads [${pads.join(', ')}] must hold ${2 * axes.length} values`);
    // ONNX: [begin of each axis…, end of each axis…]; F.pad order: last dim first, [begin, end] each
    const begin = x.shape.map(() => 0);
    const end = x.shape.map(() => 0);
    axes.forEach((d, i) => {
      begin[d] = pads[i];
      end[d] = pads[i + axes.length];
    });
    guard(ctx, x.shape.map((n, d) => n + begin[d] + end[d]));
    const torchOrder: number[] = [];
    for (let d = x.ndim - 1; d >= 0; d--) torchOrder.push(begin[d], end[d]);
    return [pad(x, torchOrder, value)];
  },
};

export const tileOp: OpDef = {
  attrs: {},
  minInputs: 2,
  run: (ctx, [xv, rv]) => {
    const x = ctx.tensor(xv as Value);
    const reps = ctx.ints(rv as Value, 'repeats');
    if (reps.length !== x.ndim || reps.some((r) => !Number.isInteger(r) || r < 0)) fail(ctx, `repeats [${reps.join(', ')}] must be ${x.ndim} non-negative integers`);
    const out = x.shape.map((d, i) => d * reps[i]);
    guard(ctx, out);
    // [d0, d1, …] → [1, d0, 1, d1, …] → expand to [r0, d0, r1, d1, …] → [r0·d0, r1·d1, …]
    const inter = x.shape.flatMap((d) => [1, d]);
    const wide = x.shape.flatMap((d, i) => [reps[i], d]);
    return [reshape(expand(reshape(x, inter), wide), out)];
  },
};
