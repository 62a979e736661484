/**
 * `true` when the key list `K` names every key of the options interface `T`; otherwise a
 * type naming the missing ones, so `const ok: AllListed<FitOptions, typeof FIT_OPTIONS> = true`
 * fails to compile when an option is added to the interface but not to the list that
 * `checkOptions` accepts. (`satisfies readonly (keyof T)[]` on the list catches the
 * opposite: a listed key the interface lacks.)
 */
export type AllListed<T, K extends readonly (keyof T)[]> = [Exclude<keyof T, K[number]>] extends [never] ? true : { missing: Exclude<keyof T, K[number]> };
