/**
 * A new op in one file: softsign(x) = scale · x / (1 + |x|), its attributes, composite,
 * gradient rule and fused kernel side by side, as ARCHITECTURE.md ("how to add an op")
 * describes. `checkCustomOp(backend)` runs it on a backend and checks that the fused kernel
 * ran (also while recording), that it equals the composite, and that its gradient matches
 * central differences (gradcheck and gradgradcheck where the backend reads synchronously).
 * The cpu, wasm and webgpu test suites each call it, through `@ml/autograd/testing`.
 */
import { abs, add, contiguousStrides, div, fromArray, getBackend, mul, pow, randn, sum, type Tensor } from '@ml/tensor';
import { defineOp, isContiguousView, runOp, type Backend, type DataId, type View } from '@ml/tensor/backend';
import { backward } from '../engine.js';
import { gradcheck, gradgradcheck } from '../gradcheck.js';

/** Its attributes: a typed record (a misspelt one is a compile error where it is read). */
interface SoftsignAttrs {
  scale: number;
}

/** How often the fused kernel ran, so a silent fallback to the composite fails the check. */
export const softsignKernelCalls = { count: 0 };

/**
 * The fused kernel: one pass over the elements where the backend's memory is the host's
 * (cpu, wasm); elsewhere (webgpu) the backend's own primitives on its buffers, with no tensor
 * or graph node in between. A non-contiguous input is declined: the composite runs.
 */
function softsignKernel(b: Backend, [x]: readonly View[], a: SoftsignAttrs): DataId | null {
  if (!isContiguousView(x)) return null;
  softsignKernelCalls.count++;
  const n = x.shape.reduce((p, d) => p * d, 1);
  if (b.hostArray !== undefined) {
    const src = b.hostArray(x.data);
    const out = x.dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = (a.scale * src[x.offset + i]) / (1 + Math.abs(src[x.offset + i]));
    return b.write(out, x.dtype);
  }
  const view = (data: DataId): View => ({ data, dtype: x.dtype, shape: x.shape, strides: contiguousStrides(x.shape), offset: 0 });
  const [ones, scale, absX] = [b.fill(n, x.dtype, 1), b.fill(n, x.dtype, a.scale), b.unary('abs', x)];
  const denom = b.binary('add', view(absX), view(ones), x.dtype);
  const scaled = b.binary('mul', x, view(scale), x.dtype);
  const out = b.binary('div', view(scaled), view(denom), x.dtype);
  for (const d of [ones, scale, absX, denom, scaled]) b.dispose(d);
  return out;
}

/** The op definition. Gradient: d/dx = scale / (1 + |x|)², with tensor ops (so it is differentiable again). */
export const softsignOp = defineOp<SoftsignAttrs>({
  name: 'softsign',
  grad: (dy, node) => [mul(dy, div(node.attrs.scale, pow(add(abs(node.inputs[0]), 1), 2)))],
  fused: softsignKernel,
});

/** The composite: plain ops, the reference and the fallback. */
function softsignComposite(x: Tensor, scale: number): Tensor {
  return div(mul(x, scale), add(abs(x), 1));
}

/** The op as users call it: the output's shape and dtype, and the composite. */
export function softsign(x: Tensor, scale = 1): Tensor {
  return runOp(softsignOp, [x], { scale }, { shape: x.shape, dtype: x.dtype }, () => softsignComposite(x, scale));
}

function fail(backend: string, what: string): never {
  throw new Error(`softsign on ${backend}: ${what}`);
}

/**
 * Run softsign on `backend` and check it (see the file's comment). float64 where the backend
 * has it, else float32 with tolerances for float32 differences. Throws on a failure.
 */
export async function checkCustomOp(backend: string): Promise<void> {
  const b = getBackend(backend);
  const dtype = b.dtypes === undefined || b.dtypes.includes('float64') ? 'float64' : 'float32';
  const x = randn([3, 5], { dtype, backend });
  let calls = softsignKernelCalls.count;
  const [got, want] = [await softsign(x, 1.5).data(), await softsignComposite(x, 1.5).data()];
  if (softsignKernelCalls.count !== calls + 1) fail(backend, 'the fused kernel did not run');
  const tol = dtype === 'float64' ? 1e-12 : 1e-6;
  got.forEach((v, i) => {
    if (Math.abs(Number(v) - Number(want[i])) > tol) fail(backend, `element ${i} is ${v}, the composite gives ${want[i]}`);
  });

  const leaf = randn([2, 3], { dtype, backend }).requiresGrad_();
  calls = softsignKernelCalls.count;
  const y = softsign(leaf, 1.5);
  if (softsignKernelCalls.count !== calls + 1 || y.gradNode?.op !== 'softsign') fail(backend, 'not run by the fused kernel and recorded as one op while gradients are on');
  if (b.readSync !== undefined) {
    // synchronous backends: the library's gradcheck, first and second order
    const inputs = [leaf.detach()];
    gradcheck((t) => softsign(t, 1.5), inputs);
    gradgradcheck((t) => softsign(t, 1.5), inputs);
    return;
  }
  // asynchronous backends (webgpu): the same check, reading the values with await
  const g = randn(leaf.shape, { dtype, backend });
  backward(sum(mul(y, g)));
  const analytic = await leaf.grad!.data();
  const base = await leaf.data();
  const gv = await g.data();
  const f = async (values: Float32Array) => {
    const out = await softsign(fromArray(values, leaf.shape, { dtype, backend }), 1.5).data();
    let total = 0;
    for (let i = 0; i < out.length; i++) total += Number(out[i]) * Number(gv[i]);
    return total;
  };
  const eps = 1e-2;
  for (let i = 0; i < base.length; i++) {
    const [plus, minus] = [Float32Array.from(base), Float32Array.from(base)];
    plus[i] += eps;
    minus[i] -= eps;
    const numeric = ((await f(plus)) - (await f(minus))) / (2 * eps);
    if (Math.abs(numeric - Number(analytic[i])) > 1e-2 * Math.max(1, Math.abs(numeric))) fail(backend, `gradient ${i} is ${analytic[i]}, central differences give ${numeric}`);
  }
}
