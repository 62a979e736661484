/**
 * Pooling read straight from the image (no patch matrix): one invocation per output for
 * the forward passes. Max pooling's gradient without atomics: when the windows do not
 * overlap (stride ≥ the dilated kernel, as in 2×2 pooling) each window writes its own
 * elements' gradients into a zeroed buffer; otherwise two passes — each window's share
 * dy / (number of its elements equal to its max) first, then each input element sums the
 * shares of the windows whose max it equals.
 */
import type { Im2ColParams } from '@ml/tensor';
import type { View } from '@ml/tensor/backend';
import { grid, patchParams, type KernelCall } from '../kernels.js';
import { decode, GROUP, kernel, linearMain, Params, position } from '../wgsl.js';

/** [N, C, H, W] → [N, C, oh, ow] */
export interface PoolShapes {
  N: number;
  C: number;
  H: number;
  W: number;
  oh: number;
  ow: number;
}

const linearGrid = (n: number) => grid(Math.ceil(n / GROUP));


/**
 * The loop over output (c2, c3)'s window of the plane at `base`: `each` runs for every
 * element inside the image with its value in `v`; `inside` counts them.
 */
function windowLoop(params: Params, x: View, q: ReturnType<typeof patchParams>, each: string): string {
  const [s2, s3] = [params.int(x.strides[2]), params.int(x.strides[3])];
  return `  var inside = 0;
  for (var ki = 0; ki < ${q.kh}; ki++) {
    let iy = c2 * ${q.sh} - ${q.pt} + ki * ${q.dh};
    if (iy < 0 || iy >= ${q.H}) { continue; }
    for (var kj = 0; kj < ${q.kw}; kj++) {
      let ix = c3 * ${q.sw} - ${q.pl} + kj * ${q.dw};
      if (ix < 0 || ix >= ${q.W}) { continue; }
      let v = X[base + iy * ${s2} + ix * ${s3}];
${each}
      inside++;
    }
  }`;
}

/**
 * What the kernels with one invocation per output position share: their parameters, the
 * patch geometry, the output count, the decoded position (c0…c3) and the WGSL that finds
 * the start of its input plane (`base`, which windowLoop reads).
 */
function outputWindows(x: View, p: Im2ColParams, s: PoolShapes) {
  const params = new Params();
  const q = patchParams(params, p, s);
  const n = s.N * s.C * s.oh * s.ow;
  const c = decode(params, 'i', [s.N, s.C, s.oh, s.ow], 'c');
  const base = position(params, x.offset, x.strides.slice(0, 2), c.coords.slice(0, 2));
  return { params, q, n, c, head: `${c.code}  let base = ${base};\n` };
}

/**
 * Max over each window: NaN wins (and stays), and a window reaching into the padding
 * takes `padValue` when that is larger — the cpu backend's rule.
 */
export function maxPool2dKernel(x: View, p: Im2ColParams, s: PoolShapes): KernelCall {
  const { params, q, n, head } = outputWindows(x, p, s);
  const pv = params.float(p.padValue);
  const body = `${head}  var m = -inf_like(0.0);
  var seen = false;
${windowLoop(params, x, q, '      if (!is_nan(m) && (!seen || v > m || is_nan(v))) { m = v; }\n      seen = true;')}
  if (inside < ${q.kh} * ${q.kw} && ${pv} > m) { m = ${pv}; }
  O[i] = m;`;
  const source = kernel(params, [{ name: 'X', elem: 'f32' }, { name: 'O', elem: 'f32', write: true }], linearMain(params, n, body));
  return { source, params, groups: linearGrid(n) };
}

/**
 * Mean over each window: the sum of the elements inside the image over kh·kw
 * (`countIncludePad`: zero padding counted) or over how many lie inside.
 */
export function avgPool2dKernel(x: View, p: Im2ColParams, s: PoolShapes, countIncludePad: boolean): KernelCall {
  const { params, q, n, head } = outputWindows(x, p, s);
  const divisor = countIncludePad ? `f32(${q.kh} * ${q.kw})` : 'f32(inside)';
  const body = `${head}  var acc = 0.0;
${windowLoop(params, x, q, '      acc += v;')}
  O[i] = acc / ${divisor};`;
  const source = kernel(params, [{ name: 'X', elem: 'f32' }, { name: 'O', elem: 'f32', write: true }], linearMain(params, n, body));
  return { source, params, groups: linearGrid(n) };
}

/**
 * Each window's share of its gradient: dy / count, count = the elements equal to the max
 * y (padding that ties counts kh·kw − inside) — the cpu backend's (mask · dy) / count with
 * the mask applied by the next pass.
 */
export function maxPoolShareKernel(x: View, y: View, dy: View, p: Im2ColParams, s: PoolShapes): KernelCall {
  const { params, q, n, c, head } = outputWindows(x, p, s);
  const yAt = position(params, y.offset, y.strides, c.coords);
  const dAt = position(params, dy.offset, dy.strides, c.coords);
  const pv = params.float(p.padValue);
  const body = `${head}  let m = Y[${yAt}];
  var count = 0;
${windowLoop(params, x, q, '      count += select(0, 1, v == m);')}
  if (inside < ${q.kh} * ${q.kw} && ${pv} == m) { count += ${q.kh} * ${q.kw} - inside; }
  O[i] = DY[${dAt}] / f32(count);`;
  const bindings = [{ name: 'X', elem: 'f32' }, { name: 'Y', elem: 'f32' }, { name: 'DY', elem: 'f32' }, { name: 'O', elem: 'f32', write: true }] as const;
  const source = kernel(params, bindings, linearMain(params, n, body));
  return { source, params, groups: linearGrid(n) };
}

/**
 * dx: each input element gathers, over the windows that hold it, [x = the window's max] ·
 * its share (`share` contiguous [N, C, oh, ow]).
 */
export function maxPoolGatherKernel(x: View, y: View, p: Im2ColParams, s: PoolShapes): KernelCall {
  const params = new Params();
  const q = patchParams(params, p, s);
  const n = s.N * s.C * s.H * s.W;
  const c = decode(params, 'i', [s.N, s.C, s.H, s.W], 'c');
  const xAt = position(params, x.offset, x.strides, c.coords);
  const yBase = position(params, y.offset, y.strides.slice(0, 2), c.coords.slice(0, 2));
  const [ys2, ys3] = [params.int(y.strides[2]), params.int(y.strides[3])];
  const plane = params.int(s.oh * s.ow);
  const body = `${c.code}  let v = X[${xAt}];
  let yBase = ${yBase};
  let sBase = (c0 * ${params.int(s.C)} + c1) * ${plane};
  var acc = 0.0;
  for (var ki = 0; ki < ${q.kh}; ki++) {
    let ty = c2 + ${q.pt} - ki * ${q.dh};
    let oy = ty / ${q.sh};
    if (ty < 0 || oy * ${q.sh} != ty || oy >= ${q.oh}) { continue; }
    for (var kj = 0; kj < ${q.kw}; kj++) {
      let tx = c3 + ${q.pl} - kj * ${q.dw};
      let ox = tx / ${q.sw};
      if (tx < 0 || ox * ${q.sw} != tx || ox >= ${q.ow}) { continue; }
      acc += select(0.0, 1.0, v == Y[yBase + oy * ${ys2} + ox * ${ys3}]) * S[sBase + oy * ${q.ow} + ox];
    }
  }
  O[i] = acc;`;
  // the shares are bound after the output (the backend's extra buffer)
  const bindings = [{ name: 'X', elem: 'f32' }, { name: 'Y', elem: 'f32' }, { name: 'O', elem: 'f32', write: true }, { name: 'S', elem: 'f32' }] as const;
  const source = kernel(params, bindings, linearMain(params, n, body));
  return { source, params, groups: linearGrid(n) };
}

/** Whether no two windows share an element (then each window can write its elements' gradients). */
export function disjointWindows(p: Im2ColParams): boolean {
  return [0, 1].every((i) => p.stride[i] >= p.dilation[i] * (p.kernel[i] - 1) + 1);
}

/**
 * Max pooling's gradient for disjoint windows, one invocation per window, into `O` (zeroed,
 * contiguous [N, C, H, W]): each element gets [x = max]·dy / count, count as in
 * `maxPoolShareKernel` — the cpu backend's arithmetic.
 */
export function maxPoolScatterKernel(x: View, y: View, dy: View, p: Im2ColParams, s: PoolShapes): KernelCall {
  const { params, q, n, c, head } = outputWindows(x, p, s);
  const yAt = position(params, y.offset, y.strides, c.coords);
  const dAt = position(params, dy.offset, dy.strides, c.coords);
  const pv = params.float(p.padValue);
  const body = `${head}  let oBase = (c0 * ${params.int(s.C)} + c1) * ${q.H} * ${q.W};
  let m = Y[${yAt}];
  let g = DY[${dAt}];
  var count = 0;
  {
${windowLoop(params, x, q, '      count += select(0, 1, v == m);')}
    if (inside < ${q.kh} * ${q.kw} && ${pv} == m) { count += ${q.kh} * ${q.kw} - inside; }
  }
${windowLoop(params, x, q, '      O[oBase + iy * ' + q.W + ' + ix] = (select(0.0, 1.0, v == m) * g) / f32(count);')}`;
  const bindings = [{ name: 'X', elem: 'f32' }, { name: 'Y', elem: 'f32' }, { name: 'DY', elem: 'f32' }, { name: 'O', elem: 'f32', write: true }] as const;
  const source = kernel(params, bindings, linearMain(params, n, body));
  return { source, params, groups: linearGrid(n) };
}
