import { promoteTypes } from '../dtype.js';
import { DEBUG, debugLog, record } from '../engine.js';
import { defineOp } from '../op.js';
import { checkOptions, optionKeys } from '../options.js';
import { broadcastShapes, fmt, ShapeError } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { fromArray } from './creation.js';
import { add, mul, neg, reciprocal, sub } from './elementwise.js';
import { choleskyLower, LinalgError, luSolve, qrLstsq, symmetricEigen } from './linalg-cpu.js';
import { expand, reshape, squeeze, transpose, unsqueeze } from './layout.js';
import { assertFloat, castTo, prim, runOp } from './prim.js';
import { sum } from './reduce.js';

/** Whether a [B, R, C] operand is laid out column by column (the transpose of a contiguous matrix). */
function storedTransposed(t: Tensor): boolean {
  return t.shape[1] > 1 && t.shape[2] > 1 && t.strides[1] === 1 && t.strides[2] === t.shape[1];
}

/**
 * The batched product primitive. C = AB ⇒ dA = dC Bᵀ, dB = Aᵀ dC; an operand stored
 * transposed (a Linear layer's weight.T) gets its gradient in that layout, (Bᵀ dCᵀ)ᵀ or
 * (dCᵀ A)ᵀ, so the parameter's gradient needs no transposing copy.
 */
const matmulOp = defineOp({
  name: 'matmul',
  grad: (dy, n, needs) => {
    const [a, b] = n.inputs;
    return [
      needs[0] ? (storedTransposed(a) ? transpose(bmm(b, transpose(dy, 1, 2)), 1, 2) : bmm(dy, transpose(b, 1, 2))) : null,
      needs[1] ? (storedTransposed(b) ? transpose(bmm(transpose(dy, 1, 2), a), 1, 2) : bmm(transpose(a, 1, 2), dy)) : null,
    ];
  },
});

/** The batched primitive: [B,M,K] × [B,K,N] → [B,M,N]. */
function bmm(a: Tensor, b: Tensor): Tensor {
  const [B, M] = a.shape;
  const N = b.shape[2];
  return prim(matmulOp, [a, b], {}, [B, M, N], a.dtype, (be, [va, vb]) => be.matmul(va, vb));
}

/** View/copy a [...batch, R, C] operand as [B, R, C] for the primitive. */
function as3d(t: Tensor, batch: readonly number[], B: number): Tensor {
  const [r, c] = t.shape.slice(-2);
  if (t.ndim === 2) return expand(unsqueeze(t, 0), [B, r, c]);
  return reshape(expand(t, [...batch, r, c]), [B, r, c]);
}

/**
 * Matrix product with NumPy's rules: 1-D operands are promoted (and the added dim
 * removed), batch dims broadcast.
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.ndim === 0 || b.ndim === 0) {
    throw new ShapeError(`matmul: both operands need at least 1 dim, got ${fmt(a.shape)} x ${fmt(b.shape)}`);
  }
  const dt = promoteTypes(a.dtype, b.dtype);
  if (dt === 'bool') throw new TypeError('matmul: bool tensors are not supported; cast to a numeric dtype first');
  const x = castTo(a.ndim === 1 ? unsqueeze(a, 0) : a, dt);
  const y = castTo(b.ndim === 1 ? unsqueeze(b, -1) : b, dt);
  const K = x.shape[x.ndim - 1];
  if (y.shape[y.ndim - 2] !== K) {
    throw new ShapeError(`matmul: ${fmt(a.shape)} x ${fmt(b.shape)} — inner dims ${K} and ${y.shape[y.ndim - 2]} differ`);
  }
  const M = x.shape[x.ndim - 2];
  const N = y.shape[y.ndim - 1];
  const batch = broadcastShapes('matmul', x.shape.slice(0, -2), y.shape.slice(0, -2));
  const B = batch.reduce((p, d) => p * d, 1);
  let out: Tensor;
  if (y.ndim === 2 && x.ndim > 2 && x.isContiguous) {
    // [..., M, K] x [K, N]: one big [1, B·M, K] x [1, K, N] product, no broadcast copies
    out = reshape(bmm(reshape(x, [1, B * M, K]), unsqueeze(y, 0)), [...batch, M, N]);
  } else {
    out = reshape(bmm(as3d(x, batch, B), as3d(y, batch, B)), [...batch, M, N]);
  }
  if (a.ndim === 1) out = squeeze(out, -2);
  if (b.ndim === 1) out = squeeze(out, -1);
  return out;
}

/**
 * A Linear layer's product as one op: ∂x = ∂y·W, ∂W = ∂yᵀ·x and ∂b = Σ ∂y over x's rows
 * (x's leading axes flattened).
 */
const linearOp = defineOp({
  name: 'linear',
  grad: (dy, n, needs) => {
    const [x, w] = n.inputs;
    const [out, inF] = w.shape;
    const dy2 = reshape(dy, [-1, out]);
    return [
      needs[0] ? matmul(dy, w) : null,
      needs[1] ? matmul(transpose(dy2, 0, 1), reshape(x, [-1, inF])) : null,
      ...(n.inputs.length > 2 ? [needs[2] ? sum(dy2, 0) : null] : []),
    ];
  },
  fused: (b, [x, w, bias]) => b.linear?.(x, w, bias ?? null) ?? null,
});

/**
 * x·Wᵀ + b (PyTorch's `torch.nn.functional.linear`): x [..., in], weight [out, in], bias
 * [out] or null → [..., out]. One op: where the backend has the fused kernel (wasm: the
 * bias added as the product's results are written) no second pass over the output;
 * elsewhere matmul(x, weightᵀ) and a broadcast add.
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  if (weight.ndim !== 2) throw new ShapeError(`linear: weight must be 2-D [out, in], got ${fmt(weight.shape)}`);
  const [out, inF] = weight.shape;
  if (x.ndim === 0 || x.shape[x.ndim - 1] !== inF) {
    throw new ShapeError(`linear: x's last dim must be weight's in features ${inF}: x ${fmt(x.shape)}, weight ${fmt(weight.shape)}`);
  }
  if (bias !== null && (bias.ndim !== 1 || bias.shape[0] !== out)) {
    throw new ShapeError(`linear: bias must be [${out}] (weight's out features), got ${fmt(bias.shape)}`);
  }
  const dtype = [weight, ...(bias ? [bias] : [])].reduce((d, t) => promoteTypes(d, t.dtype), x.dtype);
  const composite = () => {
    const y = matmul(x, transpose(weight, 0, 1));
    return bias ? add(y, bias) : y;
  };
  return runOp(linearOp, bias ? [x, weight, bias] : [x, weight], {}, { shape: [...x.shape.slice(0, -1), out], dtype }, composite);
}

/** Inner product of two 1-D tensors. */
export function dot(a: Tensor, b: Tensor): Tensor {
  if (a.ndim !== 1 || b.ndim !== 1 || a.shape[0] !== b.shape[0]) {
    throw new ShapeError(`dot: expected two 1-D tensors of equal length, got ${fmt(a.shape)} and ${fmt(b.shape)}`);
  }
  return sum(mul(a, b));
}

/** Outer product of two 1-D tensors: [n] ⊗ [m] → [n, m]. */
export function outer(a: Tensor, b: Tensor): Tensor {
  if (a.ndim !== 1 || b.ndim !== 1) throw new ShapeError(`outer: expected two 1-D tensors, got ${fmt(a.shape)} and ${fmt(b.shape)}`);
  return mul(unsqueeze(a, 1), unsqueeze(b, 0));
}


// ---------------------------------------------------------------- factorizations and solvers
//
// eigh, eigvalsh, cholesky, solve and lstsq compute on the host in float64: they read the
// input's values (synchronously: cpu and wasm; on webgpu move the tensor first with
// `await toBackend(A, 'cpu')`), factorize each matrix of the batch, and write the result
// in the input's dtype on the input's backend. Their gradients are written below with
// tensor ops (matmul, solve, elementwise), next to the forward, so they run on every
// backend and can be differentiated again; each is its op definition's `grad`.

/** Options of `eigh`, `eigvalsh` and `cholesky`. */
export interface SymmetricOptions {
  /**
   * Largest |A − Aᵀ| accepted, relative to max |A| (default 1e-5 for float32, 1e-10 for
   * float64). The op reads (A + Aᵀ)/2.
   */
  symmetryTol?: number;
}
const SYMMETRIC_KEYS = optionKeys<SymmetricOptions>()(['symmetryTol']);
// compile-time: the list names every key of the interface
const allSymmetricKeys: [Exclude<keyof SymmetricOptions, (typeof SYMMETRIC_KEYS)[number]>] extends [never] ? true : never = true;
void allSymmetricKeys;

/** The last two dims swapped (PyTorch's `mT`). */
function mT(x: Tensor): Tensor {
  return transpose(x, -2, -1);
}

/** The host values of `t` in float64, or an error that says how to get there. */
function hostValues(op: string, t: Tensor): Float64Array {
  if (!t.backend.readSync) {
    throw new Error(`${op}: computes on the host and reads its input synchronously, which backend '${t.backend.name}' cannot do — move the tensor first: await toBackend(A, 'cpu')`);
  }
  return Float64Array.from(t.dataSync());
}

function writeLike(like: Tensor, values: Float64Array, shape: readonly number[]): Tensor {
  return fromArray(values, shape, { dtype: like.dtype, backend: like.backend.name });
}

function assertMatrices(op: string, name: string, t: Tensor, square: boolean): void {
  assertFloat(op, t);
  if (t.ndim < 2) throw new ShapeError(`${op}: ${name} must be a matrix or a batch of matrices [..., m, n], got ${fmt(t.shape)}`);
  const [r, c] = t.shape.slice(-2);
  if (square && r !== c) throw new ShapeError(`${op}: ${name} must be square, got ${fmt(t.shape)} (${r}×${c})`);
}

const batchText = (batch: readonly number[], b: number): string => {
  if (batch.length === 0) return '';
  const idx: number[] = [];
  let rest = b;
  for (let i = batch.length - 1; i >= 0; i--) {
    idx.unshift(rest % batch[i]);
    rest = Math.floor(rest / batch[i]);
  }
  return ` (matrix [${idx.join(',')}] of the batch)`;
};

/**
 * Check A ≈ Aᵀ and return (A + Aᵀ)/2, the matrix the op reads; its gradient is therefore
 * symmetric, as a perturbation of a symmetric input is.
 */
function symmetrized(op: string, A: Tensor, options: SymmetricOptions): Tensor {
  checkOptions(op, options, SYMMETRIC_KEYS);
  assertMatrices(op, 'A', A, true);
  const tol = options.symmetryTol ?? (A.dtype === 'float64' ? 1e-10 : 1e-5);
  if (!(typeof tol === 'number' && tol >= 0 && Number.isFinite(tol))) throw new RangeError(`${op}: symmetryTol must be a finite number ≥ 0, got ${String(tol)}`);
  const n = A.shape[A.ndim - 1];
  const v = hostValues(op, A);
  const batch = A.shape.slice(0, -2);
  let scale = 0;
  for (const x of v) scale = Math.max(scale, Math.abs(x));
  for (let b = 0; b * n * n < v.length; b++) {
    const o = b * n * n;
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const aij = v[o + i * n + j];
        const aji = v[o + j * n + i];
        if (!(Math.abs(aij - aji) <= tol * Math.max(scale, 1e-300))) {
          throw new Error(
            `${op}: A ${fmt(A.shape)} is not symmetric: A[${i},${j}] = ${aij} but A[${j},${i}] = ${aji}${batchText(batch, b)} — ` +
              `pass (A + Aᵀ)/2, or raise symmetryTol (now ${tol})`,
          );
        }
      }
    }
  }
  return mul(add(A, mT(A)), 0.5);
}

/** Run `f` on each matrix of a [..., r, c] tensor's host values; errors name the op, shape and batch index. */
function perMatrix(op: string, what: string, t: Tensor, values: Float64Array, f: (m: Float64Array, b: number) => Float64Array[]): Float64Array[][] {
  const [r, c] = t.shape.slice(-2);
  const count = r * c === 0 ? 0 : values.length / (r * c);
  const out: Float64Array[][] = [];
  const t0 = DEBUG ? performance.now() : 0;
  for (let b = 0; b < count; b++) {
    try {
      out.push(f(values.subarray(b * r * c, (b + 1) * r * c), b));
    } catch (e) {
      if (e instanceof LinalgError) throw new Error(`${op}: ${what} ${fmt(t.shape)}: ${e.message}${batchText(t.shape.slice(0, -2), b)}`);
      throw e;
    }
  }
  if (DEBUG) debugLog(`${op} (host, float64)`, t.backend.name, [t.shape], performance.now() - t0);
  return out;
}

function joined(parts: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The result of `eigh`: ascending eigenvalues [..., n] and the eigenvectors as columns [..., n, n]. */
export interface EighResult {
  eigenvalues: Tensor;
  eigenvectors: Tensor;
}

/**
 * Eigendecomposition of a symmetric matrix (or batch) A = V diag(λ) Vᵀ, like
 * `numpy.linalg.eigh` / `torch.linalg.eigh`: eigenvalues ascending, eigenvectors the
 * orthonormal columns of V, each with its largest-magnitude entry positive. Jacobi
 * rotations in float64 on the host (meant for small matrices such as Hessians).
 *
 * Gradient: with F_ij = 1/(λ_j − λ_i) (i ≠ j, 0 on the diagonal),
 * Ā = V (diag(λ̄) + F ∘ (Vᵀ V̄)) Vᵀ, symmetrized. It is undefined where eigenvalues repeat
 * (F is infinite there; the eigenvectors are not unique).
 */
export function eigh(A: Tensor, options: SymmetricOptions = {}): EighResult {
  return symmetricEigh('eigh', A, options);
}

/** The eigenvalues of a symmetric matrix (or batch), ascending (`numpy.linalg.eigvalsh`). */
export function eigvalsh(A: Tensor, options: SymmetricOptions = {}): Tensor {
  return symmetricEigh('eigvalsh', A, options).eigenvalues;
}

/** eigh under the name the user called (errors name it). */
function symmetricEigh(op: string, A: Tensor, options: SymmetricOptions): EighResult {
  const As = symmetrized(op, A, options);
  const n = A.shape[A.ndim - 1];
  const parts = perMatrix(op, 'A', As, hostValues(op, As), (m) => {
    const { values, vectors } = symmetricEigen(m, n);
    return [values, vectors];
  });
  const batch = A.shape.slice(0, -2);
  const values = writeLike(A, joined(parts.map((p) => p[0])), [...batch, n]);
  const vectors = writeLike(A, joined(parts.map((p) => p[1])), [...batch, n, n]);
  // two tape nodes, each rule reading the other output (recorded, so differentiable again)
  const eigenvectors = record(eighVectorsOp, [As], { values }, vectors);
  const eigenvalues = record(eighValuesOp, [As], { vectors: eigenvectors }, values);
  return { eigenvalues, eigenvectors };
}

/**
 * The lower-triangular L with L Lᵀ = A, for a symmetric positive-definite A [..., n, n]
 * (`numpy.linalg.cholesky`). Gradient (Φ takes the lower triangle and halves the
 * diagonal): Ā = L⁻ᵀ Φ(Lᵀ L̄) L⁻¹, symmetrized.
 */
export function cholesky(A: Tensor, options: SymmetricOptions = {}): Tensor {
  const As = symmetrized('cholesky', A, options);
  const n = A.shape[A.ndim - 1];
  const parts = perMatrix('cholesky', 'A', As, hostValues('cholesky', As), (m) => [choleskyLower(m, n)]);
  return record(choleskyOp, [As], {}, writeLike(A, joined(parts.map((p) => p[0])), A.shape));
}

/**
 * Broadcast the batch dims of A [..., m, n] and B ([..., m, k], or [m] for one right-hand
 * side); B's rows must match A's.
 */
function batchedPair(op: string, A: Tensor, B: Tensor, square: boolean): { a: Tensor; b: Tensor; vector: boolean } {
  assertMatrices(op, 'A', A, square);
  assertFloat(op, B);
  const vector = B.ndim === 1;
  const m = A.shape[A.ndim - 2];
  const b0 = vector ? unsqueeze(B, -1) : B;
  if (b0.ndim < 2 || b0.shape[b0.ndim - 2] !== m) {
    throw new ShapeError(`${op}: A ${fmt(A.shape)} and B ${fmt(B.shape)} — B needs ${m} rows (B is [..., ${m}, k] or [${m}])`);
  }
  const dt = promoteTypes(A.dtype, B.dtype);
  const batch = broadcastShapes(op, A.shape.slice(0, -2), b0.shape.slice(0, -2));
  const a = expand(castTo(A, dt), [...batch, ...A.shape.slice(-2)]);
  const b = expand(castTo(b0, dt), [...batch, ...b0.shape.slice(-2)]);
  return { a, b, vector };
}

/**
 * X with A X = B for square, invertible A [..., n, n] and B [..., n, k] (or [n]); batch
 * dims broadcast (`numpy.linalg.solve`). LU with partial pivoting on the host.
 * Gradient: B̄ = A⁻ᵀ X̄ (another solve), Ā = −B̄ Xᵀ.
 */
export function solve(A: Tensor, B: Tensor): Tensor {
  const { a, b, vector } = batchedPair('solve', A, B, true);
  const n = a.shape[a.ndim - 1];
  const k = b.shape[b.ndim - 1];
  const bv = hostValues('solve', b);
  const parts = perMatrix('solve', 'A', a, hostValues('solve', a), (m, i) => [luSolve(m, n, bv.subarray(i * n * k, (i + 1) * n * k), k)]);
  const x = record(solveOp, [a, b], {}, writeLike(a, joined(parts.map((p) => p[0])), b.shape));
  return vector ? squeeze(x, -1) : x;
}

/**
 * The least-squares solution X = argmin ‖A X − B‖ for A [..., m, n] with m ≥ n and full
 * column rank, B [..., m, k] (or [m]); batch dims broadcast. Householder QR on the host
 * (`numpy.linalg.lstsq` returns the same X; it also handles rank-deficient A, this does not
 * and says so). Gradient from the normal equations X = (AᵀA)⁻¹AᵀB: with z = (AᵀA)⁻¹X̄,
 * B̄ = A z and Ā = (B − A X) zᵀ − A z Xᵀ.
 */
export function lstsq(A: Tensor, B: Tensor): Tensor {
  const { a, b, vector } = batchedPair('lstsq', A, B, false);
  const [m, n] = a.shape.slice(-2);
  const k = b.shape[b.ndim - 1];
  if (m < n) {
    throw new ShapeError(`lstsq: A ${fmt(A.shape)} has fewer rows (${m}) than columns (${n}); full column rank needs m ≥ n (an underdetermined system has many solutions)`);
  }
  const bv = hostValues('lstsq', b);
  const parts = perMatrix('lstsq', 'A', a, hostValues('lstsq', a), (mat, i) => [qrLstsq(mat, m, n, bv.subarray(i * m * k, (i + 1) * m * k), k)]);
  const x = record(lstsqOp, [a, b], {}, writeLike(a, joined(parts.map((p) => p[0])), [...a.shape.slice(0, -2), n, k]));
  return vector ? squeeze(x, -1) : x;
}

// ---------------------------------------------------------------- their gradients

/** [n, n] constant with `diag` on the diagonal, `below` under it, 0 above. */
function triangleMask(n: number, below: number, diag: number, like: Tensor): Tensor {
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) m[i * n + j] = i === j ? diag : below;
  return writeLike(like, m, [n, n]);
}

// Each rule is the chain rule written with tensor ops, so second derivatives work.

/** λ_i = v_iᵀ A v_i ⇒ Ā = V diag(λ̄) Vᵀ */
const eighValuesOp = defineOp<{ vectors: Tensor }>({
  name: 'eighValues',
  grad: (dy, node) => {
    const V = node.attrs.vectors;
    return [matmul(mul(V, unsqueeze(dy, -2)), mT(V))];
  },
});
/** dv_j = Σ_{i≠j} v_i (v_iᵀ dA v_j)/(λ_j − λ_i) ⇒ Ā = V (F ∘ Vᵀ V̄) Vᵀ, F_ij = 1/(λ_j − λ_i) */
const eighVectorsOp = defineOp<{ values: Tensor }>({
  name: 'eighVectors',
  grad: (dy, node) => {
    const V = node.output;
    const w = node.attrs.values;
    const n = V.shape[V.ndim - 1];
    const I = triangleMask(n, 0, 1, V);
    const gap = sub(unsqueeze(w, -2), unsqueeze(w, -1));
    const F = mul(reciprocal(add(gap, I)), sub(1, I));
    return [matmul(matmul(V, mul(F, matmul(mT(V), dy))), mT(V))];
  },
});
/** dL = L Φ(L⁻¹ dA L⁻ᵀ) ⇒ Ā = L⁻ᵀ Φ(Lᵀ L̄) L⁻¹ (Φ is self-adjoint) */
const choleskyOp = defineOp({
  name: 'cholesky',
  grad: (dy, node) => {
    const L = node.output;
    const n = L.shape[L.ndim - 1];
    const P = mul(matmul(mT(L), dy), triangleMask(n, 1, 0.5, L));
    const X = solve(mT(L), P);
    return [mT(solve(mT(L), mT(X)))];
  },
});
/** X = A⁻¹B ⇒ B̄ = A⁻ᵀ X̄, Ā = −B̄ Xᵀ */
const solveOp = defineOp({
  name: 'solve',
  grad: (dy, node, needs) => {
    const [A] = node.inputs;
    const gB = solve(mT(A), dy);
    return [needs[0] ? neg(matmul(gB, mT(node.output))) : null, gB];
  },
});
/** X = (AᵀA)⁻¹AᵀB ⇒ z = (AᵀA)⁻¹X̄, B̄ = A z, Ā = (B − A X) zᵀ − A z Xᵀ */
const lstsqOp = defineOp({
  name: 'lstsq',
  grad: (dy, node, needs) => {
    const [A, B] = node.inputs;
    const X = node.output;
    const z = solve(matmul(mT(A), A), dy);
    const gB = matmul(A, z);
    return [needs[0] ? sub(matmul(sub(B, matmul(A, X)), mT(z)), matmul(gB, mT(X))) : null, needs[1] ? gB : null];
  },
});
