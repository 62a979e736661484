/** One rectangle of a raster: a run of equal cells along a grid row. */
export interface Run<T> {
  x: number;
  x2: number;
  y: number;
  y2: number;
  /** the first cell's value (all cells of the run share its key) */
  value: T;
}

/**
 * A raster on [x0, x1]×[y0, y1] as rectangles: `cells[j][i]` is column i of row j (rows from
 * y0 up); each run of cells with equal `key` along a row becomes one rectangle, so a
 * 100×100 grid with a few regions costs a few hundred marks instead of 10,000.
 *
 * Rectangles reach half a cell into the next column and row, which are drawn after them and
 * cover the overlap: touching shapes otherwise leave antialiased hairline seams. No rectangle
 * reaches past the raster's edges.
 */
export function rasterRuns<T>(cells: readonly (readonly T[])[], key: (v: T) => number, x0: number, x1: number, y0: number, y1: number): Run<T>[] {
  const rows = cells.length;
  const cols = rows > 0 ? cells[0].length : 0;
  const dx = (x1 - x0) / cols;
  const dy = (y1 - y0) / rows;
  const out: Run<T>[] = [];
  for (let j = 0; j < rows; j++) {
    const row = cells[j];
    const y2 = j + 1 < rows ? y0 + (j + 1.5) * dy : y1;
    let start = 0;
    for (let i = 1; i <= cols; i++) {
      if (i < cols && key(row[i]) === key(row[start])) continue;
      out.push({ x: x0 + start * dx, x2: i < cols ? x0 + (i + 0.5) * dx : x1, y: y0 + j * dy, y2, value: row[start] });
      start = i;
    }
  }
  return out;
}

/** `hex` (#rrggbb) mixed with white: `amount` 0 keeps it, 1 gives white. */
export function tint(hex: string, amount: number): string {
  const c = [1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16));
  return `#${c.map((v) => Math.round(v + (255 - v) * amount).toString(16).padStart(2, '0')).join('')}`;
}
