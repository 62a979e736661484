import { randint } from '@ml/tensor';

/**
 * A small seeded generator (sfc32, state filled by splitmix32) for shuffles, splits and
 * synthetic data. It is separate from @ml/tensor's global generator so that a seeded
 * DataLoader or split never moves the stream that `manualSeed` controls (weights,
 * dropout), and a (seed, stream) pair always gives the same numbers.
 */
export class Rng {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;
  private spare: number | null = null;

  /** `stream` picks an independent sequence for the same seed (e.g. the epoch). */
  constructor(seed: number, stream = 0) {
    let x = (seed >>> 0) ^ Math.imul(stream >>> 0, 0x9e3779b1);
    const next = (): number => {
      // splitmix32
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next() | 1;
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  nextU32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform on [0, 1) with 53 random bits. */
  float(): number {
    const hi = this.nextU32() >>> 5;
    const lo = this.nextU32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  uniform(low: number, high: number): number {
    return low + (high - low) * this.float();
  }

  /** Standard normal (Box–Muller, both values used). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.float();
    const v = this.float();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** A random permutation of 0..n-1 (Fisher–Yates). */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    this.shuffle(p);
    return p;
  }

  /** Shuffle in place (Fisher–Yates). */
  shuffle<A extends { [i: number]: number; length: number }>(values: A): A {
    for (let i = values.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = values[i];
      values[i] = values[j];
      values[j] = t;
    }
    return values;
  }
}

/**
 * The seed to use when the caller gave none: drawn from @ml/tensor's global generator,
 * so `manualSeed(s)` makes unseeded loaders, splits and synthetic sets reproducible too.
 */
export function resolveSeed(seed: number | undefined, op: string): number {
  if (seed === undefined) {
    const t = randint(0, 2 ** 31 - 1, [1]);
    const s = t.item();
    t.dispose();
    return s;
  }
  if (!Number.isFinite(seed) || !Number.isInteger(seed)) throw new RangeError(`${op}: seed must be an integer, got ${seed}`);
  return seed;
}
