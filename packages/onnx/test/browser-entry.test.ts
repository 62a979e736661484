// The main entry must load in a browser: bundled for the browser platform, nothing it
// reaches imports a Node module or a package's Node entry (saveOnnx and its file access live in src/node.ts).
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const entry = (file: string): string => fileURLToPath(new URL(`../src/${file}`, import.meta.url));

async function nodeImports(file: string): Promise<string[]> {
  const result = await build({
    entryPoints: [entry(file)], bundle: true, write: false, platform: 'browser', format: 'esm', metafile: true,
    external: ['@ml/*', 'onnx-proto'], logLevel: 'silent',
  });
  return Object.values(result.metafile.inputs).flatMap((i) => i.imports.map((x) => x.path)).filter((p) => p.startsWith('node:') || p.endsWith('/node'));
}

describe('the browser-safe entry', () => {
  it('src/index.ts reaches no Node module', async () => {
    expect(await nodeImports('index.ts')).toEqual([]);
  });
  it('src/node.ts does, through @ml/tensor/node (the check can fail)', async () => {
    expect(await nodeImports('node.ts')).toEqual(['@ml/tensor/node']);
  });
});
