/**
 * How an operation's time grows with its input, for tests of linear time that do not
 * depend on how fast or how busy the machine is: the best of three runs at size n and at
 * size factor·n, divided. About `factor` when the work is linear, `factor²` when it is
 * quadratic.
 */
export function growth(run: (n: number) => void, n: number, factor: number): number {
  const best = (size: number) => {
    let t = Infinity;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      run(size);
      t = Math.min(t, performance.now() - t0);
    }
    return t;
  };
  run(n); // warm up: the first run compiles
  const small = best(n);
  return best(n * factor) / Math.max(small, 0.05);
}
