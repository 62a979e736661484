import { checkCustomOp } from '@ml/autograd/testing';
import { describe, it } from 'vitest';
import { registerWasmBackend } from '../src/index.js';

registerWasmBackend();

describe('a new op defined in one file (@ml/autograd/testing: softsign)', () => {
  it('runs on the wasm backend by its fused kernel and passes gradcheck, first and second order', async () => {
    await checkCustomOp('wasm');
  });
});
