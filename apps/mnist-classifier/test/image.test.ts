import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mnist } from '@ml/data';
import { describe, expect, it } from 'vitest';
import { deflateSync } from 'node:zlib';
import { encodePng, ImageError, jpegSize, pngSize, readGray, toMnist } from '../src/image.js';

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

/**
 * A seeded photo of a digit on paper: a grey page (≈ 200 of 255) lit unevenly (a gradient of
 * ±15 across it and 8 down it), sensor noise (σ 4), and dark ink (the MNIST digit's value
 * darkens the page by up to 80%), the digit drawn 4× in a 150×130 page, off-centre.
 */
function photo(px: ArrayLike<number>, seed: number): { width: number; height: number; data: Float64Array } {
  const width = 150;
  const height = 130;
  let s = seed;
  const uniform = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return (s + 0.5) / 2 ** 31;
  };
  const gauss = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  const big = upscale(px, 4);
  const data = new Float64Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const paper = 200 + 30 * (x / width - 0.5) + 8 * (y / height) + 4 * gauss();
      const gx = x - 25;
      const gy = y - 10;
      const ink = gx >= 0 && gx < 112 && gy >= 0 && gy < 112 ? big[gy * 112 + gx] : 0;
      data[y * width + x] = Math.min(255, Math.max(0, paper * (1 - 0.8 * ink))) / 255;
    }
  }
  return { width, height, data };
}

describe('image preparation', () => {
  it('a photo of a digit on grey, unevenly lit, noisy paper comes back close to the clean digit (contrast normalised, Otsu threshold)', async () => {
    const { test } = await mnist({ flatten: true });
    const all = test.images.dataSync();
    for (let index = 0; index < 20; index++) {
      const original = all.subarray(index * 784, (index + 1) * 784);
      const prepared = toMnist(photo(original, 17 + index));
      // the background is removed, so the crop box is the digit's and it is rescaled as MNIST's were
      expect(shiftedCorrelation(prepared, original, 1), `test digit ${index}`).toBeGreaterThan(0.9);
    }
  });

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

  it('reads the declared size from the header before decoding: a small file declaring 30000×30000 is refused at once', async () => {
    // a PNG whose IHDR says 30000×30000 (grey, 8 bits) and whose data is a little deflate stream
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(30000, 0);
    ihdr.writeUInt32BE(30000, 4);
    ihdr[8] = 8;
    const chunk = (type: string, data: Buffer) => {
      const head = Buffer.alloc(8);
      head.writeUInt32BE(data.length, 0);
      head.write(type, 4, 'latin1');
      return Buffer.concat([head, data, Buffer.alloc(4)]);
    };
    const bomb = Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', ihdr),
      chunk('IDAT', deflateSync(Buffer.alloc(4 * 1024 * 1024))),
      chunk('IEND', Buffer.alloc(0)),
    ]);
    expect(pngSize(bomb)).toEqual({ width: 30000, height: 30000 });
    const file = join(dir, 'huge.png');
    writeFileSync(file, bomb);
    const t0 = performance.now();
    await expect(readGray(file)).rejects.toThrow(/huge\.png is 30000×30000; a digit image must be between 8×8 and 4096×4096/);
    expect(performance.now() - t0).toBeLessThan(1000);
    // a JPEG's frame header (after an APP0 segment) declaring 9000×7000
    const jpegHead = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x00, 0x00, 0xff, 0xc0, 0x00, 0x0b, 0x08, 0x1b, 0x58, 0x23, 0x28, 0x01, 0x01, 0x11, 0x00]);
    expect(jpegSize(jpegHead)).toEqual({ width: 9000, height: 7000 });
    writeFileSync(join(dir, 'huge.jpg'), jpegHead);
    await expect(readGray(join(dir, 'huge.jpg'))).rejects.toThrow(/9000×7000/);
    expect(jpegSize(Buffer.from([0xff, 0xd8, 0xff, 0xda, 0x00, 0x02]))).toBeUndefined();
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
