import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mnist } from '@ml/data';
import { describe, expect, it } from 'vitest';
import { encodePng, ImageError, readGray, toMnist } from '../src/image.js';

const dir = mkdtempSync(join(tmpdir(), 'mnist-image-'));

/** Pearson correlation of two equal-length arrays. */
function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i] / n;
    mb += b[i] / n;
  }
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** The best correlation of `a` with `b` moved by up to `r` pixels each way (centring rounds to whole pixels). */
function shiftedCorrelation(a: Float64Array, b: ArrayLike<number>, r: number): number {
  let best = -1;
  for (let dy = -r; dy <= r; dy++) {
    for (let dx = -r; dx <= r; dx++) {
      const moved = new Float64Array(784);
      for (let y = 0; y < 28; y++) {
        for (let x = 0; x < 28; x++) {
          const sy = y + dy;
          const sx = x + dx;
          if (sy >= 0 && sy < 28 && sx >= 0 && sx < 28) moved[y * 28 + x] = a[sy * 28 + sx];
        }
      }
      best = Math.max(best, correlation(moved, b));
    }
  }
  return best;
}

/** Nearest-neighbour upscale of a 28×28 image by an integer factor. */
function upscale(px: ArrayLike<number>, k: number): Float64Array {
  const out = new Float64Array(28 * k * 28 * k);
  for (let y = 0; y < 28 * k; y++) for (let x = 0; x < 28 * k; x++) out[y * 28 * k + x] = px[Math.floor(y / k) * 28 + Math.floor(x / k)];
  return out;
}

describe('image preparation', () => {
  it('a real MNIST digit drawn black-on-white at 3× size comes back close to the original', async () => {
    const { test } = await mnist({ flatten: true });
    const all = test.images.dataSync();
    for (const index of [0, 1, 2, 3, 4]) {
      const original = all.subarray(index * 784, (index + 1) * 784);
      const file = join(dir, `digit-${index}.png`);
      writeFileSync(file, encodePng(upscale(original, 3), 84, 84, { invert: true }));
      const img = await readGray(file);
      expect([img.width, img.height]).toEqual([84, 84]);
      const prepared = toMnist(img);
      expect(prepared.length).toBe(784);
      // MNIST digits are already boxed to 20 px and centred by mass, so the round trip is
      // near-identity up to a pixel of shift (differences come from the ink threshold,
      // resampling and whole-pixel centring)
      expect(shiftedCorrelation(prepared, original, 1)).toBeGreaterThan(0.85);
    }
  });

  it('centres an off-centre blob by its centre of mass and scales its box to 20 px', () => {
    const w = 100;
    const data = new Float64Array(w * w).fill(1); // white page
    for (let y = 5; y < 45; y++) for (let x = 50; x < 60; x++) data[y * w + x] = 0; // a black bar 10 wide, 40 tall
    const out = toMnist({ width: w, height: w, data });
    let m = 0;
    let cx = 0;
    let cy = 0;
    let rows = 0;
    for (let y = 0; y < 28; y++) {
      let any = false;
      for (let x = 0; x < 28; x++) {
        const v = out[y * 28 + x];
        m += v;
        cx += v * (x + 0.5);
        cy += v * (y + 0.5);
        if (v > 0) any = true;
      }
      if (any) rows++;
    }
    expect(rows).toBe(20);
    expect(Math.abs(cx / m - 14)).toBeLessThanOrEqual(0.5);
    expect(Math.abs(cy / m - 14)).toBeLessThanOrEqual(0.5);
  });

  it('rejects blank, tiny, non-image and missing files with a message', async () => {
    const blank = join(dir, 'blank.png');
    writeFileSync(blank, encodePng(new Float64Array(64 * 64), 64, 64));
    expect(() => toMnist({ width: 64, height: 64, data: new Float64Array(64 * 64).fill(1) })).toThrow(/blank/);
    const tiny = join(dir, 'tiny.png');
    writeFileSync(tiny, encodePng(new Float64Array(16), 4, 4));
    await expect(readGray(tiny)).rejects.toThrow(/4×4.*between 8×8/);
    const text = join(dir, 'note.png');
    writeFileSync(text, 'not an image');
    await expect(readGray(text)).rejects.toThrow(/neither a PNG nor a JPEG/);
    const cut = join(dir, 'cut.png');
    writeFileSync(cut, encodePng(new Float64Array(64 * 64), 64, 64).subarray(0, 60));
    await expect(readGray(cut)).rejects.toThrow(ImageError);
    await expect(readGray(join(dir, 'nope.png'))).rejects.toThrow(/no such file/);
  });
});
