/**
 * A contour plot on a canvas, by hand: the function sampled on a grid, filled by its
 * level, and iso-lines by marching squares (each cell's corners above or below a level
 * give the edges the line crosses, placed by linear interpolation).
 */
export interface View {
  /** the plotted ranges of the two parameters */
  w: [number, number];
  b: [number, number];
  /** the plot area inside the canvas, in canvas pixels */
  left: number;
  top: number;
  size: number;
}

export const toCanvas = (v: View, w: number, b: number): [number, number] => [
  v.left + ((w - v.w[0]) / (v.w[1] - v.w[0])) * v.size,
  v.top + (1 - (b - v.b[0]) / (v.b[1] - v.b[0])) * v.size,
];

/** Level k of `count` between lo and hi, spaced quadratically: a quadratic bowl gets evenly spaced rings. */
const levelsOf = (lo: number, hi: number, count: number): number[] => Array.from({ length: count }, (_, k) => lo + (hi - lo) * ((k + 1) / (count + 1)) ** 2);

/** Draw `f` over the view: shaded by level, with `count` contour lines and the axes. */
export function drawContour(ctx: CanvasRenderingContext2D, v: View, f: (w: number, b: number) => number, count = 12): void {
  const n = 96;
  const grid = new Float64Array((n + 1) * (n + 1));
  let lo = Infinity;
  let hi = -Infinity;
  for (let j = 0; j <= n; j++) {
    for (let i = 0; i <= n; i++) {
      const value = f(v.w[0] + ((v.w[1] - v.w[0]) * i) / n, v.b[1] - ((v.b[1] - v.b[0]) * j) / n);
      grid[j * (n + 1) + i] = value;
      lo = Math.min(lo, value);
      hi = Math.max(hi, value);
    }
  }
  const cell = v.size / n;
  // shading: light for low loss, darker blue-grey for high (on a square-root scale)
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < n; i++) {
      const t = Math.sqrt((grid[j * (n + 1) + i] - lo) / (hi - lo));
      ctx.fillStyle = `hsl(215 45% ${Math.round(97 - 40 * t)}%)`;
      ctx.fillRect(v.left + i * cell, v.top + j * cell, cell + 0.5, cell + 0.5);
    }
  }
  ctx.strokeStyle = 'rgba(30, 50, 90, 0.55)';
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (const level of levelsOf(lo, hi, count)) {
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < n; i++) {
        const a = grid[j * (n + 1) + i]; // top left
        const b = grid[j * (n + 1) + i + 1]; // top right
        const c = grid[(j + 1) * (n + 1) + i + 1]; // bottom right
        const d = grid[(j + 1) * (n + 1) + i]; // bottom left
        const x = v.left + i * cell;
        const y = v.top + j * cell;
        // the crossings on the four edges, where the level lies between the two corners
        const points: [number, number][] = [];
        const cross = (p: number, q: number, x0: number, y0: number, x1: number, y1: number) => {
          if ((p < level) === (q < level)) return;
          const t = (level - p) / (q - p);
          points.push([x0 + t * (x1 - x0), y0 + t * (y1 - y0)]);
        };
        cross(a, b, x, y, x + cell, y);
        cross(b, c, x + cell, y, x + cell, y + cell);
        cross(c, d, x + cell, y + cell, x, y + cell);
        cross(d, a, x, y + cell, x, y);
        for (let k = 0; k + 1 < points.length; k += 2) {
          ctx.moveTo(points[k][0], points[k][1]);
          ctx.lineTo(points[k + 1][0], points[k + 1][1]);
        }
      }
    }
  }
  ctx.stroke();
  // axes: integer ticks
  ctx.fillStyle = '#222';
  ctx.font = '12px system-ui, sans-serif';
  ctx.textAlign = 'center';
  for (let w = Math.ceil(v.w[0]); w <= v.w[1]; w++) ctx.fillText(String(w), toCanvas(v, w, v.b[0])[0], v.top + v.size + 14);
  ctx.fillText('slope w', v.left + v.size / 2, v.top + v.size + 30);
  ctx.textAlign = 'right';
  for (let b = Math.ceil(v.b[0]); b <= v.b[1]; b++) ctx.fillText(String(b), v.left - 6, toCanvas(v, v.w[0], b)[1] + 4);
  ctx.save();
  ctx.translate(12, v.top + v.size / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = 'center';
  ctx.fillText('intercept b', 0, 0);
  ctx.restore();
  ctx.strokeStyle = '#444';
  ctx.strokeRect(v.left, v.top, v.size, v.size);
}
