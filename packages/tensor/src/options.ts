/**
 * Options objects that never fail silently: an unknown key (a typo, a Keras or PyTorch
 * spelling) is an error naming the function, the key and the closest valid names, instead
 * of an option quietly ignored (`fit(…, { batch_size: 100 })` trained with batch 32).
 */

/** Levenshtein distance: how many one-character edits turn `a` into `b`. */
export function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length];
}

/** The candidates closest to `name` (at most a third of its letters away, or extending it), best first. */
export function closest(name: string, candidates: readonly string[]): string[] {
  const limit = Math.max(2, Math.ceil(name.length / 3));
  return candidates
    .map((c) => ({ c, d: Math.min(editDistance(name, c), c.startsWith(name) && name.length >= 3 ? 1 : Infinity) }))
    .filter(({ d }) => d <= limit)
    .sort((x, y) => x.d - y.d)
    .map(({ c }) => c);
}

/** `batch_size` → `batchSize`: Keras's and PyTorch's snake_case spelling of one of ours. */
const camel = (key: string): string => key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/**
 * Check that `options` holds only `valid` keys (undefined or null options pass). An unknown
 * key throws a TypeError: `fit: unknown option 'batch_size'; did you mean 'batchSize'?`.
 * `aliases` maps other libraries' names to ours where spelling alone does not lead there
 * (MultiheadAttention's `mask` → `attnMask`), or to a phrase naming a positional argument
 * (Dense's `units` → 'the first argument').
 */
export function checkOptions(op: string, options: unknown, valid: readonly string[], aliases: Readonly<Record<string, string>> = {}): void {
  if (options === undefined || options === null) return;
  if (typeof options !== 'object' || Array.isArray(options)) throw new TypeError(`${op}: options must be an object, got ${Array.isArray(options) ? 'an array' : typeof options}`);
  for (const key of Object.keys(options)) {
    if (valid.includes(key)) continue;
    const ours = Object.hasOwn(aliases, key) ? aliases[key] : valid.includes(camel(key)) ? camel(key) : undefined;
    // an alias may name a positional argument ('the first argument'): say so plainly
    if (ours?.includes(' ')) throw new TypeError(`${op}: unknown option '${key}'; give it as ${ours}`);
    const near = ours !== undefined ? [ours] : closest(key, valid).slice(0, 2);
    const hint = near.length > 0 ? `; did you mean ${near.map((n) => `'${n}'`).join(' or ')}?` : valid.length === 0 ? ': it takes no options' : ` (valid: ${valid.join(', ')})`;
    throw new TypeError(`${op}: unknown option '${key}'${hint}`);
  }
}

/**
 * The valid keys of an options interface, listed once: a key that is not in `T` or a key of
 * `T` left out is a compile error, so the list cannot drift from the interface.
 *
 * ```ts
 * const CREATE_KEYS = optionKeys<CreateOptions>()(['dtype', 'requiresGrad', 'backend']);
 * checkOptions('zeros', options, CREATE_KEYS);
 * ```
 */
export function optionKeys<T>(): <const K extends readonly (keyof T & string)[]>(keys: K & ([Exclude<keyof T, K[number]>] extends [never] ? unknown : { missing: Exclude<keyof T, K[number]> })) => K {
  return (keys) => keys;
}
