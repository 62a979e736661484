/** Imported operators that select elements: Gather, Slice and Trilu. */
import { add, cast, fromArray, indexSelect, lt, reshape, sliceView, where, type Tensor } from '@ml/tensor';
import type { HostValue } from './import-model.js';
import {
  allSmall, type Attrs, fail, guard, host, type Inputs, isHost, normAxis, type OpContext, type OpDef, shapeOf, sizeOfShape, SMALL,
  strides, type Value,
} from './import-ops-core.js';

/** Gather's indices as non-negative ints, checked against the axis length. */
function gatherIndices(ctx: OpContext, v: HostValue, n: number): number[] {
  return Array.from(v.data, (i) => {
    const j = i < 0 ? i + n : i;
    if (!Number.isInteger(j) || j < 0 || j >= n) fail(ctx, `index ${i} is out of range for an axis of size ${n}`);
    return j;
  });
}

export const gatherOp: OpDef = {
  attrs: { axis: 'int' },
  minInputs: 2,
  host: (ctx, [x, idx], a) => {
    if (!x || !idx || !allSmall([x, idx])) return null;
    const axis = normAxis(ctx, a.int('axis', 0), x.shape.length);
    const n = x.shape[axis];
    if (sizeOfShape([...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)]) > SMALL) return null;
    const ids = gatherIndices(ctx, idx, n);
    const outer = sizeOfShape(x.shape.slice(0, axis));
    const inner = sizeOfShape(x.shape.slice(axis + 1));
    const out: number[] = [];
    for (let o = 0; o < outer; o++) for (const i of ids) for (let j = 0; j < inner; j++) out.push(x.data[(o * n + i) * inner + j]);
    return [host(x.dtype, [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)], out)];
  },
  run: (ctx, [xv, iv], a) => {
    const x = ctx.tensor(xv as Value);
    const axis = normAxis(ctx, a.int('axis', 0), x.ndim);
    const n = x.shape[axis];
    const iShape = shapeOf(iv as Value);
    guard(ctx, [...x.shape.slice(0, axis), ...iShape, ...x.shape.slice(axis + 1)]);
    let flat: Tensor;
    if (isHost(iv as Value)) {
      flat = fromArray(Int32Array.from(gatherIndices(ctx, iv as HostValue, n)), [sizeOfShape(iShape)], { dtype: 'int32', backend: x.backend.name });
    } else {
      const i = cast(reshape(iv as Tensor, [sizeOfShape(iShape)]), 'int32');
      flat = where(lt(i, 0), add(i, n), i);
    }
    const y = indexSelect(x, axis, flat);
    return [reshape(y, [...x.shape.slice(0, axis), ...iShape, ...x.shape.slice(axis + 1)])];
  },
};

interface SliceSpec {
  axis: number;
  start: number;
  step: number;
  size: number;
}

function sliceSpecs(ctx: OpContext, inputs: Inputs | readonly (HostValue | undefined)[], a: Attrs, shape: readonly number[]): SliceSpec[] {
  let starts: number[];
  let ends: number[];
  let axes: number[] | null;
  let steps: number[] | null = null;
  if (ctx.opset < 10) {
    starts = a.ints('starts') ?? fail(ctx, 'attribute starts is required');
    ends = a.ints('ends') ?? fail(ctx, 'attribute ends is required');
    axes = a.ints('axes');
  } else {
    if (inputs[1] === undefined || inputs[2] === undefined) fail(ctx, 'inputs starts and ends are required');
    starts = ctx.ints(inputs[1], 'starts');
    ends = ctx.ints(inputs[2], 'ends');
    axes = inputs[3] !== undefined ? ctx.ints(inputs[3], 'axes') : null;
    steps = inputs[4] !== undefined ? ctx.ints(inputs[4], 'steps') : null;
  }
  const ax = axes ?? starts.map((_, i) => i);
  if (ends.length !== starts.length || ax.length !== starts.length || (steps && steps.length !== starts.length)) {
    fail(ctx, `starts, ends, axes and steps have different lengths (${starts.length}, ${ends.length}, ${ax.length}, ${steps?.length ?? starts.length})`);
  }
  return starts.map((s0, i) => {
    const axis = normAxis(ctx, ax[i], shape.length);
    const n = shape[axis];
    const step = steps ? steps[i] : 1;
    if (step === 0 || !Number.isFinite(step)) fail(ctx, 'a slice step is 0');
    let s = s0 < 0 ? s0 + n : s0;
    let e = ends[i] < 0 ? ends[i] + n : ends[i];
    if (step > 0) {
      s = Math.min(Math.max(s, 0), n);
      e = Math.min(Math.max(e, 0), n);
    } else {
      s = Math.min(Math.max(s, 0), n - 1);
      e = Math.min(Math.max(e, -1), n - 1);
    }
    return { axis, start: s, step, size: Math.max(0, Math.ceil((e - s) / step)) };
  });
}

export const sliceOp: OpDef = {
  attrs: { starts: 'ints', ends: 'ints', axes: 'ints' },
  minInputs: 1,
  host: (ctx, inputs, a) => {
    const x = inputs[0];
    if (!x || !allSmall(inputs)) return null;
    const specs = sliceSpecs(ctx, inputs, a, x.shape);
    const shape = [...x.shape];
    const start = x.shape.map(() => 0);
    const step = x.shape.map(() => 1);
    for (const s of specs) {
      shape[s.axis] = s.size;
      start[s.axis] = s.start;
      step[s.axis] = s.step;
    }
    const n = sizeOfShape(shape);
    const st = strides(x.shape);
    const os = strides(shape);
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      let rem = i;
      let off = 0;
      for (let d = 0; d < shape.length; d++) {
        const q = Math.floor(rem / os[d]);
        rem -= q * os[d];
        off += (start[d] + q * step[d]) * st[d];
      }
      out[i] = x.data[off];
    }
    return [host(x.dtype, shape, out)];
  },
  run: (ctx, inputs, a) => {
    let x = ctx.tensor(inputs[0] as Value);
    const specs = sliceSpecs(ctx, inputs, a, x.shape);
    const begins = x.shape.map(() => 0);
    const sizes = [...x.shape];
    const steps = x.shape.map(() => 1);
    const reversed: SliceSpec[] = [];
    for (const s of specs) {
      if (s.step > 0) {
        begins[s.axis] = s.start;
        sizes[s.axis] = s.size;
        steps[s.axis] = s.step;
      } else reversed.push(s);
    }
    x = sliceView(x, begins, sizes, steps);
    for (const s of reversed) {
      const idx = Int32Array.from({ length: s.size }, (_, k) => s.start + k * s.step);
      x = indexSelect(x, s.axis, fromArray(idx, [s.size], { dtype: 'int32', backend: x.backend.name }));
    }
    return [x];
  },
};

export const triluOp: OpDef = {
  attrs: { upper: 'int' },
  minInputs: 1,
  run: (ctx, [xv, kv], a) => {
    const x = ctx.tensor(xv as Value);
    if (x.ndim < 2) fail(ctx, `input [${x.shape.join(', ')}] must have at least 2 dims`);
    const k = kv !== undefined ? ctx.scalar(kv, 'k') : 0;
    const upper = a.int('upper', 1) === 1;
    const [R, C] = x.shape.slice(-2);
    // keep j − i ≥ k (upper) or j − i ≤ k (lower); the mask is made on the host
    const keep = new Uint8Array(R * C);
    for (let i = 0; i < R; i++) for (let j = 0; j < C; j++) keep[i * C + j] = (upper ? j - i >= k : j - i <= k) ? 1 : 0;
    const mask = fromArray(keep, [R, C], { dtype: 'bool', backend: x.backend.name });
    return [where(mask, x, 0)];
  },
};
