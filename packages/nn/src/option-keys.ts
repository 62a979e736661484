/**
 * Every key of an options interface, listed once, for `checkOptions`:
 * `optionKeys<LossOptions>()('reduction')`. Naming a key the interface lacks, or leaving one
 * out, is a compile error, so a list cannot drift from its interface.
 */
export const optionKeys =
  <T>() =>
  <const K extends readonly (keyof T & string)[]>(...keys: K & ([Exclude<keyof T & string, K[number]>] extends [never] ? unknown : never)): readonly (keyof T & string)[] =>
    keys;
