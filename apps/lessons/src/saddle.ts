/**
 * Critical points and the Hessian, as in the notes: near a critical point θ' (∇L = 0),
 *
 *   L(θ) ≈ L(θ') + ½ (θ − θ')ᵀ H (θ − θ')
 *
 * so the eigenvalues of H decide: all positive → local minimum, all negative → local
 * maximum, some of each → saddle point. At a saddle, stepping along an eigenvector u of a
 * negative eigenvalue λ lowers L by about ½ λ η² (η the step): the escape direction.
 */
import { grad, hessian } from '@ml/autograd';
import { lossSurface, type ParameterPath, type TopLevelSpec } from '@ml/plot';
import { eigh, mul, sub, tensor, tidy, type Tensor } from './deps.js';

export type Kind = 'minimum' | 'maximum' | 'saddle' | 'degenerate';

/** A function of two parameters and a critical point of it. */
export interface Example {
  name: string;
  formula: string;
  f: (p: Tensor) => Tensor;
  point: [number, number];
  /** the plotting window around the point */
  range: number;
}

const x0 = (p: Tensor): Tensor => p.index(0);
const x1 = (p: Tensor): Tensor => p.index(1);

export const EXAMPLES: readonly Example[] = [
  { name: 'bowl', formula: 'f(x, y) = x² + y²', f: (p) => x0(p).square().add(x1(p).square()), point: [0, 0], range: 1.5 },
  { name: 'cap', formula: 'f(x, y) = −x² − y²', f: (p) => x0(p).square().add(x1(p).square()).neg(), point: [0, 0], range: 1.5 },
  { name: 'saddle', formula: 'f(x, y) = x² − y²', f: (p) => x0(p).square().sub(x1(p).square()), point: [0, 0], range: 1.5 },
  // the notes' example: y = w₁ w₂ x on one example (x, ŷ) = (1, 1), L = (ŷ − w₁ w₂ x)²
  { name: 'notes', formula: 'L(w₁, w₂) = (1 − w₁ w₂)²', f: (p) => sub(1, mul(x0(p), x1(p))).square(), point: [0, 0], range: 2 },
  // the same loss at one of its minima: a valley of minima (w₁ w₂ = 1), so H has a zero eigenvalue
  { name: 'valley', formula: 'L(w₁, w₂) = (1 − w₁ w₂)²', f: (p) => sub(1, mul(x0(p), x1(p))).square(), point: [1, 1], range: 1 },
];

export interface CriticalPoint {
  name: string;
  formula: string;
  point: number[];
  value: number;
  /** ‖∇f‖ at the point (≈ 0 at a critical point) */
  gradientNorm: number;
  hessian: number[][];
  /** ascending */
  eigenvalues: number[];
  /** eigenvectors[i] belongs to eigenvalues[i] */
  eigenvectors: number[][];
  kind: Kind;
  /** at a saddle: the eigenvector of the most negative eigenvalue, and f one step along it (both ways) */
  escape?: { direction: number[]; eigenvalue: number; step: number; before: number; plus: number; minus: number; predicted: number };
}

/**
 * Classify a critical point of f from its Hessian's eigenvalues (autograd's `hessian`,
 * @ml/tensor's `eigh`). |λ| ≤ tol counts as zero: then the second-order test cannot decide
 * ('degenerate'). `step` is the escape step η at a saddle.
 */
export function classifyCriticalPoint(f: (p: Tensor) => Tensor, point: readonly number[], options: { tol?: number; step?: number } = {}): Omit<CriticalPoint, 'name' | 'formula'> {
  const tol = options.tol ?? 1e-8;
  const step = options.step ?? 0.5;
  return tidy(() => {
    const p = tensor([...point], { dtype: 'float64' });
    const value = f(p).item();
    const g = grad(f)(p);
    const gradientNorm = Math.sqrt(g.square().sum().item());
    const H = hessian(f, p);
    const { eigenvalues: w, eigenvectors: V } = eigh(H);
    const eigenvalues = Array.from(w.dataSync());
    const cols = V.T.arraySync() as number[][];
    const pos = eigenvalues.some((l) => l > tol);
    const neg = eigenvalues.some((l) => l < -tol);
    const flat = eigenvalues.some((l) => Math.abs(l) <= tol);
    const kind: Kind = flat ? 'degenerate' : pos && neg ? 'saddle' : pos ? 'minimum' : 'maximum';
    const result: Omit<CriticalPoint, 'name' | 'formula'> = {
      point: [...point],
      value,
      gradientNorm,
      hessian: H.arraySync() as number[][],
      eigenvalues,
      eigenvectors: cols,
      kind,
    };
    if (kind === 'saddle') {
      const u = cols[0];
      const at = (s: number) => f(tensor(point.map((v, i) => v + s * u[i]), { dtype: 'float64' })).item();
      result.escape = { direction: u, eigenvalue: eigenvalues[0], step, before: value, plus: at(step), minus: at(-step), predicted: value + 0.5 * eigenvalues[0] * step * step };
    }
    return result;
  });
}

/** f's contours around the point, the point itself, and at a saddle the escape step (both ways). */
export function criticalPointChart(ex: Example, cp: CriticalPoint): TopLevelSpec {
  const [a, b] = ex.point;
  const r = ex.range;
  const paths: ParameterPath[] = [{ name: `${cp.kind} at (${a}, ${b})`, points: [[a, b]] }];
  if (cp.escape) {
    const [u0, u1] = cp.escape.direction;
    const s = cp.escape.step * 2;
    paths.push({ name: 'escape ±u', points: [[a - s * u0, b - s * u1], [a, b], [a + s * u0, b + s * u1]] });
  }
  const f = (w: number, v: number) => tidy(() => ex.f(tensor([w, v], { dtype: 'float64' })).item());
  return lossSurface({
    f,
    wRange: [a - r, a + r],
    bRange: [b - r, b + r],
    resolution: 60,
    levels: 12,
    paths,
    wLabel: ex.name === 'notes' || ex.name === 'valley' ? 'w₁' : 'x',
    bLabel: ex.name === 'notes' || ex.name === 'valley' ? 'w₂' : 'y',
    title: `${ex.formula} at (${a}, ${b}): ${cp.kind} (Hessian eigenvalues ${cp.eigenvalues.map((l) => l.toFixed(2)).join(', ')})`,
  });
}

/** Classify each example's critical point and chart it; `step` is the escape step η (default 0.5). */
export function criticalPoints(examples: readonly Example[] = EXAMPLES, options: { step?: number } = {}): { points: CriticalPoint[]; charts: Record<string, TopLevelSpec> } {
  const points: CriticalPoint[] = [];
  const charts: Record<string, TopLevelSpec> = {};
  for (const ex of examples) {
    const cp = { name: ex.name, formula: ex.formula, ...classifyCriticalPoint(ex.f, ex.point, { step: options.step }) };
    points.push(cp);
    charts[`saddle-${ex.name}`] = criticalPointChart(ex, cp);
  }
  return { points, charts };
}
