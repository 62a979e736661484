/**
 * @ml/cli-kit — what the example apps' command lines share: a usage error type, checked
 * number flags, one place that turns errors into messages and exit codes, and a runner
 * that starts a built app the way a user would (for their tests).
 */
import { spawnSync } from 'node:child_process';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { closest } from '@ml/tensor';

/** A mistake in the command line: reported with a pointer to --help, exit code 2. */
export class UsageError extends Error {}

/** `--name` as a positive integer, or undefined when absent. */
export function positiveInt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${name} expects a positive integer, got '${v}'`);
  return n;
}

/** `--name` as an integer ≥ 0 (a seed, a count that may be zero), or undefined when absent. */
export function nonNegativeInt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isSafeInteger(n) || n < 0) throw new UsageError(`--${name} expects an integer ≥ 0, got '${v}'`);
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

type Flags = NonNullable<ParseArgsConfig['options']>;

/**
 * The command line of an app, parsed with node:util's parseArgs, with the mistakes a user
 * makes reported as UsageErrors that say what to do: an unknown flag names the closest
 * valid ones ("unknown option --epoch; did you mean --epochs?"), a flag without its value
 * says so. A negative number is taken as a flag's value (`--epochs -1` reaches the flag's
 * own check instead of parseArgs's "argument is ambiguous").
 */
export function parseFlags<T extends Flags>(argv: readonly string[], options: T): { values: ReturnType<typeof parseArgs<{ options: T; allowPositionals: true }>>['values']; positionals: string[] } {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const name = a.startsWith('--') ? a.slice(2) : undefined;
    const next = argv[i + 1];
    if (name !== undefined && options[name]?.type === 'string' && next !== undefined && /^-(\d|\.\d|Infinity)/.test(next)) {
      args.push(`${a}=${next}`);
      i++;
    } else args.push(a);
  }
  const known = Object.keys(options);
  const loose = parseArgs({ args, options, allowPositionals: true, strict: false, tokens: true });
  for (const token of loose.tokens) {
    if (token.kind !== 'option' || Object.hasOwn(options, token.name)) continue;
    const flag = token.rawName.startsWith('--') ? `--${token.name}` : token.rawName;
    const near = closest(token.name, known).slice(0, 2).map((n) => `--${n}`);
    throw new UsageError(`unknown option ${flag}${near.length > 0 ? `; did you mean ${near.join(' or ')}?` : ''}`);
  }
  try {
    const parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { values: parsed.values, positionals: parsed.positionals };
  } catch (e) {
    if (!isParseError(e)) throw e;
    const missing = /Option '(-\w, )?(--[\w-]+)[^']*' argument missing/.exec((e as Error).message);
    if (missing) throw new UsageError(`${missing[2]} needs a value`);
    const valued = /Option '(--[\w-]+)' does not take an argument/.exec((e as Error).message);
    if (valued) throw new UsageError(`${valued[1]} is a switch and takes no value`);
    throw new UsageError((e as Error).message);
  }
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

/**
 * For an app's tests: whether git ignores the folder an app writes by default (`folder`,
 * relative to `dir`) and which files in it git tracks. Undefined outside a git checkout.
 */
export function outputFolderInGit(dir: string, folder: string): { ignored: boolean; tracked: string[] } | undefined {
  const git = (...args: string[]) => spawnSync('git', args, { cwd: dir, encoding: 'utf8' });
  if (git('rev-parse', '--is-inside-work-tree').status !== 0) return undefined;
  const ignored = git('check-ignore', '-q', '--no-index', `${folder}/any-file`).status === 0;
  const tracked = git('ls-files', '--', folder).stdout.split('\n').filter((l) => l !== '');
  return { ignored, tracked };
}

/** The near names of a misspelt one (the library's helper, for the apps' commands and flags). */
export { closest, editDistance } from '@ml/tensor';

export { BACKEND_CHOICES, onHost, selectBackendFlag, type BackendChoice } from './backend.js';
