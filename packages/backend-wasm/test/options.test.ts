import { fileURLToPath } from 'node:url';
import { describeOptionsContract } from '@ml/api-check';
import { getBackend, setBackend } from '@ml/tensor';
import { describe, it } from 'vitest';
import { registerWasmBackend, useWasm, WasmBackend, WasmGemm } from '../src/index.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
// one thread: no workers to start; a name of its own, so no other test's 'wasm' is touched
const base = { name: 'wasm-options-test', threads: 1 };

describeOptionsContract(packageDir, { describe, it }, {
  recipes: {
    registerWasmBackend: (o) => registerWasmBackend({ ...base, ...o }),
    useWasm: (o) => {
      const before = getBackend().name;
      try {
        return useWasm({ ...base, ...o });
      } finally {
        setBackend(before);
      }
    },
    WasmBackend: (o) => new WasmBackend({ ...base, ...o }),
    WasmGemm: (o) => new WasmGemm({ threads: 1, ...o }),
  },
});
