/**
 * The digit preprocessing shared by the CLI's `predict` and the web app: image headers read
 * for their size before any decoding, the JPEG decoder, RGBA to grey, and the MNIST-style
 * framing (`toMnist`). No Node or DOM API: it runs in both.
 */
import jpeg from 'jpeg-js';
/** A grayscale image, values in [0, 1], row-major. */
export interface Gray {
  width: number;
  height: number;
  data: Float64Array;
}

export class ImageError extends Error {}

/** The smallest and largest side of an image accepted as a digit (larger ones are refused before decoding). */
export const MIN_SIDE = 8;
export const MAX_SIDE = 4096;

export function checkSize(path: string, width: number, height: number): void {
  if (width < MIN_SIDE || height < MIN_SIDE || width > MAX_SIDE || height > MAX_SIDE) {
    throw new ImageError(`${path} is ${width}×${height}; a digit image must be between ${MIN_SIDE}×${MIN_SIDE} and ${MAX_SIDE}×${MAX_SIDE} pixels`);
  }
}

/** A PNG's size from its first chunk, IHDR (right after the 8-byte signature): width and height, 4 bytes each. */
export function pngSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  if (bytes.length < 24) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR') return undefined;
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/**
 * A JPEG's size from its frame header: walk the segments from the start-of-image marker
 * to the first start-of-frame (SOF0–SOF15 but DHT, JPG and DAC), which holds the precision,
 * then height and width (2 bytes each).
 */
export function jpegSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1];
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2; // markers without a segment
      continue;
    }
    const length = (bytes[at + 2] << 8) | bytes[at + 3];
    if (length < 2) return undefined;
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (at + 9 > bytes.length) return undefined;
      return { height: (bytes[at + 5] << 8) | bytes[at + 6], width: (bytes[at + 7] << 8) | bytes[at + 8] };
    }
    if (marker === 0xda || marker === 0xd9) return undefined; // image data or its end before any frame header
    at += 2 + length;
  }
  return undefined;
}

/** What kind of image the bytes hold, from their magic numbers. */
export function imageKind(bytes: Uint8Array): 'png' | 'jpeg' | undefined {
  if (bytes.length > 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'png';
  if (bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8) return 'jpeg';
  return undefined;
}

/**
 * Check an image file's bytes before decoding them: a PNG or a JPEG whose header declares a
 * size between MIN_SIDE and MAX_SIDE on each side (a small file can declare a huge image).
 * `name` is how messages call the file.
 */
export function checkImageHeader(bytes: Uint8Array, name: string): { kind: 'png' | 'jpeg'; width: number; height: number } {
  const kind = imageKind(bytes);
  if (kind === undefined) throw new ImageError(`${name} is neither a PNG nor a JPEG file`);
  const declared = kind === 'png' ? pngSize(bytes) : jpegSize(bytes);
  if (declared === undefined) throw new ImageError(`${name}: cannot decode ${kind === 'png' ? 'PNG' : 'JPEG'}: no image header with its size`);
  checkSize(name, declared.width, declared.height);
  return { kind, ...declared };
}

/**
 * Decode a JPEG to RGBA with jpeg-js, plain JavaScript: the CLI and the page get the very
 * same pixels (browsers' decoders round the inverse DCT and chroma differently, enough to
 * move a probability by 0.1 point). Call checkImageHeader first.
 */
export function decodeJpeg(bytes: Uint8Array): { width: number; height: number; data: Uint8Array } {
  const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 256 });
  return { width: img.width, height: img.height, data: img.data };
}

/** Decoded RGBA (8 bits a channel) to grey in [0, 1]: ITU-R BT.601 luma, alpha composited over white. */
export function rgbaToGray(rgba: ArrayLike<number>, width: number, height: number): Gray {
  const data = new Float64Array(width * height);
  for (let i = 0; i < width * height; i++) {
    const a = rgba[4 * i + 3] / 255;
    const y = (0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2]) / 255;
    data[i] = a * y + (1 - a);
  }
  return { width, height, data };
}

const BINS = 256;

/** How many of the 8 pixels around (x, y) hold ink: a speck of noise on the page has none or one, a stroke more. */
function inkNeighbours(ink: Float64Array, w: number, h: number, x: number, y: number, level: number): number {
  let count = 0;
  for (let dy = -1; dy <= 1; dy++) {
    for (let dx = -1; dx <= 1; dx++) {
      const nx = x + dx;
      const ny = y + dy;
      if ((dx !== 0 || dy !== 0) && nx >= 0 && nx < w && ny >= 0 && ny < h && ink[ny * w + nx] > level) count++;
    }
  }
  return count;
}

/**
 * The ink of an image, in [0, 1] on a background of 0. A light page is inverted (mean
 * > 0.5). The contrast is stretched between the 1st and 99.5th percentiles, so a grey page
 * and faded ink span the range as a clean scan does. The background (its grey, lighting
 * gradient and noise) is then cut by Otsu's method: the threshold t that maximises the
 * between-class variance ω₀ω₁(μ₀ − μ₁)² of the histogram, which splits page from ink
 * whatever their levels. Values below the cut (midway between the page's mean μ₀ and t,
 * which keeps a stroke's soft edges) become 0, the rest are rescaled to [0, 1]; `level` is
 * Otsu's threshold on that scale, above which a pixel is surely ink (for the crop box).
 */
function inkOf(pixels: Float64Array): { ink: Float64Array; level: number } {
  const n = pixels.length;
  const mean = pixels.reduce((a, b) => a + b, 0) / n;
  const ink = mean > 0.5 ? pixels.map((v) => 1 - v) : Float64Array.from(pixels);
  const hist = new Float64Array(BINS);
  const bin = (v: number) => Math.min(BINS - 1, Math.max(0, Math.floor(v * BINS)));
  for (const v of ink) hist[bin(v)]++;
  const percentile = (q: number) => {
    let seen = 0;
    for (let b = 0; b < BINS; b++) if ((seen += hist[b]) >= q * n) return b / BINS;
    return 1;
  };
  const lo = percentile(0.01);
  const hi = percentile(0.995) + 1 / BINS;
  // a page of one level: nothing drawn (toMnist reports it blank)
  if (hi - lo < 0.1) return { ink: new Float64Array(n), level: 0 };
  hist.fill(0);
  for (let i = 0; i < n; i++) {
    ink[i] = Math.min(1, Math.max(0, (ink[i] - lo) / (hi - lo)));
    hist[bin(ink[i])]++;
  }
  let total = 0;
  for (let b = 0; b < BINS; b++) total += b * hist[b];
  let w0 = 0;
  let sum0 = 0;
  let best = -1;
  let t = 0;
  let mu0 = 0;
  for (let b = 0; b < BINS - 1; b++) {
    w0 += hist[b];
    sum0 += b * hist[b];
    const w1 = n - w0;
    if (w0 === 0 || w1 === 0) continue;
    const m0 = sum0 / w0;
    const m1 = (total - sum0) / w1;
    const between = w0 * w1 * (m0 - m1) ** 2;
    if (between > best) {
      best = between;
      t = (b + 1) / BINS;
      mu0 = (m0 + 0.5) / BINS;
    }
  }
  const cut = (mu0 + t) / 2;
  for (let i = 0; i < n; i++) ink[i] = ink[i] > cut ? (ink[i] - cut) / (1 - cut) : 0;
  return { ink, level: (t - cut) / (1 - cut) };
}

/**
 * Prepare a photo or drawing of one digit the way MNIST's digits were made: ink is
 * bright on black (a light background is inverted, contrast normalised and cut by
 * Otsu's threshold: see inkOf), the ink's bounding box is scaled
 * so its longer side is 20 pixels (area averaging), and the result is placed in a
 * 28×28 frame so its center of mass sits at the center.
 */
export function toMnist(img: Gray): Float64Array {
  const { width: w, height: h } = img;
  const { ink, level } = inkOf(img.data);
  // the crop box: the pixels surely ink, without specks of noise
  let x0 = w;
  let x1 = -1;
  let y0 = h;
  let y1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (ink[y * w + x] > level && inkNeighbours(ink, w, h, x, y, level) >= 2) {
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
