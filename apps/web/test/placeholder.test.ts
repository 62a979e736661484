import { expect, it } from 'vitest';

it('the web app package is set up (its pages and browser tests replace this)', async () => {
  expect(await import('../src/main.js')).toBeDefined();
});
