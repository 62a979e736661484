/** An isoline: the points where the sampled function crosses `level`, in order along the line. */
export interface Isoline {
  level: number;
  /** `[x, y]` vertices; a closed line ends with its first vertex */
  points: [number, number][];
  closed: boolean;
}

/**
 * Isolines of a function sampled on a grid, by marching squares: `values[j][i]` is the value
 * at (xs[i], ys[j]). In each grid cell the isoline at `level` crosses the edges whose two
 * corners lie on opposite sides; the crossing is placed by linear interpolation,
 * x = xa + (level − va)/(vb − va)·(xb − xa). A cell with four crossings (a saddle) is resolved
 * by the value at its center, the mean of its corners. The pieces are then joined through the
 * edges they share into polylines. Cells with a non-finite corner are skipped.
 */
export function isolines(xs: readonly number[], ys: readonly number[], values: readonly (readonly number[])[], levels: readonly number[]): Isoline[] {
  const nx = xs.length;
  const out: Isoline[] = [];
  for (const level of levels) {
    // crossing points by edge id: horizontal edge (i,j)→(i+1,j) is 2·(j·nx + i), vertical (i,j)→(i,j+1) is that + 1
    const point = new Map<number, [number, number]>();
    const neighbors = new Map<number, number[]>();
    const crossing = (i: number, j: number, horizontal: boolean): number | null => {
      const [i2, j2] = horizontal ? [i + 1, j] : [i, j + 1];
      const va = values[j][i];
      const vb = values[j2][i2];
      if (va >= level === vb >= level) return null;
      const id = 2 * (j * nx + i) + (horizontal ? 0 : 1);
      if (!point.has(id)) {
        const t = (level - va) / (vb - va);
        point.set(id, [xs[i] + t * (xs[i2] - xs[i]), ys[j] + t * (ys[j2] - ys[j])]);
      }
      return id;
    };
    const link = (a: number, b: number) => {
      for (const [p, q] of [[a, b], [b, a]]) {
        const n = neighbors.get(p);
        if (n) n.push(q);
        else neighbors.set(p, [q]);
      }
    };
    for (let j = 0; j + 1 < ys.length; j++) {
      for (let i = 0; i + 1 < nx; i++) {
        // corners counterclockwise from bottom-left: (i,j), (i+1,j), (i+1,j+1), (i,j+1)
        const cv = [values[j][i], values[j][i + 1], values[j + 1][i + 1], values[j + 1][i]];
        if (!cv.every(Number.isFinite)) continue;
        // edges in the same order: bottom, right, top, left
        const edges = [crossing(i, j, true), crossing(i + 1, j, false), crossing(i, j + 1, true), crossing(i, j, false)];
        const hits = edges.filter((e) => e !== null);
        if (hits.length === 2) {
          link(hits[0], hits[1]);
        } else if (hits.length === 4) {
          const [bottom, right, top, left] = hits;
          const centerAbove = (cv[0] + cv[1] + cv[2] + cv[3]) / 4 >= level;
          // when the center is on the side of corners (i,j) and (i+1,j+1) it joins them, and the
          // isolines cut off the other two corners; otherwise they cut off these two
          if (centerAbove === cv[0] >= level) {
            link(bottom, right);
            link(top, left);
          } else {
            link(left, bottom);
            link(right, top);
          }
        }
      }
    }
    // walk the chains: open ones from their ends first, then the closed loops
    const seen = new Set<number>();
    const walk = (start: number) => {
      const ids = [start];
      seen.add(start);
      let prev = -1;
      let cur = start;
      while (true) {
        const next = neighbors.get(cur)!.find((n) => n !== prev && !seen.has(n));
        if (next === undefined) break;
        ids.push(next);
        seen.add(next);
        prev = cur;
        cur = next;
      }
      const closed = ids.length > 2 && neighbors.get(cur)!.includes(start);
      if (closed) ids.push(start);
      out.push({ level, points: ids.map((id) => point.get(id)!), closed });
    };
    for (const [id, n] of neighbors) if (n.length === 1 && !seen.has(id)) walk(id);
    for (const id of neighbors.keys()) if (!seen.has(id)) walk(id);
  }
  return out;
}
