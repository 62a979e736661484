/**
 * The options contract: every exported options-taker of a package rejects an unknown key
 * with an error naming the function, the key and the key meant. The takers come from the
 * source ({@link optionsTakers}), so a new export without a recipe fails the test.
 */
import { optionsTakers, type OptionsTaker, type TakersOptions } from './takers.js';

/**
 * Calls one taker with valid other arguments and `options` merged into valid minimal
 * options (`(o) => new Linear({ inFeatures: 2, outFeatures: 3, ...o })`). May return a
 * promise; its rejection counts as a throw.
 */
export type Recipe = (options: Record<string, unknown>) => unknown;

/** A recipe with the name its error messages use, where that is not the exported name (an alias such as `var_`). */
export interface NamedRecipe {
  call: Recipe;
  op: string;
}

export interface ContractOptions extends TakersOptions {
  /** One recipe per taker, by its name (`Conv2d`, `fit`, `Tensor.prototype.std`); `name#i` where a taker has two options parameters. */
  recipes: Readonly<Record<string, Recipe | NamedRecipe>>;
  /** Takers where an options check makes no sense, each with the reason. */
  exempt?: Readonly<Record<string, string>>;
  /**
   * Takers whose recipes cannot run on this machine (no GPU device, say), each with the
   * reason: their tests are registered as skipped. They still need a recipe.
   */
  skip?: Readonly<Record<string, string>>;
  /**
   * Also call each taker once per optional key given `undefined` (its default): an
   * "unknown option" error naming that key means the check's list lacks a key the type
   * declares (other errors are the recipe's business: its own value was replaced). Default true.
   */
  everyKey?: boolean;
  /** The takers, when already listed (default: {@link optionsTakers} of the package). */
  takers?: readonly OptionsTaker[];
}

/** One test: its title and a body that throws an Error saying what is wrong; `skip`: why it cannot run here. */
export interface ContractCase {
  title: string;
  run: () => Promise<void>;
  skip?: string;
}

/**
 * Levenshtein distance. A copy of @ml/tensor's `editDistance` on purpose: every package,
 * @ml/tensor included, has this package as a devDependency, so it cannot depend on them.
 */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length];
}

const snake = (key: string): string => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/**
 * A misspelling of one of `keys` and the key it means: the snake_case form of a camelCase
 * key (`batchSize` → `batch_size`, Keras's spelling) where there is one, else the key less
 * its last letter (or doubled, for short keys), picked so that no other key is as close.
 */
export function misspelling(keys: readonly string[]): { key: string; misspelt: string } {
  if (keys.length === 0) throw new Error('api-check: no keys to misspell');
  const camel = keys.find((k) => /[a-z][A-Z]/.test(k));
  if (camel !== undefined) return { key: camel, misspelt: snake(camel) };
  const tries = keys.map((key) => ({ key, misspelt: key.length >= 4 ? key.slice(0, -1) : `${key}${key.slice(-1)}` }));
  const unique = tries.find(({ key, misspelt }) => keys.every((other) => other === key || distance(misspelt, other) > distance(misspelt, key)));
  return unique ?? tries[0];
}

/** The name an error message should carry: `Conv2d`, `fit`, `std` for `Tensor.prototype.std`. */
function publicName(taker: OptionsTaker): string {
  const parts = taker.name.split('.');
  return parts[parts.length - 1];
}

const recipeKey = (taker: OptionsTaker, all: readonly OptionsTaker[]): string =>
  all.filter((t) => t.name === taker.name).length > 1 ? `${taker.name}#${taker.paramIndex}` : taker.name;

async function outcome(call: () => unknown): Promise<{ threw: false } | { threw: true; error: unknown }> {
  try {
    await call();
    return { threw: false };
  } catch (error) {
    return { threw: true, error };
  }
}

const describeError = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

/**
 * The contract's test cases for the package at `packageDir`: one per taker (a valid call
 * succeeds; a misspelt key throws naming the taker, the key and the key meant), one per
 * taker without a recipe or exemption ("add a recipe for X") and one per recipe or
 * exemption of something no longer exported.
 */
export function optionsContractCases(packageDir: string, options: ContractOptions): ContractCase[] {
  const takers = options.takers ?? optionsTakers(packageDir, options);
  const exempt = options.exempt ?? {};
  const cases: ContractCase[] = [];
  const listed = new Set(takers.map((t) => recipeKey(t, takers)));
  for (const taker of takers) {
    const key = recipeKey(taker, takers);
    const where = `${taker.file}, parameter ${taker.paramIndex} '${taker.paramName}' {${taker.keys.join(', ')}}`;
    if (Object.hasOwn(exempt, key)) {
      if (Object.hasOwn(options.recipes, key)) {
        cases.push({ title: `${key}: both exempt and given a recipe`, run: () => Promise.reject(new Error(`${key} has a recipe and an exemption; keep one`)) });
      }
      continue;
    }
    const recipe = options.recipes[key];
    if (recipe === undefined) {
      cases.push({
        title: `${key} (${taker.kind}) has a recipe`,
        run: () => Promise.reject(new Error(`add a recipe for ${key} (${taker.kind} in ${where}), or an exemption saying why an options check makes no sense there`)),
      });
      continue;
    }
    const call = typeof recipe === 'function' ? recipe : recipe.call;
    const op = typeof recipe === 'function' ? publicName(taker) : recipe.op;
    const { key: real, misspelt } = misspelling(taker.keys);
    cases.push({
      title: `${key} rejects '${misspelt}', suggesting '${real}'`,
      ...(options.skip !== undefined && Object.hasOwn(options.skip, key) ? { skip: options.skip[key] } : {}),
      run: async () => {
        const valid = await outcome(() => call({}));
        if (valid.threw) throw new Error(`the recipe for ${key} throws with valid options; fix the recipe: ${describeError(valid.error)}`);
        if (options.everyKey ?? true) {
          const rejected: string[] = [];
          for (const k of taker.optional) {
            const own = await outcome(() => call({ [k]: undefined }));
            if (own.threw && describeError(own.error).includes(`unknown option '${k}'`)) rejected.push(k);
          }
          if (rejected.length > 0) {
            throw new Error(`${key} rejects its own option${rejected.length > 1 ? 's' : ''} ${rejected.map((k) => `'${k}'`).join(', ')} (declared in ${where}): add ${rejected.length > 1 ? 'them' : 'it'} to the list of keys it checks`);
          }
        }
        const bad = await outcome(() => call({ [misspelt]: 1 }));
        if (!bad.threw) {
          throw new Error(`${key} accepted the unknown option '${misspelt}' silently (${where}); call checkOptions('${op}', ${taker.paramName}, KEYS) from @ml/tensor`);
        }
        const message = bad.error instanceof Error ? bad.error.message : String(bad.error);
        const missing = [
          message.includes(op) ? undefined : `the name '${op}'`,
          message.includes(`'${misspelt}'`) ? undefined : `the key '${misspelt}'`,
          message.includes(`'${real}'`) ? undefined : `the suggestion '${real}'`,
        ].filter((m) => m !== undefined);
        if (missing.length > 0) throw new Error(`${key} with option '${misspelt}' threw without ${missing.join(', ')}: ${describeError(bad.error)}`);
      },
    });
  }
  for (const key of Object.keys(options.recipes)) {
    if (!listed.has(key)) cases.push({ title: `recipe ${key} names an options-taker`, run: () => Promise.reject(new Error(`there is a recipe for ${key}, which is not an exported options-taker (any more); remove it`)) });
  }
  for (const key of Object.keys(options.skip ?? {})) {
    if (!listed.has(key)) cases.push({ title: `skip ${key} names an options-taker`, run: () => Promise.reject(new Error(`${key} is skipped but is not an exported options-taker (any more); remove it from skip`)) });
  }
  for (const key of Object.keys(exempt)) {
    if (!listed.has(key)) cases.push({ title: `exemption ${key} names an options-taker`, run: () => Promise.reject(new Error(`${key} is exempt but is not an exported options-taker (any more); remove the exemption`)) });
  }
  return cases;
}

/** The `describe`/`it` of a test runner (vitest, jest, node:test); `it.skip` registers the skipped cases. */
export interface TestApi {
  describe: (name: string, body: () => void) => void;
  it: ((name: string, body: () => Promise<void>, timeout?: number) => void) & { skip?: (name: string, body: () => Promise<void>) => void };
}

/**
 * Register the contract with a test runner: one `it` per case under one `describe`
 * (none at all where the package has no options-taker and no recipes).
 *
 * ```ts
 * import { describe, it } from 'vitest';
 * describeOptionsContract('.', { describe, it }, { recipes: { Adam: (o) => new Adam(params, { lr: 0.1, ...o }) } });
 * ```
 */
export function describeOptionsContract(packageDir: string, api: TestApi, options: ContractOptions & { title?: string; timeout?: number }): void {
  const cases = optionsContractCases(packageDir, options);
  if (cases.length === 0) return; // an empty describe fails in vitest; a package without takers has nothing to check
  api.describe(options.title ?? 'options contract: an unknown option throws, naming the function, the key and the key meant', () => {
    for (const c of cases) {
      if (c.skip === undefined) api.it(c.title, c.run, options.timeout);
      else api.it.skip?.(`${c.title} (skipped: ${c.skip})`, c.run);
    }
  });
}
