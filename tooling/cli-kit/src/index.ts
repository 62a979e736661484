/**
 * @ml/cli-kit — what the example apps' command lines share: a usage error type, checked
 * number flags, one place that turns errors into messages and exit codes, and a runner
 * that starts a built app the way a user would (for their tests).
 */
import { spawnSync } from 'node:child_process';

/** A mistake in the command line: reported with a pointer to --help, exit code 2. */
export class UsageError extends Error {}

/** `--name` as a positive integer, or undefined when absent. */
export function positiveInt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${name} expects a positive integer, got '${v}'`);
  return n;
}

/** `--name` as a finite positive number, or undefined when absent. */
export function positiveNumber(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(n > 0) || !Number.isFinite(n)) throw new UsageError(`--${name} expects a positive number, got '${v}'`);
  return n;
}

/** `--name` as any finite number, or `fallback` when absent. */
export function finiteNumber(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} expects a number, got '${v}'`);
  return n;
}

/** `--name` as one of `allowed`, or `fallback` when absent. */
export function oneOf<T extends string>(name: string, v: string | undefined, allowed: readonly T[], fallback: T): T {
  if (v === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`--${name} must be ${allowed.join(', ')}; got '${v}'`);
  return v as T;
}

const isParseError = (e: unknown): boolean => typeof (e as { code?: unknown }).code === 'string' && (e as { code: string }).code.startsWith('ERR_PARSE_ARGS');

/**
 * Run an app's `main` and set the exit code: its return value (default 0); 2 for usage
 * errors (UsageError or node:util parseArgs's), with a pointer to --help; 1 for any other
 * error, printed as "<name>: <message>" (and its stack when ML_DEBUG=1).
 */
export function runCli(name: string, main: () => Promise<number | void> | number | void): void {
  const fail = (e: unknown): number => {
    const message = e instanceof Error ? e.message : String(e);
    if (e instanceof UsageError || isParseError(e)) {
      process.stderr.write(`${name}: ${message}\n\nRun ${name} --help for usage.\n`);
      return 2;
    }
    process.stderr.write(`${name}: ${message}\n`);
    if (process.env.ML_DEBUG === '1' && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    return 1;
  };
  let result: Promise<number | void> | number | void;
  try {
    result = main();
  } catch (e) {
    process.exitCode = fail(e);
    return;
  }
  Promise.resolve(result).then(
    (code) => {
      process.exitCode = code ?? 0;
    },
    (e: unknown) => {
      process.exitCode = fail(e);
    },
  );
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a built app (`node <script> …args`) without a terminal, as CI does; for tests. */
export function runScript(script: string, ...args: string[]): CliRun {
  const r = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export { BACKEND_CHOICES, onHost, selectBackendFlag, type BackendChoice } from './backend.js';
