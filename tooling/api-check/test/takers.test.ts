import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { optionsTakers } from '../src/index.js';

const fixture = fileURLToPath(new URL('./fixtures/pkg', import.meta.url));

describe('optionsTakers reads the exported API with the compiler', () => {
  const takers = optionsTakers(fixture);
  const byName = new Map(takers.map((t) => [t.name, t]));

  it('lists functions, constructors, public methods and static methods with an options parameter, sorted', () => {
    expect(takers.map((t) => `${t.kind} ${t.name}[${t.paramIndex}] ${t.keys.join(',')}`)).toEqual([
      'method Base.prototype.describe[0] verbose',
      'constructor Concrete[0] name',
      'constructor Dense[0] units,useBias',
      'static Dense.fromUnits[1] useBias',
      'method Dense.prototype.fit[1] epochs',
      'method Perceptron.prototype.train[0] steps',
      'function connect[1] retries,timeoutMs',
      'function pad[1] fillChar,width',
      'function resize[1] height,keepAspect,width',
      'function tools.scale[1] factor',
    ]);
  });

  it("lists the methods of a base class that is not exported on its exported subclass", () => {
    expect(byName.get('Perceptron.prototype.train')).toMatchObject({ kind: 'method', file: 'src/layer.ts', keys: ['steps'] });
  });

  it('follows re-exports (named and *) and records where each taker is declared', () => {
    expect(byName.get('resize')).toMatchObject({ file: 'src/resize.ts', paramName: 'options' });
    expect(byName.get('Dense')).toMatchObject({ file: 'src/layer.ts', kind: 'constructor' });
  });

  it('skips data records, arrays, functions, dictionaries, class instances, iterables, the standard ErrorOptions, private and protected methods', () => {
    for (const name of ['Base', 'Concrete.prototype.describe', 'area', 'sum', 'double', 'tools', 'tools.negate', 'tools.unit', 'FixtureError', 'Dense.prototype.tune', 'Dense.prototype._hidden', 'Dense.prototype.apply']) expect(byName.has(name)).toBe(false);
  });

  it('throws naming a missing entry file', () => {
    expect(() => optionsTakers(fixture, { entries: ['src/nope.ts'] })).toThrow(/no entry file .*nope\.ts/);
  });
});
