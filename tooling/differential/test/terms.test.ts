import { describe, expect, it } from 'vitest';
import { fromArray, setBackend } from '@ml/tensor';
import { compare, DEFAULT_TOLERANCE, DIFFERENTIAL_OPS, values, type Tolerance } from '../src/index.js';

setBackend('cpu');
const matmulOp = DIFFERENTIAL_OPS.find((op) => op.name.startsWith('matmul'))!;
const SUMS_TOL: Tolerance = { ...DEFAULT_TOLERANCE, rtol: 1e-5, atol: 1e-5, scale: 2e-5, terms: 2 ** -23 };

// The case a CI run once failed on (seed 2057089872): every output is b·Σa over K = 512, and
// Σa cancels to a few units, so max|want| says nothing of the terms a float32 sum rounds.
const K = 512;
const a = values('float', K, 1); // Σa = −0.031 from 512 terms of about 1
const b = values('float', 16, 8);

/** b·Σa, summed in float32 one term at a time (the roughest order a kernel may use), skipping term `skip` */
function float32Products(skip = -1): Float32Array {
  return Float32Array.from(b, (bn) => {
    let s = 0;
    for (let k = 0; k < K; k++) if (k !== skip) s = Math.fround(s + Math.fround(a[k] * bn));
    return s;
  });
}

function exact(): Float64Array {
  const sum = a.reduce((p, x) => p + x, 0);
  return Float64Array.from(b, (bn) => sum * bn);
}

function termsBound(): Float64Array {
  const A = fromArray(a, [1, K], { dtype: 'float64' });
  const B = fromArray(Array.from({ length: K * b.length }, (_, i) => b[i % b.length]), [K, b.length], { dtype: 'float64' });
  return matmulOp.terms!([A, B], { K }).dataSync() as Float64Array;
}

describe('a sum whose every output cancels: the op\'s terms bound', () => {
  it('the float32 sum passes with the matmul op\'s √K·|A|·|B| bound, and failed without it', () => {
    expect(compare(float32Products(), exact(), SUMS_TOL, [b.length], termsBound())).toBeNull();
    expect(compare(float32Products(), exact(), SUMS_TOL, [b.length])).toMatch(/elements differ/);
  });

  it('a sum missing one of its 512 terms still fails', () => {
    const bad = compare(float32Products(K - 1), exact(), SUMS_TOL, [b.length], termsBound());
    expect(bad).toMatch(/elements differ/);
    expect(bad).toMatch(/terms 1\.19\d*e-7·/);
  });

});
