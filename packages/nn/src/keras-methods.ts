/**
 * Keras's model methods (compile, fit, evaluate, predict, save) are part of `Module`, but
 * training lives in @ml/train, which depends on this package. So @ml/train installs the
 * implementation here on import (as @ml/autograd installs `backward` into @ml/tensor), and
 * adds the methods' exact signatures to `Module` by declaration merging. Without it a call
 * says which package to import.
 */

/** The method names @ml/train implements. */
export type KerasMethod = 'compile' | 'fit' | 'evaluate' | 'predict' | 'save';

/** What @ml/train installs: each method as a function of the model and the call's arguments. */
export type KerasMethods = Record<KerasMethod, (model: never, ...args: never[]) => unknown>;

let installed: KerasMethods | null = null;

/** Install the implementation of Keras's model methods (done by `import '@ml/train'`). */
export function installKerasMethods(methods: KerasMethods): void {
  installed = methods;
}

/** Run one of them on `model`, or say what to import. */
export function callKerasMethod(method: KerasMethod, model: object, args: readonly unknown[]): unknown {
  if (installed === null) throw new Error(`model.${method}: Keras's model methods come with @ml/train — add \`import '@ml/train'\` to your program`);
  return (installed[method] as (model: object, ...args: unknown[]) => unknown)(model, ...args);
}
