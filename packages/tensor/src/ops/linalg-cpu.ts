/**
 * Dense matrix factorizations on the host, in float64, one row-major n×n (or m×n) matrix at
 * a time. The tensor ops in `linalg.ts` read a tensor's values, call these, and write the
 * result back on the tensor's backend. Each throws a `LinalgError` with the reason; the
 * caller adds the op's name and the shapes.
 */

/** A matrix that the factorization cannot handle (singular, not positive definite, …). */
export class LinalgError extends Error {}

const EPS = 2.220446049250313e-16;

/**
 * Eigendecomposition of a symmetric n×n matrix by cyclic Jacobi rotations: each rotation
 * Jᵀ A J zeroes one off-diagonal pair, and the sweeps repeat until the off-diagonal part
 * is below rounding. Returns the eigenvalues ascending and the eigenvectors as the columns
 * of `vectors`, each with its largest-magnitude component positive (a sign convention, so
 * that the result is a continuous function of A where the eigenvalues are distinct).
 */
export function symmetricEigen(a: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const A = Float64Array.from(a);
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  let total = 0;
  for (let i = 0; i < n * n; i++) total += A[i] * A[i];
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += A[p * n + q] * A[p * n + q];
    if (off <= EPS * EPS * total * 1e-4 || off === 0) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q];
        if (apq === 0) continue;
        // θ = (a_qq − a_pp) / (2 a_pq); t = tan φ is the smaller root of t² + 2θt − 1 = 0
        const theta = (A[q * n + q] - A[p * n + p]) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = A[k * n + p];
          const akq = A[k * n + q];
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p * n + k];
          const aqk = A[q * n + k];
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = V[k * n + p];
          const vkq = V[k * n + q];
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => A[i * n + i] - A[j * n + j]);
  const values = Float64Array.from(order, (i) => A[i * n + i]);
  const vectors = new Float64Array(n * n);
  order.forEach((src, col) => {
    let big = 0;
    for (let k = 1; k < n; k++) if (Math.abs(V[k * n + src]) > Math.abs(V[big * n + src]) + 1e-12) big = k;
    const sign = V[big * n + src] < 0 ? -1 : 1;
    for (let k = 0; k < n; k++) vectors[k * n + col] = sign * V[k * n + src];
  });
  return { values, vectors };
}

/** Lower-triangular L with L Lᵀ = A (A symmetric positive definite, n×n). */
export function choleskyLower(a: Float64Array, n: number): Float64Array {
  const L = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j];
    for (let k = 0; k < j; k++) d -= L[j * n + k] * L[j * n + k];
    if (!(d > 0)) {
      throw new LinalgError(`the matrix is not positive definite (the leading ${j + 1}×${j + 1} minor is not positive)`);
    }
    const ljj = Math.sqrt(d);
    L[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= L[i * n + k] * L[j * n + k];
      L[i * n + j] = s / ljj;
    }
  }
  return L;
}

/** X with A X = B (A n×n, B n×k) by LU with partial pivoting. */
export function luSolve(a: Float64Array, n: number, b: Float64Array, k: number): Float64Array {
  const A = Float64Array.from(a);
  const X = Float64Array.from(b);
  let scale = 0;
  for (const v of A) scale = Math.max(scale, Math.abs(v));
  const tiny = n * EPS * scale;
  for (let col = 0; col < n; col++) {
    let piv = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(A[r * n + col]) > Math.abs(A[piv * n + col])) piv = r;
    if (!(Math.abs(A[piv * n + col]) > tiny)) {
      throw new LinalgError(`the matrix is singular (no pivot above ${tiny.toExponential(1)} in column ${col})`);
    }
    if (piv !== col) {
      for (let c = 0; c < n; c++) [A[col * n + c], A[piv * n + c]] = [A[piv * n + c], A[col * n + c]];
      for (let c = 0; c < k; c++) [X[col * k + c], X[piv * k + c]] = [X[piv * k + c], X[col * k + c]];
    }
    const p = A[col * n + col];
    for (let r = col + 1; r < n; r++) {
      const f = A[r * n + col] / p;
      if (f === 0) continue;
      for (let c = col; c < n; c++) A[r * n + c] -= f * A[col * n + c];
      for (let c = 0; c < k; c++) X[r * k + c] -= f * X[col * k + c];
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    for (let c = 0; c < k; c++) {
      let s = X[r * k + c];
      for (let j = r + 1; j < n; j++) s -= A[r * n + j] * X[j * k + c];
      X[r * k + c] = s / A[r * n + r];
    }
  }
  return X;
}

/**
 * The least-squares X minimizing ‖A X − B‖ (A m×n with m ≥ n and full column rank, B m×k),
 * by Householder QR: A = Q R, X = R⁻¹ (Qᵀ B)₁..ₙ. QR works on A itself, so the error grows
 * with cond(A), not cond(A)² as with the normal equations AᵀA X = AᵀB.
 */
export function qrLstsq(a: Float64Array, m: number, n: number, b: Float64Array, k: number): Float64Array {
  const A = Float64Array.from(a);
  const B = Float64Array.from(b);
  const v = new Float64Array(m);
  let scale = 0;
  for (const x of A) scale = Math.max(scale, Math.abs(x));
  for (let j = 0; j < n; j++) {
    // Householder reflection H = I − 2 v vᵀ / vᵀv mapping A[j:, j] onto a multiple of e_j
    let norm = 0;
    for (let i = j; i < m; i++) norm += A[i * n + j] * A[i * n + j];
    norm = Math.sqrt(norm);
    if (!(norm > Math.max(m, n) * EPS * scale * 10)) {
      throw new LinalgError(`the matrix does not have full column rank (column ${j} depends on the ones before it)`);
    }
    const alpha = A[j * n + j] > 0 ? -norm : norm;
    let vv = 0;
    for (let i = j; i < m; i++) {
      v[i] = A[i * n + j] - (i === j ? alpha : 0);
      vv += v[i] * v[i];
    }
    const apply = (M: Float64Array, cols: number, from: number): void => {
      for (let c = from; c < cols; c++) {
        let dot = 0;
        for (let i = j; i < m; i++) dot += v[i] * M[i * cols + c];
        const f = (2 * dot) / vv;
        for (let i = j; i < m; i++) M[i * cols + c] -= f * v[i];
      }
    };
    apply(A, n, j);
    apply(B, k, 0);
  }
  const X = new Float64Array(n * k);
  for (let r = n - 1; r >= 0; r--) {
    for (let c = 0; c < k; c++) {
      let s = B[r * k + c];
      for (let j = r + 1; j < n; j++) s -= A[r * n + j] * X[j * k + c];
      X[r * k + c] = s / A[r * n + r];
    }
  }
  return X;
}
