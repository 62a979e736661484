import { readFile } from 'node:fs/promises';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

/** A grayscale image, values in [0, 1], row-major. */
export interface Gray {
  width: number;
  height: number;
  data: Float64Array;
}

export class ImageError extends Error {}

const MIN_SIDE = 8;
const MAX_SIDE = 4096;

/** Decode a PNG or JPEG file (by its magic bytes) to grayscale in [0, 1]; alpha composites on white. */
export async function readGray(path: string): Promise<Gray> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new ImageError(`cannot read image ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  let width: number;
  let height: number;
  let rgba: Uint8Array;
  const isPng = bytes.length > 8 && bytes.readUInt32BE(0) === 0x89504e47;
  const isJpeg = bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8;
  try {
    if (isPng) {
      const png = PNG.sync.read(bytes);
      ({ width, height } = png);
      rgba = png.data;
    } else if (isJpeg) {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 256 });
      ({ width, height } = img);
      rgba = img.data;
    } else {
      throw new ImageError(`${path} is neither a PNG nor a JPEG file`);
    }
  } catch (e) {
    if (e instanceof ImageError) throw e;
    throw new ImageError(`${path}: cannot decode ${isPng ? 'PNG' : 'JPEG'}: ${(e as Error).message}`);
  }
  if (width < MIN_SIDE || height < MIN_SIDE || width > MAX_SIDE || height > MAX_SIDE) {
    throw new ImageError(`${path} is ${width}×${height}; a digit image must be between ${MIN_SIDE}×${MIN_SIDE} and ${MAX_SIDE}×${MAX_SIDE} pixels`);
  }
  const data = new Float64Array(width * height);
  for (let i = 0; i < width * height; i++) {
    const a = rgba[4 * i + 3] / 255;
    // ITU-R BT.601 luma, composited over white
    const y = (0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2]) / 255;
    data[i] = a * y + (1 - a);
  }
  return { width, height, data };
}

/**
 * Prepare a photo or drawing of one digit the way MNIST's digits were made: ink is
 * bright on black (a light background is inverted), the ink's bounding box is scaled
 * so its longer side is 20 pixels (area averaging), and the result is placed in a
 * 28×28 frame so its center of mass sits at the center.
 */
export function toMnist(img: Gray): Float64Array {
  const { width: w, height: h } = img;
  const mean = img.data.reduce((a, b) => a + b, 0) / img.data.length;
  const ink = mean > 0.5 ? img.data.map((v) => 1 - v) : Float64Array.from(img.data);
  // ignore faint background noise: subtract a low threshold
  const thr = 0.2;
  for (let i = 0; i < ink.length; i++) ink[i] = ink[i] > thr ? (ink[i] - thr) / (1 - thr) : 0;
  let x0 = w;
  let x1 = -1;
  let y0 = h;
  let y1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (ink[y * w + x] > 0) {
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y);
      }
    }
  }
  if (x1 < 0) throw new ImageError('the image is blank: no digit found (it needs dark ink on a light background or the reverse)');
  const bw = x1 - x0 + 1;
  const bh = y1 - y0 + 1;
  const scale = 20 / Math.max(bw, bh);
  const sw = Math.max(1, Math.round(bw * scale));
  const sh = Math.max(1, Math.round(bh * scale));
  // area-average resampling of the box to sw × sh
  const small = new Float64Array(sw * sh);
  for (let y = 0; y < sh; y++) {
    const sy0 = y0 + (y * bh) / sh;
    const sy1 = y0 + ((y + 1) * bh) / sh;
    for (let x = 0; x < sw; x++) {
      const sx0 = x0 + (x * bw) / sw;
      const sx1 = x0 + ((x + 1) * bw) / sw;
      let sum = 0;
      let area = 0;
      for (let py = Math.floor(sy0); py < Math.ceil(sy1); py++) {
        const fy = Math.min(py + 1, sy1) - Math.max(py, sy0);
        for (let px = Math.floor(sx0); px < Math.ceil(sx1); px++) {
          const fx = Math.min(px + 1, sx1) - Math.max(px, sx0);
          sum += ink[py * w + px] * fx * fy;
          area += fx * fy;
        }
      }
      small[y * sw + x] = area > 0 ? sum / area : 0;
    }
  }
  // center of mass of the scaled digit → (14, 14)
  let m = 0;
  let cx = 0;
  let cy = 0;
  for (let y = 0; y < sh; y++) {
    for (let x = 0; x < sw; x++) {
      const v = small[y * sw + x];
      m += v;
      cx += v * (x + 0.5);
      cy += v * (y + 0.5);
    }
  }
  const ox = Math.round(14 - cx / m);
  const oy = Math.round(14 - cy / m);
  const out = new Float64Array(28 * 28);
  for (let y = 0; y < sh; y++) {
    for (let x = 0; x < sw; x++) {
      const tx = x + ox;
      const ty = y + oy;
      if (tx >= 0 && tx < 28 && ty >= 0 && ty < 28) out[ty * 28 + tx] = Math.min(1, small[y * sw + x]);
    }
  }
  return out;
}

/** Write a 28×28 image in [0, 1] (white digit on black) as a PNG (for tests and examples). */
export function encodePng(pixels: ArrayLike<number>, width: number, height: number, options: { invert?: boolean } = {}): Buffer {
  const png = new PNG({ width, height });
  for (let i = 0; i < width * height; i++) {
    const v = Math.round(255 * (options.invert ? 1 - pixels[i] : pixels[i]));
    png.data[4 * i] = v;
    png.data[4 * i + 1] = v;
    png.data[4 * i + 2] = v;
    png.data[4 * i + 3] = 255;
  }
  return PNG.sync.write(png);
}
