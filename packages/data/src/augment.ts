/**
 * Image augmentation (torchvision's RandomAffine family, Keras's RandomTranslation /
 * RandomRotation / RandomZoom / RandomFlip): seeded transforms from a float image tensor to
 * one of the same shape, [C, H, W] for one image or [N, C, H, W] for a batch (each image
 * of a batch draws its own parameters; the channels of an image share them). They run on
 * any backend: the resampling is a gather of the input's values at indices computed here.
 */
import { cast, checkOptions, concat, formatShape, fromArray, indexSelect, isFloat, optionKeys, type Tensor, tidy } from '@ml/tensor';
import { resolveSeed, Rng } from './random.js';
import type { Transform } from './transforms.js';

export interface RandomShiftOptions {
  /** largest shift in pixels, up or down and left or right; each image draws an integer in [−pixels, pixels] per axis */
  pixels?: number;
  /** the largest shift as a fraction of the height (vertical) and width (horizontal), in [0, 1); rounded to whole pixels */
  fraction?: number;
  /** value of the pixels shifted in from outside (default 0) */
  fill?: number;
  /** seed of the draws; without it drawn from @ml/tensor's generator (`manualSeed`) */
  seed?: number;
}

export interface RandomRotationOptions {
  /** angle range in degrees: d for [−d, d], or [min, max]; positive turns counter-clockwise */
  degrees: number | readonly [number, number];
  /** value of the pixels whose source lies outside the image (default 0) */
  fill?: number;
  /** seed of the draws; without it drawn from @ml/tensor's generator (`manualSeed`) */
  seed?: number;
}

export interface RandomZoomOptions {
  /** [min, max] of the scale factor: above 1 enlarges (zooms in), below 1 shrinks; 1 leaves the image as it is */
  scale: readonly [number, number];
  /** value of the pixels whose source lies outside the image (default 0) */
  fill?: number;
  /** seed of the draws; without it drawn from @ml/tensor's generator (`manualSeed`) */
  seed?: number;
}

export interface RandomFlipOptions {
  /** mirror left–right ('horizontal', the default), top–bottom ('vertical'), or each independently ('both') */
  mode?: 'horizontal' | 'vertical' | 'both';
  /** probability of each flip (default 0.5) */
  p?: number;
  /** seed of the draws; without it drawn from @ml/tensor's generator (`manualSeed`) */
  seed?: number;
}

const SHIFT_KEYS = optionKeys<RandomShiftOptions>()(['pixels', 'fraction', 'fill', 'seed']);
const ROTATION_KEYS = optionKeys<RandomRotationOptions>()(['degrees', 'fill', 'seed']);
const ZOOM_KEYS = optionKeys<RandomZoomOptions>()(['scale', 'fill', 'seed']);
const FLIP_KEYS = optionKeys<RandomFlipOptions>()(['mode', 'p', 'seed']);
/** Keras's and torchvision's names for ours */
const ALIASES = { fill_value: 'fill', fillValue: 'fill', factor: 'degrees', height_factor: 'fraction', width_factor: 'fraction', translate: 'fraction', random_state: 'seed' };

/**
 * The map from an output pixel to where it reads the input, in coordinates centred on the
 * image ((W − 1)/2, (H − 1)/2), x to the right and y down: source = M · (x, y) + t.
 */
interface Affine {
  m00: number;
  m01: number;
  m10: number;
  m11: number;
  tx: number;
  ty: number;
}

function imageShape(op: string, x: Tensor): { n: number; c: number; h: number; w: number } {
  if (x.ndim === 3) return { n: 1, c: x.shape[0], h: x.shape[1], w: x.shape[2] };
  if (x.ndim === 4) return { n: x.shape[0], c: x.shape[1], h: x.shape[2], w: x.shape[3] };
  throw new RangeError(`${op}: expected an image [C, H, W] or a batch [N, C, H, W], got ${formatShape(x.shape)}${x.ndim === 2 ? ' (add a channel dim: x.reshape([1, H, W]))' : ''}`);
}

function finite(op: string, name: string, v: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError(`${op}: ${name} must be a finite number, got ${String(v)}`);
  return v;
}

/** a shift and/or flip by whole pixels (diagonal ±1, integer offset): each output pixel is one input pixel */
const wholePixels = (a: Affine): boolean => a.m01 === 0 && a.m10 === 0 && Math.abs(a.m00) === 1 && Math.abs(a.m11) === 1 && Number.isInteger(a.tx) && Number.isInteger(a.ty);

/** a coordinate within 1e-9 of a whole number is that number: a 90° turn reads pixels exactly */
const snap = (v: number): number => {
  const r = Math.round(v);
  return Math.abs(v - r) < 1e-9 ? r : v;
};

/**
 * Resample each image of `x` through its affine map with bilinear interpolation; a corner
 * outside the image contributes `fill`. Output pixel (i, j) of image k is
 * Σ_corners w · x[k, :, y0 + dy, x0 + dx] with (x0 + fx, y0 + fy) its source and
 * w = (1 − |dx − fx|)(1 − |dy − fy|).
 */
function resample(op: string, x: Tensor, maps: readonly Affine[], fill: number): Tensor {
  const { n, c, h, w } = imageShape(op, x);
  const plane = h * w;
  const total = n * c * plane;
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  // per corner: the index into [x.flat, fill] and its weight
  const idx = [new Int32Array(total), new Int32Array(total), new Int32Array(total), new Int32Array(total)];
  const wt = [new Float32Array(total), new Float32Array(total), new Float32Array(total), new Float32Array(total)];
  let exact = true;
  for (let k = 0; k < n; k++) {
    const a = maps[k];
    const first = k * c * plane;
    if (wholePixels(a)) {
      // a shift or a flip reads one whole pixel: the first corner only, weight 1
      for (let i = 0; i < h; i++) {
        const sy = a.m11 * (i - cy) + a.ty + cy;
        for (let j = 0; j < w; j++) {
          const sx = a.m00 * (j - cx) + a.tx + cx;
          const o = sx >= 0 && sx < w && sy >= 0 && sy < h ? sy * w + sx : -1;
          for (let ch = 0, base = first; ch < c; ch++, base += plane) idx[0][base + i * w + j] = o < 0 ? total : base + o;
        }
      }
      continue;
    }
    for (let i = 0; i < h; i++) {
      const v = i - cy;
      for (let j = 0; j < w; j++) {
        const u = j - cx;
        const sx = snap(a.m00 * u + a.m01 * v + a.tx + cx);
        const sy = snap(a.m10 * u + a.m11 * v + a.ty + cy);
        const x0 = Math.floor(sx);
        const y0 = Math.floor(sy);
        const fx = sx - x0;
        const fy = sy - y0;
        if (fx !== 0 || fy !== 0) exact = false;
        // the four neighbours (x0, y0), (x0 + 1, y0), (x0, y0 + 1), (x0 + 1, y0 + 1): offset in the plane, or −1 outside
        const inX0 = x0 >= 0 && x0 < w;
        const inX1 = x0 + 1 >= 0 && x0 + 1 < w;
        const inY0 = y0 >= 0 && y0 < h;
        const inY1 = y0 + 1 >= 0 && y0 + 1 < h;
        const o0 = inX0 && inY0 ? y0 * w + x0 : -1;
        const o1 = inX1 && inY0 ? y0 * w + x0 + 1 : -1;
        const o2 = inX0 && inY1 ? (y0 + 1) * w + x0 : -1;
        const o3 = inX1 && inY1 ? (y0 + 1) * w + x0 + 1 : -1;
        const w0 = (1 - fx) * (1 - fy);
        const w1 = fx * (1 - fy);
        const w2 = (1 - fx) * fy;
        const w3 = fx * fy;
        for (let ch = 0, base = first; ch < c; ch++, base += plane) {
          const at = base + i * w + j;
          idx[0][at] = o0 < 0 ? total : base + o0;
          idx[1][at] = o1 < 0 ? total : base + o1;
          idx[2][at] = o2 < 0 ? total : base + o2;
          idx[3][at] = o3 < 0 ? total : base + o3;
          wt[0][at] = w0;
          wt[1][at] = w1;
          wt[2][at] = w2;
          wt[3][at] = w3;
        }
      }
    }
  }
  return tidy(() => {
    const src = isFloat(x.dtype) ? x : cast(x, 'float32');
    const backend = src.backend.name;
    const flat = concat([src.reshape([total]), fromArray([fill], [1], { dtype: src.dtype, backend })]);
    const read = (q: number): Tensor => indexSelect(flat, 0, fromArray(idx[q], [total], { dtype: 'int32', backend }));
    // whole-pixel maps (shifts, flips, a zoom of 1, right angles) read one corner: a copy, no arithmetic
    let out = read(0);
    if (!exact) {
      out = out.mul(fromArray(wt[0], [total], { dtype: src.dtype, backend }));
      for (let q = 1; q < 4; q++) out = out.add(read(q).mul(fromArray(wt[q], [total], { dtype: src.dtype, backend })));
    }
    return out.reshape(x.shape);
  });
}

/** A transform drawing one affine map per image from `draw`. */
function randomAffine(op: string, seed: number | undefined, fill: number, draw: (rng: Rng, h: number, w: number) => Affine): Transform<Tensor, Tensor> {
  // the seed is fixed when the transform is made; each call continues the same stream
  const rng = new Rng(resolveSeed(seed, op));
  return (x) => {
    const { n, h, w } = imageShape(op, x);
    return resample(op, x, Array.from({ length: n }, () => draw(rng, h, w)), fill);
  };
}

/** A uniform integer in [−k, k]. */
const signedInt = (rng: Rng, k: number): number => rng.int(2 * k + 1) - k;

/**
 * Translate each image by a whole number of pixels drawn uniformly per axis from
 * [−pixels, pixels] (or [−round(fraction·H), …] vertically and [−round(fraction·W), …]
 * horizontally); pixels moved in from outside are `fill`. Values are copied, not
 * interpolated.
 *
 * ```ts
 * const augment = compose(randomShift({ pixels: 2, seed: 0 }), randomRotation({ degrees: 10, seed: 1 }));
 * const xb = augment(images); // [64, 1, 28, 28] → [64, 1, 28, 28]
 * ```
 */
export function randomShift(options: RandomShiftOptions): Transform<Tensor, Tensor> {
  const op = 'randomShift';
  checkOptions(op, options, SHIFT_KEYS, ALIASES);
  const { pixels, fraction } = options ?? {};
  if ((pixels === undefined) === (fraction === undefined)) throw new TypeError(`${op}: pass exactly one of pixels (e.g. { pixels: 2 }) or fraction (e.g. { fraction: 0.1 })`);
  if (pixels !== undefined && !(Number.isInteger(pixels) && pixels >= 0)) throw new RangeError(`${op}: pixels must be an integer >= 0, got ${pixels}`);
  if (fraction !== undefined && !(fraction >= 0 && fraction < 1)) throw new RangeError(`${op}: fraction must be in [0, 1), got ${fraction}`);
  const fill = finite(op, 'fill', options.fill ?? 0);
  return randomAffine(op, options.seed, fill, (rng, h, w) => {
    const dy = signedInt(rng, pixels ?? Math.round(fraction! * h));
    const dx = signedInt(rng, pixels ?? Math.round(fraction! * w));
    // the output at p reads the input at p − d
    return { m00: 1, m01: 0, m10: 0, m11: 1, tx: -dx, ty: -dy };
  });
}

/**
 * Rotate each image about its centre by an angle drawn uniformly from the range (degrees,
 * counter-clockwise as seen with y pointing down the rows), with bilinear interpolation;
 * pixels whose source is outside the image are `fill`. 90° is NumPy's `rot90`: the
 * transpose flipped top to bottom.
 */
export function randomRotation(options: RandomRotationOptions): Transform<Tensor, Tensor> {
  const op = 'randomRotation';
  checkOptions(op, options, ROTATION_KEYS, ALIASES);
  if (options?.degrees === undefined) throw new TypeError(`${op}: pass degrees, e.g. { degrees: 10 } for angles in [-10, 10]`);
  const d = options.degrees;
  const [lo, hi] = typeof d === 'number' ? [-Math.abs(finite(op, 'degrees', d)), Math.abs(d)] : [finite(op, 'degrees[0]', d[0]), finite(op, 'degrees[1]', d[1])];
  if (!(lo <= hi)) throw new RangeError(`${op}: degrees must be [min, max] with min <= max, got [${lo}, ${hi}]`);
  const fill = finite(op, 'fill', options.fill ?? 0);
  return randomAffine(op, options.seed, fill, (rng) => {
    const t = (rng.uniform(lo, hi) * Math.PI) / 180;
    const cos = Math.cos(t);
    const sin = Math.sin(t);
    // the output turned by t reads the input turned back: (u, v) ← (u cos t − v sin t, u sin t + v cos t)
    return { m00: cos, m01: -sin, m10: sin, m11: cos, tx: 0, ty: 0 };
  });
}

/**
 * Scale each image about its centre by a factor drawn uniformly from `scale` (the same
 * for both axes), with bilinear interpolation: the output at p reads the input at p / s
 * (centred coordinates). Pixels whose source is outside the image are `fill`.
 */
export function randomZoom(options: RandomZoomOptions): Transform<Tensor, Tensor> {
  const op = 'randomZoom';
  checkOptions(op, options, ZOOM_KEYS, ALIASES);
  const s = options?.scale;
  if (!Array.isArray(s) || s.length !== 2) throw new TypeError(`${op}: pass scale as [min, max], e.g. { scale: [0.9, 1.1] }`);
  const [lo, hi] = [finite(op, 'scale[0]', s[0]), finite(op, 'scale[1]', s[1])];
  if (!(lo > 0 && lo <= hi)) throw new RangeError(`${op}: scale must be [min, max] with 0 < min <= max, got [${lo}, ${hi}]`);
  const fill = finite(op, 'fill', options.fill ?? 0);
  return randomAffine(op, options.seed, fill, (rng) => {
    const z = rng.uniform(lo, hi);
    return { m00: 1 / z, m01: 0, m10: 0, m11: 1 / z, tx: 0, ty: 0 };
  });
}

/**
 * Mirror each image left–right and/or top–bottom with probability `p` (torchvision's
 * RandomHorizontalFlip / RandomVerticalFlip, Keras's RandomFlip). Values are copied exactly.
 */
export function randomFlip(options: RandomFlipOptions = {}): Transform<Tensor, Tensor> {
  const op = 'randomFlip';
  checkOptions(op, options, FLIP_KEYS, ALIASES);
  const mode = options.mode ?? 'horizontal';
  if (mode !== 'horizontal' && mode !== 'vertical' && mode !== 'both') throw new RangeError(`${op}: mode must be 'horizontal', 'vertical' or 'both', got '${String(mode)}'`);
  const p = options.p ?? 0.5;
  if (!(p >= 0 && p <= 1)) throw new RangeError(`${op}: p must be in [0, 1], got ${p}`);
  return randomAffine(op, options.seed, 0, (rng) => {
    const fx = mode !== 'vertical' && rng.float() < p ? -1 : 1;
    const fy = mode !== 'horizontal' && rng.float() < p ? -1 : 1;
    return { m00: fx, m01: 0, m10: 0, m11: fy, tx: 0, ty: 0 };
  });
}
