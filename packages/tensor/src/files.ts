/**
 * The file access behind the path-taking functions of the main entry (`saveSafetensors`,
 * `loadSafetensors`, `readSafetensorsHeader`, and so `Module.saveWeights`/`loadWeights`).
 * The main entry imports no Node module, so that it bundles for a browser as it is; the
 * Node entry (`node.ts`, what `@ml/tensor` resolves to under Node's "node" condition) fills
 * this slot when it loads. Without it the functions throw an error that says what to do.
 */
export interface FileAccess {
  /** all bytes of the file */
  readFile(path: string): Promise<Uint8Array>;
  /** the file's size and its first `length` bytes (fewer when the file is shorter) */
  readHead(path: string, length: number): Promise<{ size: number; bytes: Uint8Array }>;
  /** replace the file atomically and durably */
  writeFileAtomic(path: string, data: Uint8Array): Promise<void>;
}

let access: FileAccess | null = null;

/** @internal called by the Node entry */
export function setFileAccess(files: FileAccess): void {
  access = files;
}

/** The file access, or an error naming `what` and the ways forward. */
export function fileAccess(what: string): FileAccess {
  if (access === null) {
    throw new Error(
      `${what} reads or writes a file, which needs Node: under Node, @ml/tensor resolves to its Node entry, which provides file access ` +
        "(a bundler that targets the browser picks the browser entry). In a browser, work with bytes: serializeSafetensors() / parseSafetensors().",
    );
  }
  return access;
}
