import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { connect, Dense, pad, resize, tools } from './fixtures/pkg/src/index.js';
import { describeOptionsContract, misspelling, optionsContractCases, type ContractCase, type OptionsTaker, type Recipe } from '../src/index.js';

const fixture = fileURLToPath(new URL('./fixtures/pkg', import.meta.url));

const taker = (name: string, keys: string[]): OptionsTaker => ({ name, kind: 'function', paramIndex: 0, paramName: 'options', keys, optional: keys, file: 'src/x.ts' });

/** Run every case; the titles of the failing ones with their messages. */
async function failures(cases: ContractCase[]): Promise<string[]> {
  const out: string[] = [];
  for (const c of cases) {
    try {
      await c.run();
    } catch (e) {
      out.push(`${c.title} => ${(e as Error).message}`);
    }
  }
  return out;
}

function strict(op: string, valid: string[], suggest = true): Recipe {
  return (o) => {
    for (const k of Object.keys(o)) {
      if (!valid.includes(k)) throw new TypeError(`${op}: unknown option '${k}'${suggest ? `; did you mean '${valid.find((v) => v.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) === k || v.startsWith(k)) ?? valid[0]}'?` : ''}`);
    }
    return 1;
  };
}

describe('misspelling', () => {
  it("prefers Keras's snake_case spelling of a camelCase key", () => {
    expect(misspelling(['epochs', 'batchSize'])).toEqual({ key: 'batchSize', misspelt: 'batch_size' });
  });
  it('else drops the last letter, or doubles it in a short key, choosing a key no other is as close to', () => {
    expect(misspelling(['epochs'])).toEqual({ key: 'epochs', misspelt: 'epoch' });
    expect(misspelling(['lr'])).toEqual({ key: 'lr', misspelt: 'lrr' });
    // 'beta1' less a letter is as close to 'beta2'; 'gamma' less one is unambiguous
    expect(misspelling(['beta1', 'beta2', 'gamma'])).toEqual({ key: 'gamma', misspelt: 'gamm' });
  });
});

describe('optionsContractCases', () => {
  it('passes a taker that throws naming itself, the key and the key meant (sync or by rejecting)', async () => {
    const takers = [taker('fit', ['epochs', 'batchSize']), taker('load', ['strict'])];
    const load = strict('load', ['strict']);
    const cases = optionsContractCases(fixture, { takers, recipes: { fit: strict('fit', ['epochs', 'batchSize']), load: async (o) => load(o) } });
    expect(cases.map((c) => c.title)).toEqual(["fit rejects 'batch_size', suggesting 'batchSize'", "load rejects 'stric', suggesting 'strict'"]);
    expect(await failures(cases)).toEqual([]);
  });

  it('fails a taker that ignores the key, or throws without the name, the key or the suggestion', async () => {
    const takers = [taker('quiet', ['epochs']), taker('vague', ['epochs']), taker('noHint', ['epochs'])];
    const cases = optionsContractCases(fixture, {
      takers,
      recipes: { quiet: () => 1, vague: strict('somethingElse', ['epochs']), noHint: strict('noHint', ['epochs'], false) },
    });
    const failed = await failures(cases);
    expect(failed).toHaveLength(3);
    expect(failed[0]).toMatch(/quiet accepted the unknown option 'epoch' silently .*checkOptions\('quiet', options, KEYS\)/);
    expect(failed[1]).toMatch(/vague with option 'epoch' threw without the name 'vague'/);
    expect(failed[2]).toMatch(/noHint with option 'epoch' threw without the suggestion 'epochs'/);
  });

  it('fails a recipe that throws with valid options', async () => {
    const cases = optionsContractCases(fixture, { takers: [taker('fit', ['epochs'])], recipes: { fit: () => { throw new Error('shape mismatch'); } } });
    expect(await failures(cases)).toEqual([expect.stringMatching(/the recipe for fit throws with valid options; fix the recipe: Error: shape mismatch/)]);
  });

  it('fails a taker without a recipe, a stale recipe and a stale exemption; an exempt taker needs no recipe', async () => {
    const cases = optionsContractCases(fixture, {
      takers: [taker('fresh', ['a']), taker('free', ['a'])],
      recipes: { gone: () => 1 },
      exempt: { free: 'takes a data record', removed: 'was exported once' },
    });
    const failed = await failures(cases);
    expect(failed).toEqual([
      expect.stringMatching(/^fresh \(function\) has a recipe => add a recipe for fresh/),
      expect.stringMatching(/there is a recipe for gone, which is not an exported options-taker/),
      expect.stringMatching(/removed is exempt but is not an exported options-taker/),
    ]);
  });

  it('uses a named recipe\'s op where messages use another name than the export (an alias)', async () => {
    const cases = optionsContractCases(fixture, { takers: [taker('var_', ['keepdim'])], recipes: { var_: { call: strict('var', ['keepdim']), op: 'var' } } });
    expect(await failures(cases)).toEqual([]);
  });

  it("reads the fixture's takers and checks them: resize passes, the others ignore unknown keys", async () => {
    const cases = optionsContractCases(fixture, {
      recipes: {
        resize: (o) => resize([1, 2, 3, 4], { width: 2, height: 1, ...o }),
        connect: (o) => connect('host', { retries: 1, timeoutMs: 10, ...o }),
        pad: (o) => pad('x', o),
        Dense: (o) => new Dense({ units: 2, ...o }),
        'Dense.fromUnits': (o) => Dense.fromUnits(2, o),
        'tools.scale': (o) => tools.scale(2, o),
      },
    });
    const failed = await failures(cases);
    expect(failed.map((f) => f.split(' => ')[0])).toEqual([
      'Base.prototype.describe (method) has a recipe',
      'Concrete (constructor) has a recipe',
      "Dense rejects 'use_bias', suggesting 'useBias'",
      "Dense.fromUnits rejects 'use_bias', suggesting 'useBias'",
      'Dense.prototype.fit (method) has a recipe',
      'Perceptron.prototype.train (method) has a recipe',
      "connect rejects 'timeout_ms', suggesting 'timeoutMs'",
      "pad rejects 'fill_char', suggesting 'fillChar'",
      "tools.scale rejects 'facto', suggesting 'factor'",
    ]);
  });
});

describe('describeOptionsContract', () => {
  it('registers one test per case, skipped ones through it.skip with the reason', () => {
    const names: string[] = [];
    const it = Object.assign((name: string) => void names.push(name), { skip: (name: string) => void names.push(`skip: ${name}`) });
    describeOptionsContract(fixture, { describe: (_name, body) => body(), it }, {
      takers: [taker('a', ['x']), taker('b', ['y'])],
      recipes: { a: () => 1, b: () => 1 },
      skip: { b: 'needs a GPU', gone: 'was here once' },
    });
    expect(names).toEqual(["a rejects 'xx', suggesting 'x'", "skip: b rejects 'yy', suggesting 'y' (skipped: needs a GPU)", 'skip gone names an options-taker']);
  });
});

describe('every optional key is accepted', () => {
  it("fails a taker whose checked list lacks a key its type declares, naming the key", async () => {
    const t = { ...taker('fit', ['epochs', 'batchSize', 'verbose']), optional: ['batchSize', 'verbose'] };
    const cases = optionsContractCases(fixture, { takers: [t], recipes: { fit: strict('fit', ['epochs', 'batchSize']) } });
    expect(await failures(cases)).toEqual([expect.stringMatching(/fit rejects its own option 'verbose' \(declared in src\/x\.ts.*\): add it to the list of keys it checks/)]);
    expect(await failures(optionsContractCases(fixture, { takers: [t], recipes: { fit: strict('fit', ['epochs', 'batchSize']) }, everyKey: false }))).toEqual([]);
  });
  it('ignores other errors of a call with a key undefined (the recipe replaced its own value)', async () => {
    const needsN: Recipe = (o) => {
      strict('make', ['n', 'seed'])(o);
      if (!('n' in o) || o.n !== undefined) return 1;
      throw new RangeError('make: n must be a positive integer');
    };
    expect(await failures(optionsContractCases(fixture, { takers: [taker('make', ['n', 'seed'])], recipes: { make: needsN } }))).toEqual([]);
  });
});
