import { zlibSync } from 'fflate';

/**
 * Decoder output → PNG bytes, in pure JS (fflate's deflate inside a minimal PNG writer), so
 * Workers, Node and browsers write byte-identical files for identical pixels.
 *
 * Decoders emit NCHW float32 in [0, 1]. Pixels are quantised with round-half-up of x·255 after
 * clamping; 1 channel is written as greyscale, 3 as RGB.
 */
export interface ImageBatch {
  /** NCHW, values in [0, 1] */
  data: Float32Array;
  n: number;
  channels: number;
  height: number;
  width: number;
}

/** One 8-bit interleaved image (HWC). */
export interface Pixels {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

const toByte = (x: number) => (x <= 0 ? 0 : x >= 1 ? 255 : Math.floor(x * 255 + 0.5));

/** Image `index` of a batch as 8-bit HWC. */
export function batchImage(batch: ImageBatch, index: number): Pixels {
  const { channels, height, width } = batch;
  const plane = height * width;
  const base = index * channels * plane;
  const out = new Uint8Array(plane * channels);
  for (let c = 0; c < channels; c++) {
    const from = base + c * plane;
    for (let p = 0; p < plane; p++) out[p * channels + c] = toByte(batch.data[from + p] as number);
  }
  return { data: out, width, height, channels };
}

/**
 * The batch as one grid image: up to `cols` per row (default: a near-square layout), `gap` pixels
 * of black between cells.
 */
export function batchGrid(batch: ImageBatch, opts: { cols?: number; gap?: number } = {}): Pixels {
  const cols = Math.max(1, Math.min(batch.n, opts.cols ?? Math.ceil(Math.sqrt(batch.n))));
  const rows = Math.ceil(batch.n / cols);
  const gap = opts.gap ?? 2;
  const { width: w, height: h, channels } = batch;
  const width = cols * w + (cols - 1) * gap;
  const height = rows * h + (rows - 1) * gap;
  const out = new Uint8Array(width * height * channels);
  for (let i = 0; i < batch.n; i++) {
    const cell = batchImage(batch, i).data;
    const x0 = (i % cols) * (w + gap);
    const y0 = Math.floor(i / cols) * (h + gap);
    for (let y = 0; y < h; y++) {
      out.set(cell.subarray(y * w * channels, (y + 1) * w * channels), ((y0 + y) * width + x0) * channels);
    }
  }
  return { data: out, width, height, channels };
}

/**
 * Images up to this many raw bytes are stored, not compressed. That is everything the edge draws
 * itself (128 px RGB is 48 KiB raw): Workers bill and cap CPU time, not bytes sent, and fflate's
 * deflate costs about 90 µs a call even for a 28 px image (most of such a request) and 1.5 ms at
 * 128 px (a fifth of one), to make the PNG about 4x smaller. Larger images (the GPU server's
 * 256 px, 192 KiB raw) are deflated at level 3.
 */
export const STORE_BELOW_BYTES = 64 * 1024;
const DEFLATE_LEVEL = 3;

/**
 * A PNG with one IDAT chunk, every row with filter type 0. Written here rather than with
 * fast-png because that library's own buffer handling costs more than the deflate at 128 px
 * (measured: 2.9 ms against 1.5 ms for the same bytes).
 */
export function encodePng(pixels: Pixels): Uint8Array {
  const { width, height, channels, data } = pixels;
  const colourType = COLOUR_TYPES[channels];
  if (colourType === undefined) throw new Error(`PNG needs 1, 3 or 4 channels, got ${channels}`);
  const stride = width * channels;
  const raw = new Uint8Array((stride + 1) * height); // a zero filter byte before each row
  for (let y = 0; y < height; y++) raw.set(data.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const idat = zlibSync(raw, { level: raw.length <= STORE_BELOW_BYTES ? 0 : DEFLATE_LEVEL });
  const out = new Uint8Array(SIGNATURE.length + 12 + 13 + 12 + idat.length + 12);
  const view = new DataView(out.buffer);
  out.set(SIGNATURE);
  let at = SIGNATURE.length;
  const chunk = (type: number, body: Uint8Array) => {
    view.setUint32(at, body.length);
    view.setUint32(at + 4, type);
    out.set(body, at + 8);
    view.setUint32(at + 8 + body.length, crc32(out, at + 4, at + 8 + body.length));
    at += 12 + body.length;
  };
  const header = new Uint8Array(13);
  const hv = new DataView(header.buffer);
  hv.setUint32(0, width);
  hv.setUint32(4, height);
  header[8] = 8; // bit depth; compression, filter and interlace methods stay 0
  header[9] = colourType;
  chunk(IHDR, header);
  chunk(IDAT, idat);
  chunk(IEND, new Uint8Array(0));
  return out;
}

const SIGNATURE = Uint8Array.of(137, 80, 78, 71, 13, 10, 26, 10);
const COLOUR_TYPES: Record<number, number> = { 1: 0, 3: 2, 4: 6 }; // greyscale, RGB, RGBA
const IHDR = 0x49484452;
const IDAT = 0x49444154;
const IEND = 0x49454e44;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (PNG's, ISO 3309) of bytes[from, to). */
export function crc32(bytes: Uint8Array, from = 0, to = bytes.length): number {
  let c = 0xffffffff;
  for (let i = from; i < to; i++) c = (CRC_TABLE[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const BASE64 = new TextEncoder().encode('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/');
const PAD = 61; // '='
const ascii = new TextDecoder();

/**
 * Standard base64 of bytes, without Buffer: a table lookup into ASCII bytes, decoded once.
 * (btoa over a binary string measured ~25x slower for a 1 KB PNG.)
 */
export function toBase64(bytes: Uint8Array): string {
  const out = new Uint8Array(Math.ceil(bytes.length / 3) * 4);
  const full = bytes.length - (bytes.length % 3);
  let o = 0;
  for (let i = 0; i < full; i += 3) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
    out[o++] = BASE64[n >>> 18] as number;
    out[o++] = BASE64[(n >>> 12) & 63] as number;
    out[o++] = BASE64[(n >>> 6) & 63] as number;
    out[o++] = BASE64[n & 63] as number;
  }
  const rest = bytes.length - full;
  if (rest > 0) {
    const n = ((bytes[full] as number) << 16) | (rest === 2 ? (bytes[full + 1] as number) << 8 : 0);
    out[o++] = BASE64[n >>> 18] as number;
    out[o++] = BASE64[(n >>> 12) & 63] as number;
    out[o++] = rest === 2 ? (BASE64[(n >>> 6) & 63] as number) : PAD;
    out[o++] = PAD;
  }
  return ascii.decode(out);
}
