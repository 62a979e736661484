// docs/import.md's example is examples/import.ts word for word; it runs here and prints what
// the page says it prints.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';

const here = (file: string): string => fileURLToPath(new URL(`../${file}`, import.meta.url));

describe('docs/import.md example', () => {
  it('is examples/import.ts, word for word', async () => {
    const page = await readFile(here('docs/import.md'), 'utf8');
    const block = /```ts\n([\s\S]*?)```/.exec(page)![1];
    expect(block).toBe(await readFile(here('examples/import.ts'), 'utf8'));
  });

  it("imports PyTorch's CNN, matches PyTorch's outputs and fine-tunes it", async () => {
    const printed: unknown[][] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void printed.push(args));
    try {
      await import('../examples/import.js');
    } finally {
      log.mockRestore();
    }
    expect(printed).toEqual([[['x'], [2, 3], true], [true]]);
  });
});
