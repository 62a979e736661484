import { fileURLToPath } from 'node:url';
import { describeOptionsContract, optionsTakers } from '@ml/api-check';
import { describe, expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

// No export takes an options object yet (parseFlags takes a flag spec, a dictionary; UsageError
// only the standard ErrorOptions). A new one fails the contract below until it has a recipe.
describeOptionsContract(packageDir, { describe, it }, { recipes: {} });

it('reads the exports and finds no options-taker', () => {
  expect(optionsTakers(packageDir)).toEqual([]);
});
