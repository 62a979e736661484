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
   * would give, in order (with the state in locals, several times faster). `f32`: redraw a
   * value that rounds to `high` in float32.
   */
  fillUniform(out: Float32Array | Float64Array | Int32Array | Uint8Array, low: number, high: number, f32: boolean): void {
    const st = this.s;
    let [s0, s1, s2, s3] = [st[0] | 0, st[1] | 0, st[2] | 0, st[3] | 0];
    const span = high - low;
    for (let i = 0; i < out.length; i++) {
      let v: number;
      do {
        // two steps of nextU32 (as int32 bit patterns): 27 high bits, then 26 low bits
        let bits = 0;
        for (let d = 0; d < 2; d++) {
          const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
          const t = s1 << 9;
          s2 ^= s0;
          s3 ^= s1;
          s1 ^= s2;
          s0 ^= s3;
          s2 ^= t;
          s3 = (s3 << 11) | (s3 >>> 21);
          bits = d === 0 ? r >>> 5 : bits * 67108864 + (r >>> 6);
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

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

const generator = new Xoshiro128(Date.now() >>> 0);

/** Seed the global generator (PyTorch's `torch.manual_seed`). */
export function manualSeed(seed: number): void {
  generator.seed(seed);
}

/** @internal */
export function rng(): Xoshiro128 {
  return generator;
}
