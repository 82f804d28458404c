import { decode as decodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import { CvaeError } from '../errors.js';

/**
 * An uploaded picture (PNG or JPEG, told apart by their signatures, not by what the client
 * claims) → RGB bytes, HWC. Pure JavaScript codecs (fast-png, jpeg-js): they run in Workers, Node
 * and browsers alike. Transparent pixels are composited onto black, the background the models were
 * trained on. The size is checked from the header before anything is decoded: a small file can
 * claim a huge picture (a decompression bomb), and an isolate has 128 MB.
 */
export interface RgbImage {
  width: number;
  height: number;
  /** HWC, 3 channels, 0–255 */
  data: Uint8Array;
}

/** Pictures larger than this many pixels are refused before decoding (4 MP: 2048 × 2048). */
export const MAX_UPLOAD_PIXELS = 4_194_304;

const isPng = (b: Uint8Array) => b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47;
const isJpeg = (b: Uint8Array) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;

export function decodeUpload(bytes: Uint8Array): RgbImage {
  if (isPng(bytes)) return fromPng(bytes);
  if (isJpeg(bytes)) return fromJpeg(bytes);
  throw new CvaeError('unsupported_image', 'The upload is not a PNG or JPEG image.', { param: 'image' });
}

function fromPng(bytes: Uint8Array): RgbImage {
  // IHDR is the first chunk: width and height, big-endian, at bytes 16 and 20
  if (bytes.length >= 24) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const [w, h] = [view.getUint32(16), view.getUint32(20)];
    if (w * h > MAX_UPLOAD_PIXELS) tooLarge(w, h);
  }
  let png: ReturnType<typeof decodePng>;
  try {
    png = decodePng(bytes);
  } catch (error) {
    throw new CvaeError('unsupported_image', `The PNG cannot be read: ${(error as Error).message}`, { param: 'image' });
  }
  const { width, height, channels, depth, palette } = png;
  if (width * height > MAX_UPLOAD_PIXELS) tooLarge(width, height);
  const max = depth === 16 ? 65535 : depth === 8 ? 255 : 2 ** depth - 1;
  const out = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    let rgba: number[];
    if (palette) {
      const entry = palette[png.data[p] as number] ?? [0, 0, 0];
      rgba = [
        (entry[0] ?? 0) / 255,
        (entry[1] ?? 0) / 255,
        (entry[2] ?? 0) / 255,
        entry.length > 3 ? (entry[3] ?? 255) / 255 : 1,
      ];
    } else {
      const v = (c: number) => (png.data[p * channels + c] as number) / max;
      rgba =
        channels === 1
          ? [v(0), v(0), v(0), 1]
          : channels === 2
            ? [v(0), v(0), v(0), v(1)]
            : [v(0), v(1), v(2), channels === 4 ? v(3) : 1];
    }
    const alpha = rgba[3] as number;
    for (let c = 0; c < 3; c++) out[p * 3 + c] = Math.round((rgba[c] as number) * alpha * 255);
  }
  return { width, height, data: out };
}

function fromJpeg(bytes: Uint8Array): RgbImage {
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: true,
      maxResolutionInMP: MAX_UPLOAD_PIXELS / 1e6,
      maxMemoryUsageInMB: 64,
    });
  } catch (error) {
    const message = (error as Error).message;
    if (/maxResolutionInMP|resolution/i.test(message)) tooLarge(0, 0);
    throw new CvaeError('unsupported_image', `The JPEG cannot be read: ${message}`, { param: 'image' });
  }
  const { width, height, data } = decoded;
  const out = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) for (let c = 0; c < 3; c++) out[p * 3 + c] = data[p * 4 + c] as number;
  return { width, height, data: out };
}

function tooLarge(width: number, height: number): never {
  throw new CvaeError(
    'image_too_large',
    `The picture${width ? ` (${width}x${height})` : ''} has more than ${MAX_UPLOAD_PIXELS} pixels (2048 × 2048).`,
    { param: 'image' },
  );
}

/**
 * The centre square of an image, area-averaged to `size` × `size` (or bilinear when enlarging),
 * as the model's input: NCHW floats with `channels` 1 (luminance) or 3.
 */
export function toModelInput(image: RgbImage, size: number, channels: number): Float32Array {
  const side = Math.min(image.width, image.height);
  const x0 = (image.width - side) / 2;
  const y0 = (image.height - side) / 2;
  const scale = side / size;
  const out = new Float32Array(channels * size * size);
  const at = (x: number, y: number, c: number) =>
    (image.data[
      (Math.min(image.height - 1, Math.max(0, y)) * image.width + Math.min(image.width - 1, Math.max(0, x))) * 3 + c
    ] as number) / 255;
  for (let oy = 0; oy < size; oy++) {
    for (let ox = 0; ox < size; ox++) {
      const rgb = [0, 0, 0];
      if (scale >= 1) {
        // the source pixels this output pixel covers, averaged
        const xa = Math.floor(x0 + ox * scale);
        const xb = Math.max(xa + 1, Math.floor(x0 + (ox + 1) * scale));
        const ya = Math.floor(y0 + oy * scale);
        const yb = Math.max(ya + 1, Math.floor(y0 + (oy + 1) * scale));
        for (let y = ya; y < yb; y++)
          for (let x = xa; x < xb; x++) for (let c = 0; c < 3; c++) rgb[c] = (rgb[c] as number) + at(x, y, c);
        const count = (xb - xa) * (yb - ya);
        for (let c = 0; c < 3; c++) rgb[c] = (rgb[c] as number) / count;
      } else {
        const fx = x0 + (ox + 0.5) * scale - 0.5;
        const fy = y0 + (oy + 0.5) * scale - 0.5;
        const ix = Math.floor(fx);
        const iy = Math.floor(fy);
        const dx = fx - ix;
        const dy = fy - iy;
        for (let c = 0; c < 3; c++)
          rgb[c] =
            at(ix, iy, c) * (1 - dx) * (1 - dy) +
            at(ix + 1, iy, c) * dx * (1 - dy) +
            at(ix, iy + 1, c) * (1 - dx) * dy +
            at(ix + 1, iy + 1, c) * dx * dy;
      }
      const p = oy * size + ox;
      if (channels === 1) out[p] = 0.299 * (rgb[0] as number) + 0.587 * (rgb[1] as number) + 0.114 * (rgb[2] as number);
      else for (let c = 0; c < 3; c++) out[c * size * size + p] = rgb[c] as number;
    }
  }
  return out;
}
