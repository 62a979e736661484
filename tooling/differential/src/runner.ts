/**
 * The runner: for each op of the table, a property over its generated cases (fast-check)
 * that builds the case's operands on the backend under test in float32 and on the cpu
 * backend in float64 from the same values, runs the op on both, compares the outputs and
 * the gradients of every float operand (backward from a random upstream gradient), and
 * runs the case a second time on the backend under test for a bitwise-equal result.
 */
import '@ml/autograd';
import fc from 'fast-check';
import { fromArray, getBackend, isFloat, setBackend, tidy, type DType, type Tensor, type TypedArray } from '@ml/tensor';
import { build, describeOperand, dtypeOf, values, type Operand } from './operand.js';

/** One generated case: the operands and the op's own attributes. */
export interface Case<A = unknown> {
  readonly operands: readonly Operand[];
  readonly attrs: A;
  /** the upstream gradient's seed */
  readonly seed: number;
}

/**
 * A float element passes when |got − want| ≤ atol + rtol·|want| + scale·max|want| (the
 * max over the tensor: products and sums lose digits to cancellation, relative to their
 * terms, not to their result) + terms·bound, where bound is the op's own `terms` for that
 * element (a sum whose terms cancel in every element, so that max|want| is no measure of
 * them, still gets its due). NaN matches NaN; infinities must be equal.
 */
export interface Tolerance {
  rtol: number;
  atol: number;
  scale: number;
  /** the share of the op's `terms` bound allowed (0 when the op has none) */
  terms: number;
}

export const DEFAULT_TOLERANCE: Tolerance = { rtol: 4e-6, atol: 1e-6, scale: 2e-6, terms: 0 };

/** Where an op runs: the backend (also the current one) and the float dtype of its operands. */
export interface RunContext {
  backend: string;
  float: DType;
}

/** An op of the table. */
export interface DiffOp<A> {
  name: string;
  /** generated cases per run (before `scale`) */
  runs: number;
  cases: fc.Arbitrary<Case<A>>;
  /** the op on the operands (made on the backend being run, which is also current); null: declined here, the case is skipped */
  run(xs: Tensor[], attrs: A, ctx: RunContext): Tensor | Tensor[] | null;
  /** the float64 reference on the cpu backend, when not `run` itself */
  reference?(xs: Tensor[], attrs: A, ctx: RunContext): Tensor | Tensor[];
  /**
   * For an op whose outputs are sums: per element of the first output, the size its
   * rounding error can reach in float32 before the tolerance's `terms` share (e.g. √K·|A|·|B|
   * for a product over K: the usual probabilistic bound of a sum of K rounded terms).
   * Made on the cpu backend in float64 from the operands, without gradients.
   */
  terms?(xs: Tensor[], attrs: A): Tensor;
  /** the outputs' tolerance (float32 against float64), per backend */
  tol?: Partial<Tolerance> | ((backend: string) => Partial<Tolerance>);
  /** the gradients' (default: `tol`'s) */
  gradTol?: Partial<Tolerance> | ((backend: string) => Partial<Tolerance>);
  /** compare gradients (default true) */
  grad?: boolean;
  /** whether the op can run on the backend (e.g. a kernel only some backends register) */
  available?(backend: string): boolean;
}

/** An op of any attribute type, as the table holds it. */
export type AnyOp = DiffOp<unknown>;

/** Erase an op's attribute type for the table. */
export function defineOp<A>(op: DiffOp<A>): AnyOp {
  return op as unknown as AnyOp;
}

/** The slice of a test framework the runner needs (vitest, jest, mocha fit). */
export interface DifferentialHarness {
  describe: (name: string, fn: () => void) => void;
  it: (name: string, fn: () => Promise<void>, timeout?: number) => void;
}

export interface DifferentialOptions {
  /** the ops to run (default: every op of the table, see `DIFFERENTIAL_OPS`) */
  ops?: readonly AnyOp[];
  /** run only the ops this returns true for */
  filter?: (name: string) => boolean;
  /** multiplies every op's number of cases (default 1; the env var ML_DIFF_RUNS multiplies it again) */
  scale?: number;
  /** the seed (default: ML_DIFF_SEED, else a fresh one each run, printed on failure) */
  seed?: number;
  /** the reference backend (default 'cpu', in float64) */
  reference?: string;
  /** compare a second run on the backend for bitwise equality (default true) */
  determinism?: boolean;
  /** per-test timeout passed to `it` (ms) */
  timeout?: number;
  /** the float dtype the backend runs in (default 'float32') */
  dtype?: DType;
}

/** The run's seed: ML_DIFF_SEED when set, else `fallback`, else a fresh one. */
export function differentialSeed(fallback?: number): number {
  const env = typeof process !== 'undefined' ? process.env.ML_DIFF_SEED : undefined;
  if (env !== undefined && env !== '') {
    const s = Number(env);
    if (!Number.isInteger(s)) throw new Error(`ML_DIFF_SEED must be an integer, got '${env}'`);
    return s | 0;
  }
  return fallback ?? ((Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0);
}

function envNumber(name: string): number | undefined {
  const v = typeof process !== 'undefined' ? process.env[name] : undefined;
  return v === undefined || v === '' ? undefined : Number(v);
}

/** A 32-bit hash of a string (FNV-1a), to give each op its own seed. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h | 0;
}

/** How many cases `op` runs at `scale`. */
export function casesFor(op: AnyOp, scale: number): number {
  return Math.max(1, Math.round(op.runs * scale));
}

/**
 * Register, inside one `describe`, a test per op (titled `<op>: <n> generated cases`) that
 * checks `backendName` against the cpu backend in float64. A failure names the seed to
 * rerun it with (ML_DIFF_SEED) besides fast-check's counterexample, shrunk.
 */
export function describeDifferential(backendName: string, harness: DifferentialHarness, options: DifferentialOptions = {}): void {
  const ops = (options.ops ?? []).filter((op) => (options.filter?.(op.name) ?? true) && (op.available?.(backendName) ?? true));
  const scale = (options.scale ?? 1) * (envNumber('ML_DIFF_RUNS') ?? 1);
  const seed = differentialSeed(options.seed);
  const path = typeof process !== 'undefined' ? process.env.ML_DIFF_PATH : undefined;
  harness.describe(`differential: ${backendName} against ${options.reference ?? 'cpu'} in float64`, () => {
    for (const op of ops) {
      const n = casesFor(op, scale);
      const title = `${op.name}: ${n} generated cases`;
      harness.it(
        title,
        async () => {
          getBackend(backendName); // a clear error when it is not registered
          const opSeed = (seed ^ hash(op.name)) | 0;
          const property = fc.asyncProperty(op.cases, (c) => checkCase(op, c, backendName, options));
          try {
            await fc.assert(property, { numRuns: n, seed: opSeed, ...(path ? { path } : {}) });
          } catch (e) {
            const msg = e instanceof Error ? e.message : String(e);
            throw new Error(`differential ${backendName} · ${op.name} failed (ML_DIFF_SEED=${seed}; rerun with ML_DIFF_SEED=${seed} and -t "${op.name}:")\n${msg}`, { cause: e });
          }
        },
        options.timeout,
      );
    }
  });
}

interface Computed {
  outs: { dtype: DType; shape: readonly number[]; data: TypedArray }[];
  grads: (TypedArray | null)[];
  /** the op's `terms` bound of the first output (the reference only) */
  terms: TypedArray | null;
}

type Outcome = { kind: 'ok'; value: Computed } | { kind: 'error'; error: unknown } | { kind: 'declined' };

function tolOf(t: DiffOp<unknown>['tol'], backend: string): Tolerance {
  const own = typeof t === 'function' ? t(backend) : (t ?? {});
  return { ...DEFAULT_TOLERANCE, ...own };
}

/** Run `op` on `c` on `backend` in `floatDType`: outputs and the gradients of the operands' storage. */
async function compute(op: AnyOp, c: Case, backend: string, floatDType: DType, reference: boolean): Promise<Outcome> {
  const prev = getBackend().name;
  setBackend(backend);
  let made: { outs: Tensor[]; grads: (Tensor | null)[]; terms: Tensor | null } | null;
  try {
    made = tidy(() => {
      const built = c.operands.map((o) => build(o, backend, floatDType, op.grad !== false));
      const xs = built.map((b) => b.tensor);
      const ctx = { backend, float: floatDType };
      const r = reference && op.reference ? op.reference(xs, c.attrs, ctx) : op.run(xs, c.attrs, ctx);
      if (r === null) return null;
      const outs = Array.isArray(r) ? r : [r];
      const terms = reference && op.terms ? op.terms(xs.map((x) => x.detach()), c.attrs) : null;
      const grads: (Tensor | null)[] = [];
      const root = outs[0];
      if (op.grad !== false && root.requiresGrad && isFloat(root.dtype)) {
        const up = fromArray(values('float', root.size, c.seed), root.shape, { dtype: root.dtype, backend });
        root.backward(up);
        for (const b of built) grads.push(b.leaf.requiresGrad ? (b.leaf.grad?.detach() ?? null) : null);
      }
      return { outs, grads, terms };
    });
  } catch (error) {
    return { kind: 'error', error };
  } finally {
    setBackend(prev);
  }
  if (made === null) return { kind: 'declined' };
  try {
    const outs = [];
    for (const t of made.outs) outs.push({ dtype: t.dtype, shape: [...t.shape], data: await t.data() });
    const grads = [];
    for (const g of made.grads) grads.push(g === null ? null : await g.data());
    const terms = made.terms === null ? null : await made.terms.data();
    return { kind: 'ok', value: { outs, grads, terms } };
  } catch (error) {
    return { kind: 'error', error };
  } finally {
    for (const t of made.outs) t.dispose();
    made.terms?.dispose();
    for (const g of made.grads) g?.dispose();
  }
}

/** Check one case: the backend against the reference, and against itself on a second run. */
async function checkCase(op: AnyOp, c: Case, backendName: string, options: DifferentialOptions): Promise<void> {
  const ref = await compute(op, c, options.reference ?? 'cpu', 'float64', true);
  const got = await compute(op, c, backendName, options.dtype ?? 'float32', false);
  const where = () => `${op.name} on ${backendName}\n  operands: ${c.operands.map(describeOperand).join(' | ')}\n  attrs: ${JSON.stringify(c.attrs)}`;
  if (got.kind === 'declined') return;
  if (ref.kind === 'error' || got.kind === 'error') {
    if (ref.kind === 'error' && got.kind === 'error') return; // both refuse the case
    const err = ref.kind === 'error' ? ref.error : (got as { error: unknown }).error;
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`${where()}\n  ${ref.kind === 'error' ? `only the reference threw: ${msg}` : `only ${backendName} threw: ${msg}`}`);
  }
  if (ref.kind === 'declined') throw new Error(`${where()}\n  the reference declined the case`);
  const r = ref.value;
  const g = got.value;
  const tol = tolOf(op.tol, backendName);
  const gradTol = op.gradTol === undefined ? tol : tolOf(op.gradTol, backendName);
  for (let k = 0; k < r.outs.length; k++) {
    const [a, b] = [g.outs[k], r.outs[k]];
    const label = r.outs.length > 1 ? `output ${k}` : 'output';
    if (a.shape.join() !== b.shape.join()) throw new Error(`${where()}\n  ${label} shape [${a.shape.join(',')}], reference [${b.shape.join(',')}]`);
    const want = dtypeOf(isFloat(b.dtype) ? 'float' : b.dtype === 'bool' ? 'bool' : 'int', options.dtype ?? 'float32');
    if (a.dtype !== want) throw new Error(`${where()}\n  ${label} dtype ${a.dtype}, expected ${want} (reference ${b.dtype})`);
    const bad = compare(a.data, b.data, isFloat(b.dtype) ? tol : null, a.shape, k === 0 ? r.terms : null);
    if (bad !== null) throw new Error(`${where()}\n  ${label}: ${bad}`);
  }
  for (let k = 0; k < r.grads.length; k++) {
    const [a, b] = [g.grads[k], r.grads[k]];
    const label = `gradient of operand ${k} (${describeOperand(c.operands[k])}), over its storage`;
    if (a === undefined) throw new Error(`${where()}\n  ${label}: missing`);
    const n = b?.length ?? a?.length ?? 0;
    // a broadcast operand's gradient sums one term per copy (by its layout's expansion and by
    // the op's broadcasting): a float32 sum of n terms of about 1 is off by up to about n·ε
    // when it cancels to nothing, and by √n·ε relative to its size otherwise
    const o = c.operands[k];
    const copies = o.layout.expand.reduce((p, d) => p * o.shape[d], 1) * Math.max(1, r.outs[0].data.length / Math.max(1, prodOf(o.shape)));
    const t = { ...gradTol, atol: gradTol.atol * copies, scale: gradTol.scale * Math.sqrt(copies) };
    const bad = compare(a ?? new Float32Array(n), b ?? new Float64Array(n), t, [n]);
    if (bad !== null) throw new Error(`${where()}\n  ${label}: ${bad}`);
  }
  if (options.determinism === false) return;
  const again = await compute(op, c, backendName, options.dtype ?? 'float32', false);
  if (again.kind !== 'ok') throw new Error(`${where()}\n  the second run ${again.kind === 'error' ? `threw: ${String(again.error)}` : 'declined'}`);
  const twice = (label: string, x: TypedArray | null, y: TypedArray | null, shape: readonly number[]) => {
    const bad = x === null || y === null ? (x === y ? null : 'present in one run only') : compare(y, x, null, shape);
    if (bad !== null) throw new Error(`${where()}\n  not deterministic: ${label} of a second run differs from the first: ${bad}`);
  };
  g.outs.forEach((o, k) => twice(`output ${k}`, o.data, again.value.outs[k].data, o.shape));
  g.grads.forEach((x, k) => twice(`gradient of operand ${k}`, x, again.value.grads[k], [x?.length ?? 0]));
}

const prodOf = (s: readonly number[]): number => s.reduce((p, d) => p * d, 1);

function multiIndex(flat: number, shape: readonly number[]): string {
  const idx: number[] = [];
  let rem = flat;
  for (let d = shape.length - 1; d >= 0; d--) {
    idx.unshift(shape[d] === 0 ? 0 : rem % shape[d]);
    rem = shape[d] === 0 ? 0 : Math.floor(rem / shape[d]);
  }
  return `[${idx.join(',')}]`;
}

/**
 * null when `got` matches `want`: within `tol` (floats; `terms`, the op's per-element bound
 * when it has one), or exactly (tol null: integers, booleans, and a run against a run, where
 * -0 and 0 differ too); else what differs.
 */
export function compare(got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance | null, shape: readonly number[], terms: ArrayLike<number> | null = null): string | null {
  if (got.length !== want.length) return `${got.length} values, expected ${want.length}`;
  let scale = 0;
  if (tol !== null) for (let i = 0; i < want.length; i++) if (Number.isFinite(want[i])) scale = Math.max(scale, Math.abs(want[i]));
  let bad = 0;
  let first = -1;
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const [a, e] = [got[i], want[i]];
    let ok: boolean;
    if (Number.isNaN(a) || Number.isNaN(e)) ok = Number.isNaN(a) && Number.isNaN(e);
    else if (tol === null) ok = Object.is(a, e);
    else if (!Number.isFinite(a) || !Number.isFinite(e)) ok = a === e;
    else {
      const err = Math.abs(a - e);
      const allowed = tol.atol + tol.rtol * Math.abs(e) + tol.scale * scale + (terms === null ? 0 : tol.terms * terms[i]);
      ok = err <= allowed;
      if (!ok) worst = Math.max(worst, err / allowed);
    }
    if (!ok) {
      bad++;
      if (first < 0) first = i;
    }
  }
  if (bad === 0) return null;
  const own = terms === null || tol === null ? '' : `, terms ${tol.terms}·${Number(terms[first]).toPrecision(4)}`;
  const t = tol === null ? 'exact' : `atol ${tol.atol}, rtol ${tol.rtol}, scale ${tol.scale}·${scale.toPrecision(4)}${own}; worst ${worst.toPrecision(3)}× the allowance`;
  return `${bad} of ${want.length} elements differ; first at ${multiIndex(first, shape)}: got ${got[first]}, expected ${want[first]} (${t})`;
}

