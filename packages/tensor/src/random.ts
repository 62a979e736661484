import type { Backend, DataId } from './backend.js';

/**
 * One seeded generator for every random op (xoshiro128**, seeded through splitmix32):
 * the same `manualSeed` gives the same weights, shuffles and dropout masks.
 */
class Xoshiro128 {
  private s = new Uint32Array(4);
  private spare: number | null = null;

  constructor(seed: number) {
    this.seed(seed);
  }

  seed(seed: number): void {
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      // splitmix32
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    this.spare = null;
  }

  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /**
   * Fill `out` with uniform values on [low, high): the values repeated `nextFloat()` draws
   * would give, in order. `f32`: redraw a value that rounds to `high` in float32.
   */
  fillUniform(out: Float32Array | Float64Array | Int32Array | Uint8Array, low: number, high: number, f32: boolean): void {
    // draws go through one float64 chunk (a loop over one array type stays fast; stores into
    // `out` of four types would not), then `set` converts them as assignment would
    const chunk = scratch();
    for (let start = 0; start < out.length; start += chunk.length) {
      const n = Math.min(chunk.length, out.length - start);
      this.draw(chunk, n, low, high, f32);
      out.set(n === chunk.length ? chunk : chunk.subarray(0, n), start);
    }
  }

  /**
   * Fill `out` with an inverted-dropout mask: `scale` where the draw `fillUniform(out, 0, 1,
   * f32)` would store is ≥ `cut`, else 0 (its own loop: behind a flag in `fillUniform`, the
   * same work measured 10–15% slower).
   */
  fillDropoutMask(out: Float32Array | Float64Array, cut: number, scale: number, f32: boolean): void {
    const c = dropoutCut(cut);
    const chunk = scratch();
    for (let start = 0; start < out.length; start += chunk.length) {
      const n = Math.min(chunk.length, out.length - start);
      this.draw(chunk, n, 0, 1, f32);
      keepWhere(chunk, n, c, scale, f32);
      out.set(n === chunk.length ? chunk : chunk.subarray(0, n), start);
    }
  }

  /**
   * A float32 dropout mask of `n` values made on `backend`'s own kernel
   * (Backend.fillDropoutMask), drawn from this generator's state and advancing it; null
   * when the backend has no such kernel or declines.
   */
  dropoutMaskOn(backend: Backend, n: number, cut: number, scale: number): DataId | null {
    if (backend.fillDropoutMask === undefined) return null;
    const data = backend.fill(n, 'float32', 0);
    try {
      if (backend.fillDropoutMask(data, n, this.s, dropoutCut(cut), scale)) return data;
    } catch (e) {
      backend.dispose(data);
      throw e;
    }
    backend.dispose(data);
    return null;
  }

  /** `n` draws on [low, high) into `out` (the state lives in locals meanwhile). */
  private draw(out: Float64Array, n: number, low: number, high: number, f32: boolean): void {
    const st = this.s;
    let s0 = st[0] | 0;
    let s1 = st[1] | 0;
    let s2 = st[2] | 0;
    let s3 = st[3] | 0;
    const span = high - low;
    for (let i = 0; i < n; i++) {
      let v: number;
      do {
        // two steps of nextU32 (as int32 bit patterns): 27 high bits, then 26 low bits
        let bits = 0;
        for (let d = 0; d < 2; d++) {
          const x = Math.imul(s1, 5);
          const r = Math.imul((x << 7) | (x >>> 25), 9);
          const t = s1 << 9;
          s2 ^= s0;
          s3 ^= s1;
          s1 ^= s2;
          s0 ^= s3;
          s2 ^= t;
          s3 = (s3 << 11) | (s3 >>> 21);
          bits = bits * 67108864 + (r >>> (5 + d));
        }
        v = low + span * (bits / 9007199254740992);
      } while (f32 && Math.fround(v) >= high && high > low);
      out[i] = v;
    }
    st[0] = s0;
    st[1] = s1;
    st[2] = s2;
    st[3] = s3;
  }

  /** Standard normal (Box–Muller, both values used). */
  nextNormal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.nextFloat();
    const v = this.nextFloat();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Uniform integer in [0, n). */
  nextInt(n: number): number {
    return Math.floor(this.nextFloat() * n);
  }
}

/** `cut` on [0, 1], with the same outcomes for draws on [0, 1) (NaN keeps none, as no draw is ≥ NaN). */
function dropoutCut(cut: number): number {
  return cut >= 1 || Number.isNaN(cut) ? 1 : Math.max(0, cut);
}

/**
 * `values[i] = values[i] >= c ? scale : 0` for the first `n` values (draws on [0, 1); c on [0, 1]),
 * compared as stored (a float32 draw rounds first: it can round up to `cut`). The outcome is
 * random, so any branch on it is mispredicted half the time (≈ 10 ns a value): `floor(u − c)`
 * is 0 where u ≥ c and −1 where u < c, for c on [0, 1], and picks the value from a table.
 * (Multiplying `scale` by 0 or 1 instead lets the engine speculate on small integers, and its
 * check for a −0 product is such a branch.)
 */
function keepWhere(values: Float64Array, n: number, c: number, scale: number, f32: boolean): void {
  const pick = new Float64Array([0, scale]);
  if (f32) for (let i = 0; i < n; i++) values[i] = pick[Math.floor(Math.fround(values[i]) - c) + 1];
  else for (let i = 0; i < n; i++) values[i] = pick[Math.floor(values[i] - c) + 1];
}

let chunk: Float64Array | undefined;
function scratch(): Float64Array {
  return (chunk ??= new Float64Array(4096));
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

const generator = new Xoshiro128(Date.now() >>> 0);

/**
 * A seeded generator of its own, for plain numbers outside tensors (shuffles, delays,
 * generated test inputs), independent of the global one that `manualSeed` seeds: the same
 * algorithm (xoshiro128**), so the same seed gives the same numbers everywhere.
 */
export class Generator {
  readonly #x: Xoshiro128;
  constructor(seed: number) {
    this.#x = new Xoshiro128(seed);
  }
  /** Uniform in [0, 1), with 53 random bits (Math.random's contract). */
  random(): number {
    return this.#x.nextFloat();
  }
  /** A uniform 32-bit unsigned integer. */
  nextU32(): number {
    return this.#x.nextU32();
  }
}

/** Seed the global generator (PyTorch's `torch.manual_seed`). */
export function manualSeed(seed: number): void {
  generator.seed(seed);
}

/** @internal */
export function rng(): Xoshiro128 {
  return generator;
}
