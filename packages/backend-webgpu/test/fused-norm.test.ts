// The layerNorm and GELU kernels called on the backend with strided views, against float64
// loops written from the definitions: layerNorm's gradients by central differences of its
// float64 forward, GELU's from the closed-form derivative, Φ from an erfc of its own
// (series below 2, continued fraction above). Rows of D below, at and past the workgroup
// of 64 invocations; odd row counts, and enough rows for the chunked column sums; with and without weight and bias; with and without
// what the forward saved.
import { type DataId, type View } from '@ml/tensor/backend';
import { describe, expect, it } from 'vitest';
import { gpu as found } from './gpu.js';
import { expectClose, onGpu, read, values, type Layout } from './reference.js';

const maybe = found === null ? describe.skip : describe;
const gpu = found!;

/** erfc(z) in float64: 1 − the Maclaurin series of erf below 2, the continued fraction (Lentz, 200 terms, bottom-up) above. */
function erfc64(z: number): number {
  if (z < 0) return 2 - erfc64(-z);
  if (z < 2) {
    let term = z;
    let sum = z;
    for (let n = 1; n < 60; n++) {
      term *= (-z * z) / n;
      sum += term / (2 * n + 1);
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc z = e^{−z²}/√π · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + …))))
  let f = z;
  for (let k = 200; k >= 1; k--) f = z + k / 2 / f;
  return Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
}
const Phi = (x: number) => 0.5 * erfc64(-x / Math.SQRT2);
const phi = (x: number) => Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
const K = Math.sqrt(2 / Math.PI);

/** What a fused forward kept through `save`. */
function saver(): { save: (d: DataId, shape: readonly number[]) => void; views: View[] } {
  const views: View[] = [];
  const save = (data: DataId, shape: readonly number[]) => {
    const strides = shape.map((_, i) => shape.slice(i + 1).reduce((p, d) => p * d, 1));
    views.push({ data, dtype: 'float32', shape: [...shape], strides, offset: 0 });
  };
  return { save, views };
}

maybe('gelu on webgpu', () => {
  it('Φ(x) (what the exact form saves) is within 1e-6 relative of float64 from −12 to 8, tails included', async () => {
    const xs = Float32Array.from({ length: 801 }, (_, i) => -12 + i * 0.025);
    const x = onGpu(gpu, xs, [xs.length]);
    const s = saver();
    const y = await read(gpu, gpu.gelu(x.view_(), 'none', s.save), [xs.length]);
    const p = await read(gpu, s.views[0].data, [xs.length]);
    let worst = 0;
    xs.forEach((v, i) => {
      const want = Phi(v);
      if (want > 1e-37) worst = Math.max(worst, Math.abs(p[i] - want) / want);
      // gelu = x·Φ(x): relative too (f32 denormals below 1e-38 aside)
      const g = v * want;
      if (Math.abs(g) > 1e-36) expect(Math.abs(y[i] - g) / Math.abs(g), `gelu(${v})`).toBeLessThan(1e-6);
    });
    expect(worst).toBeLessThan(1e-6);
  });

  const shapes: [string, number[], Layout][] = [
    ['[130] contiguous', [130], 'contiguous'],
    ['[3,5,7] permuted', [3, 5, 7], 'permuted'],
    ['[4,33] sliced', [4, 33], 'sliced'],
  ];
  for (const approximate of ['none', 'tanh'] as const) {
    for (const [name, shape, layout] of shapes) {
      it(`${approximate}: ${name}, forward and backward (with and without what it saved) within 2e-6`, async () => {
        const n = shape.reduce((p, d) => p * d, 1);
        const xv = values(n, 11, 5);
        const dv = values(n, 12);
        const x = onGpu(gpu, xv, shape, layout);
        const dy = onGpu(gpu, dv, shape, layout === 'sliced' ? 'permuted' : 'sliced');
        const s = saver();
        const y = await read(gpu, gpu.gelu(x.view_(), approximate, s.save), [n]);
        const t = (v: number) => Math.tanh(K * (v + 0.044715 * v ** 3));
        const wantY = Array.from(xv, (v) => (approximate === 'tanh' ? 0.5 * v * (1 + t(v)) : v * Phi(v)));
        const dgelu = (v: number) => (approximate === 'tanh' ? 0.5 * (1 + t(v)) + 0.5 * v * (1 - t(v) ** 2) * K * (1 + 3 * 0.044715 * v * v) : Phi(v) + v * phi(v));
        const wantD = Array.from(xv, (v, i) => dv[i] * dgelu(v));
        expectClose(y, wantY, 2e-6, 'gelu');
        expectClose(await read(gpu, gpu.geluBackward(x.view_(), dy.view_(), approximate, s.views), [n]), wantD, 2e-6, 'geluBackward (saved)');
        expectClose(await read(gpu, gpu.geluBackward(x.view_(), dy.view_(), approximate, []), [n]), wantD, 2e-6, 'geluBackward (recomputed)');
      });
    }
  }
});

/** layerNorm in float64: y = (x − μ)/√(σ² + ε)·w + b per row of D. */
function layerNormRef(x: Float64Array, w: Float64Array | null, b: Float64Array | null, D: number, eps: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / D; r++) {
    const row = x.subarray(r * D, (r + 1) * D);
    const mu = row.reduce((a, v) => a + v, 0) / D;
    const v = row.reduce((a, u) => a + (u - mu) ** 2, 0) / D;
    for (let j = 0; j < D; j++) y[r * D + j] = ((row[j] - mu) / Math.sqrt(v + eps)) * (w?.[j] ?? 1) + (b?.[j] ?? 0);
  }
  return y;
}

/** ∂(Σ y·g)/∂x, ∂w, ∂b by central differences (∂w, ∂b as if they were ones and zeros when absent). */
function layerNormGradRef(x: Float64Array, w: Float64Array | null, g: Float64Array, D: number, eps: number): Float64Array {
  const wt = w ?? new Float64Array(D).fill(1);
  const b = new Float64Array(D);
  const loss = () => layerNormRef(x, wt, b, D, eps).reduce((a, v, i) => a + v * g[i], 0);
  const h = 1e-6;
  const diff = (a: Float64Array) =>
    Array.from(a, (v, i) => {
      a[i] = v + h;
      const up = loss();
      a[i] = v - h;
      const down = loss();
      a[i] = v;
      return (up - down) / (2 * h);
    });
  return Float64Array.from([...diff(x), ...diff(wt), ...diff(b)]);
}

interface NormCase {
  R: number;
  D: number;
  layout: Layout;
  affine: 'both' | 'weight' | 'none';
}

const NORM_CASES: NormCase[] = [
  { R: 3, D: 5, layout: 'contiguous', affine: 'both' },
  { R: 1, D: 64, layout: 'sliced', affine: 'weight' },
  { R: 5, D: 65, layout: 'permuted', affine: 'both' },
  { R: 2, D: 130, layout: 'contiguous', affine: 'none' },
  { R: 7, D: 1, layout: 'contiguous', affine: 'both' },
  // past 256 rows the weight and bias gradients are summed in chunks, then the chunks added
  { R: 257, D: 8, layout: 'contiguous', affine: 'both' },
  { R: 600, D: 3, layout: 'sliced', affine: 'weight' },
];

maybe('layerNorm on webgpu against float64 (values 2e-6, gradients 2e-5)', () => {
  for (const c of NORM_CASES) {
    it(`${c.R} rows of ${c.D}, ${c.layout}, affine ${c.affine}`, async () => {
      const { R, D } = c;
      const n = R * D;
      const eps = 1e-5;
      const xv = values(n, 21, 2);
      const wv = c.affine === 'none' ? null : values(D, 22, 1.5);
      const bv = c.affine === 'both' ? values(D, 23) : null;
      const gv = values(n, 24);
      const x = onGpu(gpu, xv, [R, D], c.layout);
      const dy = onGpu(gpu, gv, [R, D], c.layout === 'permuted' ? 'sliced' : 'permuted');
      const w = wv === null ? null : onGpu(gpu, wv, [D]);
      const b = bv === null ? null : onGpu(gpu, bv, [D]);
      const s = saver();
      const y = await read(gpu, gpu.layerNorm(x.view_(), w?.view_() ?? null, b?.view_() ?? null, D, eps, s.save), [n]);
      const f64 = (a: Float32Array | null) => (a === null ? null : Float64Array.from(a));
      expectClose(y, layerNormRef(f64(xv)!, f64(wv), f64(bv), D, eps), 2e-6, 'layerNorm');
      expect(s.views[0].shape).toEqual([R, 2]);
      const want = layerNormGradRef(f64(xv)!, f64(wv), f64(gv)!, D, eps);
      for (const saved of [s.views, []]) {
        const got = await read(gpu, gpu.layerNormBackward(x.view_(), w?.view_() ?? null, dy.view_(), D, eps, saved), [n + 2 * D]);
        expectClose(got, want, 2e-5, `layerNormBackward (${saved.length === 0 ? 'recomputed' : 'saved'} statistics)`);
      }
    });
  }
});
