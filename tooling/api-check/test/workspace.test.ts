import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const packages = fileURLToPath(new URL('../../../packages', import.meta.url));

// A new package cannot be missed either: each one under packages/ runs the contract.
describe('every package under packages/ has an options contract test', () => {
  const names = readdirSync(packages, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(packages, d.name, 'package.json')))
    .map((d) => d.name);
  it('finds the packages', () => {
    expect(names).toContain('tensor');
  });
  for (const name of names) {
    it(`packages/${name}/test/options.test.ts calls describeOptionsContract`, () => {
      const path = join(packages, name, 'test', 'options.test.ts');
      expect(existsSync(path), `add packages/${name}/test/options.test.ts (see tooling/api-check/README.md)`).toBe(true);
      expect(readFileSync(path, 'utf8')).toContain('describeOptionsContract(');
    });
  }
});
