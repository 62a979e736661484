/**
 * The option keys each public function of @ml/data accepts, listed once per options
 * interface with a compile-time check both ways: a key the interface lacks, or a key of the
 * interface left out of the list, is a type error. `checkOptions` (from @ml/tensor) uses
 * the lists at run time to refuse unknown keys (`DataLoader: unknown option 'batch_size';
 * did you mean 'batchSize'?`) instead of ignoring them.
 */

/** `unknown` when K names every key of T; otherwise an object type naming the keys left out. */
type NoneMissing<T, K extends readonly PropertyKey[]> = [Exclude<keyof T, K[number]>] extends [never] ? unknown : { missingKeys: Exclude<keyof T, K[number]> };

/**
 * `optionKeys<CsvOptions>()(['columns', 'types', …])`: the list, typed as given, that must
 * hold every key of the options interface and nothing else.
 */
export function optionKeys<T extends object>() {
  return <const K extends readonly (keyof T & string)[]>(keys: K & NoneMissing<T, K>): K => keys;
}
