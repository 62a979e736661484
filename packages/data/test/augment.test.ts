import { describe, expect, it } from 'vitest';
import { fromArray, type Tensor } from '@ml/tensor';
import { compose, randomFlip, randomRotation, randomShift, randomZoom, toFloat } from '../src/index.js';
import { expectClose, values } from './helpers.js';

// The expected images are built here with plain arrays (rows of numbers), independently of
// the resampling code: np.rot90 as transpose + flip, shifts as index arithmetic, and the
// closed form of a linear ramp, which bilinear interpolation reproduces exactly.

type Image = number[][];
const grid = (h: number, w: number, f: (i: number, j: number) => number): Image => Array.from({ length: h }, (_, i) => Array.from({ length: w }, (_, j) => f(i, j)));
const transpose = (m: Image): Image => grid(m[0].length, m.length, (i, j) => m[j][i]);
const flipRows = (m: Image): Image => [...m].reverse();
const flipCols = (m: Image): Image => m.map((r) => [...r].reverse());
const asTensor = (m: Image, shape: number[] = [1, m.length, m[0].length]): Tensor => fromArray(m.flat(), shape);
const shifted = (m: Image, dy: number, dx: number, fill: number): Image =>
  grid(m.length, m[0].length, (i, j) => m[i - dy]?.[j - dx] ?? fill);
/** a deterministic image with distinct values (float32-exact, so copies compare equal) */
const distinct = (h: number, w: number, salt = 0): Image => grid(h, w, (i, j) => Math.fround(((i * 7 + j * 13 + salt * 5) % 37) / 10 + i * w + j));

describe('randomRotation', () => {
  for (const n of [4, 5]) {
    it(`turns a ${n}×${n} image by 90° into its transpose flipped top to bottom (np.rot90), and by −90° and 180° likewise`, () => {
      const img = distinct(n, n);
      expect(values(randomRotation({ degrees: [90, 90], seed: 0 })(asTensor(img)))).toEqual(flipRows(transpose(img)).flat());
      expect(values(randomRotation({ degrees: [-90, -90], seed: 0 })(asTensor(img)))).toEqual(transpose(flipRows(img)).flat());
      expect(values(randomRotation({ degrees: [180, 180], seed: 0 })(asTensor(img)))).toEqual(flipCols(flipRows(img)).flat());
    });
  }

  it('interpolates bilinearly: a 30° turn of a linear ramp is the ramp at the turned coordinates', () => {
    const n = 9;
    const c = (n - 1) / 2;
    const f = (x: number, y: number) => 2 * x + 3 * y + 1;
    const out = values(randomRotation({ degrees: [30, 30], seed: 0 })(asTensor(grid(n, n, (i, j) => f(j, i)))));
    const t = Math.PI / 6;
    let checked = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        // the output at (u, v) from the centre reads the input at (u cos t − v sin t, u sin t + v cos t)
        const sx = c + (j - c) * Math.cos(t) - (i - c) * Math.sin(t);
        const sy = c + (j - c) * Math.sin(t) + (i - c) * Math.cos(t);
        if (sx < 0 || sx > n - 1 || sy < 0 || sy > n - 1) continue;
        expect(out[i * n + j]).toBeCloseTo(f(sx, sy), 4);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(50);
  });

  it('a positive angle turns counter-clockwise: the pixel right of the centre goes above it', () => {
    const img = grid(5, 5, (i, j) => (i === 2 && j === 4 ? 1 : 0));
    const out = values(randomRotation({ degrees: [90, 90], seed: 0 })(asTensor(img)));
    expect(out[0 * 5 + 2]).toBe(1);
    expect(out.reduce((a, b) => a + b)).toBe(1);
  });

  it('fills from outside with `fill`, blended at the edge', () => {
    const out = values(randomRotation({ degrees: [45, 45], fill: -1, seed: 0 })(asTensor(grid(5, 5, () => 1))));
    expect(out[12]).toBe(1);
    // the top-left corner (u, v) = (−2, −2) reads row sy = 2 − 2√2 ≈ −0.83, column 2: between the fill row and row 0
    const sy = 2 + -2 * Math.SQRT1_2 + -2 * Math.SQRT1_2;
    const fy = sy - Math.floor(sy);
    expect(out[0]).toBeCloseTo(-1 * (1 - fy) + 1 * fy, 5);
  });

  it('draws an angle per image of a batch, reproducibly from the seed', () => {
    const img = distinct(6, 6);
    const batch = fromArray([...img.flat(), ...img.flat(), ...img.flat()], [3, 1, 6, 6]);
    const a = values(randomRotation({ degrees: 20, seed: 7 })(batch));
    const b = values(randomRotation({ degrees: 20, seed: 7 })(batch));
    const other = values(randomRotation({ degrees: 20, seed: 8 })(batch));
    expect(a).toEqual(b);
    expect(a).not.toEqual(other);
    expect(a.slice(0, 36)).not.toEqual(a.slice(36, 72));
    // the stream continues across calls: the second batch is turned by new angles, the same in both runs
    const t1 = randomRotation({ degrees: 20, seed: 7 });
    const t2 = randomRotation({ degrees: 20, seed: 7 });
    t1(batch);
    t2(batch);
    expect(values(t1(batch))).toEqual(values(t2(batch)));
    expect(values(t1(batch))).not.toEqual(a);
  });
});

describe('randomShift', () => {
  it('moves every pixel by whole pixels in [−1, 1]² and fills the edge it uncovers', () => {
    const imgs = Array.from({ length: 60 }, (_, k) => distinct(5, 6, k));
    const out = values(randomShift({ pixels: 1, fill: -3, seed: 1 })(fromArray(imgs.flatMap((m) => m.flat()), [60, 1, 5, 6])));
    const seen = new Set<string>();
    imgs.forEach((img, k) => {
      const got = out.slice(k * 30, (k + 1) * 30);
      const matches: string[] = [];
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) if (shifted(img, dy, dx, -3).flat().every((v, i) => v === got[i])) matches.push(`${dy},${dx}`);
      expect(matches).toHaveLength(1);
      seen.add(matches[0]);
    });
    // 60 draws of 9 equally likely shifts: all of them occur
    expect(seen.size).toBe(9);
  });

  it('a fraction is of the height and width: 0.25 of 8×4 shifts by up to 2 rows and 1 column', () => {
    const one = grid(8, 4, (i, j) => (i === 4 && j === 2 ? 1 : 0));
    const out = values(randomShift({ fraction: 0.25, seed: 3 })(fromArray(Array.from({ length: 200 }, () => one.flat()).flat(), [200, 1, 8, 4])));
    const rows = new Set<number>();
    const cols = new Set<number>();
    for (let k = 0; k < 200; k++) {
      const at = out.slice(k * 32, (k + 1) * 32).indexOf(1);
      rows.add(Math.floor(at / 4) - 4);
      cols.add((at % 4) - 2);
    }
    expect([...rows].sort()).toEqual([-1, -2, 0, 1, 2]);
    expect([...cols].sort()).toEqual([-1, 0, 1]);
  });

  it('pixels: 0 leaves the image as it is; integer images come back float32', () => {
    const img = distinct(3, 4);
    expect(values(randomShift({ pixels: 0, seed: 0 })(asTensor(img)))).toEqual(values(asTensor(img)));
    const ints = fromArray([1, 2, 3, 4], [1, 2, 2], { dtype: 'int32' });
    expect(randomShift({ pixels: 0, seed: 0 })(ints).dtype).toBe('float32');
  });
});

describe('randomZoom', () => {
  it('scale [1, 1] is the identity, exactly', () => {
    const img = fromArray(Array.from({ length: 2 * 3 * 5 * 4 }, (_, i) => Math.sin(i)), [2, 3, 5, 4]);
    expect(values(randomZoom({ scale: [1, 1], seed: 0 })(img))).toEqual(values(img));
  });

  it('scale 2 reads the input at half the distance from the centre: a ramp keeps its form at half the slope', () => {
    const n = 7;
    const c = (n - 1) / 2;
    const out = values(randomZoom({ scale: [2, 2], seed: 0 })(asTensor(grid(n, n, (i, j) => 2 * j + 3 * i + 1))));
    expectClose(out, grid(n, n, (i, j) => 2 * (c + (j - c) / 2) + 3 * (c + (i - c) / 2) + 1).flat(), 1e-4);
  });

  it('scale 0.5 shrinks: the border reads outside the image and is the fill', () => {
    const out = values(randomZoom({ scale: [0.5, 0.5], fill: 9, seed: 0 })(asTensor(grid(5, 5, () => 1))));
    expect(out[0]).toBe(9);
    expect(out[12]).toBe(1);
  });
});

describe('randomFlip', () => {
  const img = distinct(3, 4);
  it('p = 1 mirrors exactly: horizontal reverses columns, vertical rows, both is the 180° turn', () => {
    expect(values(randomFlip({ p: 1, seed: 0 })(asTensor(img)))).toEqual(flipCols(img).flat());
    expect(values(randomFlip({ mode: 'vertical', p: 1, seed: 0 })(asTensor(img)))).toEqual(flipRows(img).flat());
    expect(values(randomFlip({ mode: 'both', p: 1, seed: 0 })(asTensor(img)))).toEqual(flipCols(flipRows(img)).flat());
    expect(values(randomFlip({ p: 0, seed: 0 })(asTensor(img)))).toEqual(img.flat());
  });

  it('p = 0.5 flips about half of a batch, each image whole', () => {
    const out = values(randomFlip({ seed: 5 })(fromArray(Array.from({ length: 400 }, () => img.flat()).flat(), [400, 1, 3, 4])));
    let flipped = 0;
    for (let k = 0; k < 400; k++) {
      const got = out.slice(k * 12, (k + 1) * 12);
      if (got.every((v, i) => v === flipCols(img).flat()[i])) flipped++;
      else expect(got).toEqual(img.flat());
    }
    // binomial(400, 0.5): 200 ± 50 is beyond 5 standard deviations
    expect(flipped).toBeGreaterThan(150);
    expect(flipped).toBeLessThan(250);
  });
});

describe('augmentation transforms', () => {
  it('compose with the other transforms; the channels of an image move together', () => {
    const two = [distinct(4, 4, 0), distinct(4, 4, 1)];
    const x = fromArray(two.flatMap((m) => m.flat()), [1, 2, 4, 4], { dtype: 'int32' });
    const out = compose(toFloat, randomRotation({ degrees: [90, 90], seed: 0 }), randomFlip({ p: 1, seed: 0 }))(x);
    expect(out.shape).toEqual([1, 2, 4, 4]);
    const ints = two.map((m) => m.map((r) => r.map((v) => Math.trunc(v))));
    expect(values(out)).toEqual(ints.flatMap((m) => flipCols(flipRows(transpose(m))).flat()));
  });

  it('refuse images that are not [C, H, W] or [N, C, H, W], unknown options and bad ranges, naming the op', () => {
    expect(() => randomShift({ pixels: 1, seed: 0 })(fromArray([1, 2, 3, 4], [2, 2]))).toThrow('randomShift: expected an image [C, H, W] or a batch [N, C, H, W], got [2,2]');
    expect(() => randomRotation({ degrees: 10, fill_value: 1 } as never)).toThrow("randomRotation: unknown option 'fill_value'; did you mean 'fill'?");
    expect(() => randomZoom({ scale: [0.9, 1.1], zoom: 1 } as never)).toThrow("randomZoom: unknown option 'zoom'");
    expect(() => randomFlip({ mode: 'horizontal_and_vertical' as never })).toThrow("randomFlip: mode must be 'horizontal', 'vertical' or 'both', got 'horizontal_and_vertical'");
    expect(() => randomShift({ pixels: 1, fraction: 0.1 })).toThrow('randomShift: pass exactly one of pixels');
    expect(() => randomShift({ pixels: 1.5 })).toThrow('randomShift: pixels must be an integer >= 0, got 1.5');
    expect(() => randomZoom({ scale: [0, 1] })).toThrow('randomZoom: scale must be [min, max] with 0 < min <= max, got [0, 1]');
    expect(() => randomRotation({ degrees: [10, -10] })).toThrow('randomRotation: degrees must be [min, max] with min <= max, got [10, -10]');
  });
});
