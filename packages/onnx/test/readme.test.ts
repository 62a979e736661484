// The README's example is examples/readme.ts word for word; it runs here and prints what the
// README says it prints.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';

const here = (file: string): string => fileURLToPath(new URL(`../${file}`, import.meta.url));

describe('README example', () => {
  it('is examples/readme.ts, word for word', async () => {
    const readme = await readFile(here('README.md'), 'utf8');
    const block = /```ts\n([\s\S]*?)```/.exec(readme)![1];
    expect(block).toBe(await readFile(here('examples/readme.ts'), 'utf8'));
  });

  it('exports the CNN, runs it in ONNX Runtime at another batch size and agrees within 1e-5', async () => {
    const printed: unknown[][] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void printed.push(args));
    try {
      await import('../examples/readme.js');
    } finally {
      log.mockRestore();
    }
    expect(printed).toEqual([[[4, 10], true]]);
  });
});
