/**
 * Install only what you need, outside the monorepo: the packages are packed as they would be
 * published (`pnpm pack`, which turns `workspace:^` into version ranges), and a fresh project
 * in the OS temp folder installs just @ml/tensor, @ml/autograd, @ml/nn and @ml/backend-wasm
 * from the tarballs with plain npm (nothing comes from a registry: `--offline`). There the
 * READMEs' first examples run under Node, and Vite bundles the same examples for a browser,
 * failing on any Node built-in. Also checks that each published package's manifest is ready
 * to publish.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** what the fresh project installs: the core and one backend */
const INSTALLED = ['tensor', 'autograd', 'nn', 'backend-wasm'] as const;
/** the README whose first ```ts block runs, and a line its output must hold */
const EXAMPLES = [
  { name: 'tensor', readme: 'packages/tensor/README.md', prints: 'tensor([[11., 22.],' },
  { name: 'nn', readme: 'packages/nn/README.md', prints: '63,050' },
  { name: 'wasm', readme: 'packages/backend-wasm/README.md', prints: 'wasm' },
] as const;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: readonly string[], cwd: string, timeoutMs = 120_000): Run {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, npm_config_update_notifier: 'false' } });
  return { status: r.error ? -1 : r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error?.message ?? '') };
}

function runOk(command: string, args: readonly string[], cwd: string): string {
  const r = run(command, args, cwd);
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} (in ${cwd}) exited with ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** pnpm as CI has it (the script runner's own), else on PATH, else the root's pinned version through npx. */
function pnpmCommand(): [string, string[]] {
  const execPath = process.env.npm_execpath;
  if (execPath && /pnpm/.test(execPath)) return [process.execPath, [execPath]];
  if (run('pnpm', ['--version'], ROOT).status === 0) return ['pnpm', []];
  const pinned = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { packageManager: string }).packageManager;
  return ['npx', ['--yes', pinned]];
}

/** The first ```ts block of a README. */
function firstExample(readme: string): string {
  const m = /```ts\n([\s\S]*?)```/.exec(readFileSync(join(ROOT, readme), 'utf8'));
  if (!m) throw new Error(`${readme} has no \`\`\`ts block`);
  return m[1];
}

const npmMissing = run('npm', ['--version'], ROOT).status !== 0;

describe.skipIf(npmMissing)('the packed packages, installed with npm in a fresh project', () => {
  let work = '';
  let app = '';
  const tarballs: Record<string, string> = {};

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'ml-pack-'));
    const packs = join(work, 'tarballs');
    mkdirSync(packs);
    const [pnpm, pre] = pnpmCommand();
    for (const name of INSTALLED) {
      const before = new Set(readdirSync(packs));
      runOk(pnpm, [...pre, 'pack', '--pack-destination', packs], join(ROOT, 'packages', name));
      const made = readdirSync(packs).filter((f) => !before.has(f));
      expect(made, `the tarball of @ml/${name}`).toHaveLength(1);
      tarballs[name] = join(packs, made[0]);
    }
    app = join(work, 'app');
    mkdirSync(join(app, 'src'), { recursive: true });
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'fresh-app', version: '1.0.0', private: true, type: 'module' }, null, 2));
    runOk('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', ...INSTALLED.map((n) => tarballs[n])], app);
  });

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('installs just the four packages, with their workspace ranges rewritten to versions', () => {
    expect(readdirSync(join(app, 'node_modules', '@ml')).sort()).toEqual([...INSTALLED].sort());
    const nn = JSON.parse(readFileSync(join(app, 'node_modules/@ml/nn/package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(nn.dependencies).toEqual({ '@ml/autograd': '^0.1.0', '@ml/tensor': '^0.1.0' });
  });

  it('runs the READMEs’ examples under Node', async () => {
    for (const ex of EXAMPLES) {
      const source = firstExample(ex.readme);
      writeFileSync(join(app, 'src', `${ex.name}.ts`), source);
      const { code } = await esbuild.transform(source, { loader: 'ts', format: 'esm', target: 'node20' });
      writeFileSync(join(app, `${ex.name}.mjs`), code);
      const out = runOk(process.execPath, [`${ex.name}.mjs`], app);
      expect(out, `what the ${ex.readme} example prints`).toContain(ex.prints);
    }
    // the nn example saves its weights under Node (the "node" export condition gives file access)
    expect(existsSync(join(app, 'model.safetensors'))).toBe(true);
  });

  it('bundles the same examples for a browser with Vite, reaching no Node built-in', () => {
    for (const ex of EXAMPLES) writeFileSync(join(app, 'src', `${ex.name}.ts`), firstExample(ex.readme));
    writeFileSync(
      join(app, 'index.html'),
      `<!doctype html>\n<html><body>\n${EXAMPLES.map((ex) => `<script type="module" src="/src/${ex.name}.ts"></script>`).join('\n')}\n</body></html>\n`,
    );
    // a plugin that refuses Node built-ins (Vite would otherwise stub them with a warning)
    writeFileSync(
      join(app, 'vite.config.mjs'),
      [
        "import { builtinModules } from 'node:module';",
        'const builtins = new Set(builtinModules);',
        'export default {',
        '  logLevel: "warn",',
        '  plugins: [{',
        "    name: 'no-node-builtins',",
        "    enforce: 'pre',",
        '    resolveId(id, importer) {',
        "      if (id.startsWith('node:') || builtins.has(id)) this.error(`Node built-in ${id} imported by ${importer}`);",
        '      return null;',
        '    },',
        '  }],',
        '};',
        '',
      ].join('\n'),
    );
    // the workspace's Vite (the one vitest runs on), by absolute path: nothing is downloaded
    const vitePkg = createRequire(createRequire(import.meta.url).resolve('vitest/package.json')).resolve('vite/package.json');
    const viteBin = join(dirname(vitePkg), 'bin', 'vite.js');
    const out = runOk(process.execPath, [viteBin, 'build'], app);
    const assets = readdirSync(join(app, 'dist', 'assets')).filter((f) => f.endsWith('.js'));
    expect(assets.length, `Vite's output:\n${out}`).toBeGreaterThan(0);
    const bundled = assets.map((f) => readFileSync(join(app, 'dist', 'assets', f), 'utf8')).join('\n');
    expect(bundled.includes('__vite-browser-external'), 'a Node built-in stubbed by Vite').toBe(false);
    // the four packages' code is in the bundle (error messages survive minification)
    for (const text of ['no autograd engine is loaded', 'parameters must be floating po', '@ml/backend-wasm: a worker thread failed']) {
      expect(bundled.includes(text), `the bundle holds "${text}"`).toBe(true);
    }
  });
});

describe('the published packages’ manifests', () => {
  const dirs = readdirSync(join(ROOT, 'packages')).filter((d) => existsSync(join(ROOT, 'packages', d, 'package.json')));

  for (const dir of dirs) {
    it(`packages/${dir} is ready to publish`, () => {
      const pkg = JSON.parse(readFileSync(join(ROOT, 'packages', dir, 'package.json'), 'utf8')) as Record<string, unknown>;
      if (pkg.private === true) return;
      const problems: string[] = [];
      const need = (ok: boolean, what: string): void => void (ok || problems.push(what));
      need(typeof pkg.description === 'string' && pkg.description.length > 0, 'a description');
      need(typeof pkg.license === 'string', 'a license');
      const repo = pkg.repository as { type?: string; directory?: string; url?: string } | undefined;
      need(repo?.type === 'git' && repo.directory === `packages/${dir}`, `repository { type: "git", directory: "packages/${dir}" }`);
      need(!repo?.url || !/example|placeholder|your-org/i.test(repo.url), 'a real repository URL (or none)');
      need((pkg.engines as { node?: string } | undefined)?.node === '>=20', 'engines.node ">=20"');
      need(typeof pkg.sideEffects === 'boolean' || Array.isArray(pkg.sideEffects), 'sideEffects');
      need(Array.isArray(pkg.files) && (pkg.files as string[]).includes('dist'), 'files with dist');
      const exportsField = pkg.exports as Record<string, unknown> | undefined;
      need(exportsField !== undefined && '.' in exportsField, 'exports with "."');
      // every target with a file names its types before it (TypeScript takes the first condition that matches)
      const targets = (v: unknown): Record<string, unknown>[] =>
        v && typeof v === 'object' ? [v as Record<string, unknown>, ...Object.values(v).flatMap(targets)] : [];
      for (const [sub, target] of Object.entries(exportsField ?? {})) {
        for (const t of targets(target)) {
          const keys = Object.keys(t);
          const file = keys.findIndex((k) => (k === 'default' || k === 'import') && typeof t[k] === 'string');
          if (file >= 0) need(keys.indexOf('types') >= 0 && keys.indexOf('types') < file, `exports["${sub}"]: "types" before the file in ${JSON.stringify(t)}`);
        }
      }
      expect(problems, `packages/${dir}/package.json lacks`).toEqual([]);
    });
  }
});
