import { readFile } from 'node:fs/promises';
import { PNG } from 'pngjs';
import { checkImageHeader, checkSize, decodeJpeg, ImageError, rgbaToGray, type Gray } from './preprocess.js';

export { checkImageHeader, decodeJpeg, ImageError, imageKind, jpegSize, pngSize, rgbaToGray, toMnist, type Gray } from './preprocess.js';

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
  // the size its header declares, before any decoding: a small file can declare a huge image
  const { kind } = checkImageHeader(bytes, path);
  try {
    if (kind === 'png') {
      const png = PNG.sync.read(bytes);
      ({ width, height } = png);
      rgba = png.data;
    } else {
      ({ width, height, data: rgba } = decodeJpeg(bytes));
    }
  } catch (e) {
    throw new ImageError(`${path}: cannot decode ${kind === 'png' ? 'PNG' : 'JPEG'}: ${(e as Error).message}`);
  }
  checkSize(path, width, height);
  return rgbaToGray(rgba, width, height);
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
