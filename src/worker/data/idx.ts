import { gunzipSync } from 'node:zlib';
import { CvaeError } from '../../shared/errors.js';

/**
 * IDX files (LeCun's MNIST format, used by Fashion-MNIST): a 4-byte magic (0x0000, a type byte,
 * the number of dimensions), one big-endian uint32 per dimension, then the data. Only unsigned
 * bytes (type 0x08) occur in these datasets.
 */
export interface IdxArray {
  shape: number[];
  data: Uint8Array;
}

const GZIP_MAGIC = [0x1f, 0x8b];
const UBYTE = 0x08;

function isGzip(bytes: Uint8Array): boolean {
  return bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1];
}

/** Parses an IDX file, gunzipping first if needed. `name` is used in every error message. */
export function parseIdx(raw: Uint8Array, name: string): IdxArray {
  let bytes = raw;
  if (isGzip(raw)) {
    try {
      bytes = new Uint8Array(gunzipSync(raw));
    } catch (error) {
      throw new CvaeError(
        'dataset_corrupt',
        `${name}: gzip data is corrupt or truncated (${(error as Error).message})`,
      );
    }
  }
  if (bytes.length < 4)
    throw new CvaeError('dataset_corrupt', `${name}: file is too short to be IDX (${bytes.length} bytes)`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new CvaeError(
      'dataset_corrupt',
      `${name}: wrong magic number (first bytes ${hex(bytes.subarray(0, 4))}, expected 00 00 08 0N)`,
    );
  }
  if (bytes[2] !== UBYTE)
    throw new CvaeError('dataset_corrupt', `${name}: unsupported IDX data type 0x${hex(bytes.subarray(2, 3))}`);
  const dims = bytes[3] as number;
  const headerSize = 4 + 4 * dims;
  if (dims === 0 || bytes.length < headerSize) throw new CvaeError('dataset_corrupt', `${name}: truncated IDX header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape = Array.from({ length: dims }, (_, i) => view.getUint32(4 + 4 * i, false));
  const expected = shape.reduce((a, b) => a * b, 1);
  const actual = bytes.length - headerSize;
  if (actual !== expected) {
    throw new CvaeError(
      'dataset_corrupt',
      `${name}: header says [${shape.join(', ')}] = ${expected} bytes of data, file has ${actual}` +
        (actual < expected ? ' (truncated)' : ''),
    );
  }
  return { shape, data: bytes.subarray(headerSize) };
}

/** Writes an IDX file (used by tests and fixtures). */
export function encodeIdx(shape: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * shape.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = UBYTE;
  out[3] = shape.length;
  shape.forEach((d, i) => {
    view.setUint32(4 + 4 * i, d, false);
  });
  out.set(data, 4 + 4 * shape.length);
  return out;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}
