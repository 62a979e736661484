import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The layout stays easy to see (ARCHITECTURE.md): no source file over about 600 lines
// without a reason on its first line, and the README's "Where things live" names files
// that exist and hold what it says they hold.

const root = fileURLToPath(new URL('../../..', import.meta.url));
const MAX_LINES = 600;

/** Source files (TypeScript and JavaScript) under `dir`, skipping dependencies and outputs. */
function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sources(path, out);
    else if (/\.(ts|tsx|mjs|js)$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

describe('no source file over 600 lines without a reason at its top', () => {
  const dirs = ['packages', 'apps', 'tooling', 'bench']
    .flatMap((top) => readdirSync(join(root, top), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(root, top, d.name, 'src')))
    .concat(join(root, 'bench', 'src'))
    .filter((d) => existsSync(d));
  const files = [...new Set(dirs.flatMap((d) => sources(d)))];
  it('finds the sources', () => {
    expect(files.length).toBeGreaterThan(100);
  });
  it('each long file says why on its first line ("// Over 600 lines …")', () => {
    const unexplained = files
      .map((f) => ({ f, lines: readFileSync(f, 'utf8').split('\n') }))
      .filter(({ lines }) => lines.length > MAX_LINES && !/^\/\/ Over 600 lines\b/.test(lines[0]))
      .map(({ f, lines }) => `${relative(root, f)} (${lines.length} lines)`);
    expect(unexplained).toEqual([]);
  });
});

describe("the README's \"Where things live\"", () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const start = readme.indexOf('## Where things live');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  it('is in the README', () => {
    expect(start).toBeGreaterThan(0);
  });
  it('names only paths that exist', () => {
    const paths = [...section.matchAll(/`((?:packages|apps|tooling|bench)\/[^`*]+?)`/g)].map((m) => m[1]);
    expect(paths.length).toBeGreaterThan(10);
    expect(paths.filter((p) => !existsSync(join(root, p)))).toEqual([]);
  });
  it('points each part of conv2d, logSoftmax and lstm to files that hold it', () => {
    // table rows: | `op` | definition (forward + gradient) | kernels | layer |
    for (const op of ['conv2d', 'logSoftmax', 'lstmCell'] as const) {
      const row = section.split('\n').find((l) => l.startsWith(`| \`${op}\``));
      expect(row, `a row for ${op}`).toBeDefined();
      const files = [...row!.matchAll(/`((?:packages|apps|tooling|bench)\/[^`]+?)`/g)].map((m) => m[1]);
      expect(files.length).toBeGreaterThanOrEqual(3);
      for (const f of files) {
        const text = readFileSync(join(root, f), 'utf8');
        // a kernel file may name only its method (conv3x3, winogradConv): match the family
        const needle = { conv2d: /conv/i, logSoftmax: /log-?softmax/i, lstmCell: /lstm/i }[op];
        expect(needle.test(text), `${f} should hold part of ${op}`).toBe(true);
      }
    }
  });
});
