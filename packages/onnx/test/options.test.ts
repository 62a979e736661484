import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeOptionsContract } from '@ml/api-check';
import { Linear } from '@ml/nn';
import { afterAll, describe, it } from 'vitest';
import { exportOnnx } from '../src/index.js';
import { saveOnnx } from '../src/node.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const dir = await mkdtemp(join(tmpdir(), 'ml-onnx-options-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

describeOptionsContract(packageDir, { describe, it }, {
  entries: ['src/index.ts', 'src/node.ts'],
  recipes: {
    exportOnnx: (o) => exportOnnx(new Linear(3, 2), { inputShapes: [[1, 3]], ...o }),
    saveOnnx: (o) => saveOnnx(new Linear(3, 2), join(dir, 'm.onnx'), { inputShapes: [[1, 3]], ...o }),
  },
});
