// The transformer ops (layerNorm, gelu, scaledDotProductAttention) on the wasm backend:
// it inherits the cpu backend's host kernels, which run their attention products on the
// SIMD matmul and write into the module memory. Outputs and gradients equal the
// composites (cpu, kernels declined) — float32 products large enough for the kernel, and
// float64 — and what the forward saves goes back to the memory with the graph.
import { grad } from '@ml/autograd';
import * as T from '@ml/tensor';
import { registerCompositeBackend } from '@ml/tensor/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { registerWasmBackend, type WasmBackend } from '../src/index.js';

const wasm: WasmBackend = registerWasmBackend({ threads: 1, name: 'wasm-transformer' });
// the host attention kernel on the SIMD products: attention in one kernel, which takes the
// float32 calls here by default, is checked in attention-fused.test.ts
wasm.transformer.enabled.attention = false;
const COMPOSITE = registerCompositeBackend('cpu-wasm-transformer-composite').name;
afterEach(() => T.setBackend('cpu'));

/** A post-norm attention block with a gelu feed-forward, causal and padded, and its gradients. */
function block(backend: string, dtype: 'float32' | 'float64'): { y: number[]; grads: number[][]; ops: string[] } {
  T.setBackend(backend);
  try {
    T.manualSeed(21);
    const [N, L, H, D] = [3, 16, 4, 8];
    const E = H * D;
    const x = T.randn([N, L, E], { dtype }).requiresGrad_();
    const w = T.randn([E], { dtype }).requiresGrad_();
    const b = T.randn([E], { dtype }).requiresGrad_();
    const pad = T.fromArray(Uint8Array.from({ length: N * L }, (_, i) => +(i % L >= L - (i / L) * 3)), [N, 1, 1, L], { dtype: 'bool' });
    const heads = (t: T.Tensor) => t.reshape([N, L, H, D]).transpose(1, 2);
    const a = T.scaledDotProductAttention(heads(x), heads(x.mul(0.5)), heads(x), { attnMask: pad, isCausal: true });
    const n = T.layerNorm(x.add(a.transpose(1, 2).reshape([N, L, E])), [E], w, b);
    const y = T.gelu(n, 'tanh').add(T.gelu(n));
    y.square().sum().backward();
    const ops = [a.gradNode?.op, n.gradNode?.op, y.gradNode?.inputs[0].gradNode?.op].map(String);
    return { y: Array.from(y.dataSync()), grads: [x, w, b].map((t) => Array.from(t.grad!.dataSync())), ops };
  } finally {
    T.setBackend('cpu');
  }
}

function expectClose(a: number[], b: number[], tol: number, label: string): void {
  expect(a.length, label).toBe(b.length);
  const worst = Math.max(0, ...a.map((v, i) => Math.abs(v - b[i]) / (1 + Math.abs(b[i]))));
  expect(worst, label).toBeLessThan(tol);
}

describe('transformer ops on wasm equal the composites', () => {
  it.each([
    ['float64', 1e-10],
    ['float32 (products on the SIMD kernel)', 2e-4],
  ] as const)('%s: output and the gradients of x, weight and bias', (what, tol) => {
    const dtype = what.startsWith('float64') ? 'float64' : 'float32';
    const before = wasm.stats.wasm;
    const fused = block(wasm.name, dtype);
    expect(fused.ops).toEqual(['scaledDotProductAttention', 'layerNorm', 'gelu']);
    if (dtype === 'float32') expect(wasm.stats.wasm - before).toBeGreaterThanOrEqual(6); // 2 products forward, 4 backward
    const composite = block(COMPOSITE, dtype);
    expectClose(fused.y, composite.y, tol, 'y');
    fused.grads.forEach((g, i) => expectClose(g, composite.grads[i], tol, `grad ${i}`));
  });

  it("what the forward saves (attention's P and operand copies, layerNorm's statistics) is freed with the graph", () => {
    T.setBackend(wasm.name);
    try {
      T.manualSeed(3);
      const q = T.randn([2, 16, 32]).keep();
      const w = T.ones([8]).keep();
      // heads split out of [N, L, H·D]: the forward also keeps its copies of q, k and v
      const heads = (t: T.Tensor) => t.reshape([2, 16, 4, 8]).transpose(1, 2);
      const loss = grad((qi: T.Tensor, wi: T.Tensor) => T.layerNorm(T.scaledDotProductAttention(heads(qi), heads(qi), heads(qi), { isCausal: true }), [8], wi, null).square().sum(), { argnums: [0, 1] });
      const live = () => T.memory().backends[wasm.name].heap?.liveBytes ?? Number.NaN;
      const step = () => T.tidy(() => void loss(q, w));
      step();
      step();
      const after2 = live();
      expect(after2).toBeGreaterThan(0);
      for (let i = 0; i < 10; i++) step();
      expect(live()).toBe(after2);
    } finally {
      T.setBackend('cpu');
    }
  });
});
