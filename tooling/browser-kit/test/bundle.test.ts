/**
 * Every published package's main entry bundles for a browser: esbuild resolves each package
 * as a browser bundler would (platform 'browser', the "browser" condition, never "node")
 * and the test fails, naming the importers, on any Node built-in it reaches (`node:fs`, `fs`,
 * `path`, …) and on any reference to the global `process`, which browsers lack.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PACKAGES = ['tensor', 'autograd', 'nn', 'optim', 'data', 'train', 'plot', 'backend-wasm', 'backend-webgpu', 'onnx'] as const;

const BUILTINS = new Set(builtinModules);
/** the global `process` is renamed to this, so that any use of it shows in the output */
const PROCESS_MARK = '__ml_global_process__';
/** the same for Node's global `Buffer` (csv-parse's Node build used it as it loaded: a page failed with "Buffer is not defined") */
const BUFFER_MARK = '__ml_global_Buffer__';

interface BrowserBundle {
  /** `specifier <- importer` for each Node built-in the bundle reaches */
  builtins: string[];
  /** lines of the bundle that use the global `process` */
  processUses: string[];
  /** lines of the bundle that use the global `Buffer` */
  bufferUses: string[];
}

function isBuiltin(specifier: string): boolean {
  return specifier.startsWith('node:') || BUILTINS.has(specifier);
}

async function bundleForBrowser(specifier: string, packageDir: string): Promise<BrowserBundle> {
  const builtins = new Set<string>();
  const recordBuiltins: esbuild.Plugin = {
    name: 'record-node-builtins',
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        if (!isBuiltin(args.path)) return undefined;
        builtins.add(`${args.path} <- ${args.importer.startsWith(ROOT) ? args.importer.slice(ROOT.length) : args.importer}`);
        return { path: args.path, external: true };
      });
    },
  };
  const result = await esbuild.build({
    // the package imports itself by name, so its package.json "exports" pick the entry
    stdin: { contents: `export * from '${specifier}';`, resolveDir: `${ROOT}packages/${packageDir}`, loader: 'js' },
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    conditions: ['browser'],
    define: { process: PROCESS_MARK, Buffer: BUFFER_MARK },
    // no tsconfig "paths" (plot's maps its own name to its sources): what a user's bundler sees
    tsconfigRaw: {},
    plugins: [recordBuiltins],
    logLevel: 'silent',
  });
  const text = result.outputFiles[0].text;
  // a line that tests `typeof Buffer` first is guarded (vega's isBuffer), and fine in a page
  const uses = (mark: string, name: string) =>
    text
      .split('\n')
      .filter((line) => line.includes(mark) && !(mark === BUFFER_MARK && line.indexOf(`typeof ${mark}`) === line.indexOf(mark) - 'typeof '.length))
      .map((line) => line.trim().replaceAll(mark, name).slice(0, 160));
  return { builtins: [...builtins].sort(), processUses: uses(PROCESS_MARK, 'process'), bufferUses: uses(BUFFER_MARK, 'Buffer') };
}

describe('browser bundles of the main entries', () => {
  it('cover every published package', () => {
    const published = readdirSync(`${ROOT}packages`).filter((dir) => {
      const pkg = JSON.parse(readFileSync(`${ROOT}packages/${dir}/package.json`, 'utf8')) as { private?: boolean };
      return pkg.private !== true;
    });
    expect([...PACKAGES].sort()).toEqual(published.sort());
  });

  it('find the built-ins of a Node entry (the check can fail)', async () => {
    const found = await bundleForBrowser('@ml/data/node', 'data');
    expect(found.builtins).toEqual(expect.arrayContaining([expect.stringMatching(/^(node:)?fs\/promises <- packages\/data\/dist\/node\.js$/)]));
  });

  for (const name of PACKAGES) {
    it(`@ml/${name}: no Node built-in, no global process or Buffer`, async () => {
      const found = await bundleForBrowser(`@ml/${name}`, name);
      expect(found.builtins, `Node built-ins in the browser bundle of @ml/${name}`).toEqual([]);
      expect(found.processUses, `uses of the global process in the browser bundle of @ml/${name}`).toEqual([]);
      expect(found.bufferUses, `uses of the global Buffer in the browser bundle of @ml/${name}`).toEqual([]);
    });
  }
});
