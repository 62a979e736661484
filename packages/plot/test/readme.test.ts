import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { marks, parseXml } from './helpers.js';

const here = (p: string) => new URL(`../${p}`, import.meta.url);
// ML_PLOT_UPDATE_DOCS=1 rewrites docs/*.svg from the example instead of comparing
const update = process.env.ML_PLOT_UPDATE_DOCS === '1';

describe('README example', () => {
  it('is examples/readme.ts, word for word', async () => {
    const readme = await readFile(here('README.md'), 'utf8');
    const block = /```ts\n([\s\S]*?)```/.exec(readme)![1];
    expect(block).toBe(await readFile(here('examples/readme.ts'), 'utf8'));
  });

  it('runs, and draws the SVGs in docs/', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ml-plot-readme-'));
    const cwd = process.cwd();
    try {
      process.chdir(dir);
      await import('../examples/readme.js');
    } finally {
      process.chdir(cwd);
    }
    try {
      expect((await readdir(dir)).sort()).toEqual(['decision-regions.svg', 'loss-curves.svg', 'loss-surface.html', 'loss-surface.svg']);
      const svg = async (name: string) => readFile(join(dir, name), 'utf8');

      const loss = parseXml(await svg('loss-curves.svg'));
      expect(marks(loss, 'line')).toHaveLength(4);
      const regions = parseXml(await svg('decision-regions.svg'));
      expect(marks(regions, 'symbol')).toHaveLength(200);
      const surface = parseXml(await svg('loss-surface.svg'));
      // two optimizer paths of 31 points each (the start and 30 steps)
      expect(marks(surface, 'symbol')).toHaveLength(62);
      parseXml(await readFile(join(dir, 'loss-surface.html'), 'utf8'));

      for (const name of ['loss-curves.svg', 'decision-regions.svg', 'loss-surface.svg']) {
        if (update) await writeFile(here(`docs/${name}`), await svg(name));
        else expect(await svg(name), `docs/${name} is out of date: ML_PLOT_UPDATE_DOCS=1 pnpm exec vitest run test/readme.test.ts`).toBe(await readFile(here(`docs/${name}`), 'utf8'));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
