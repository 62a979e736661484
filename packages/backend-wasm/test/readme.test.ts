// The README's examples, line for line.
import '@ml/autograd';
import { matmul, randn } from '@ml/tensor';
import { expect, it } from 'vitest';
import { registerWasmBackend, useWasm } from '../src/index.js';

it('README: useWasm() makes products run on the SIMD kernel', () => {
  const backend = useWasm(); // registers the 'wasm' backend and makes it the default
  const calls = backend.stats.wasm;
  const c = matmul(randn([512, 512]), randn([512, 512])); // runs on the SIMD kernel
  expect(c.backend.name).toBe('wasm');
  expect(backend.stats.wasm).toBeGreaterThan(calls);
});

it('README: fmaPeak() gives the ceiling in GFLOP/s and the threads it ran on', async () => {
  const wasm = registerWasmBackend();
  const { gflops, threads } = await wasm.gemm.fmaPeak(100); // about half a second by default
  expect(threads).toBe(wasm.gemm.threads);
  expect(gflops).toBeGreaterThan(0);
  expect(`${gflops.toFixed(0)} GFLOP/s on ${threads} threads at most`).toMatch(/^\d+ GFLOP\/s on \d+ threads at most$/);
});
