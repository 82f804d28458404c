import { CvaeError } from '../../shared/errors.js';
import { decodeFloat16 } from '../../shared/float16.js';
import type { RangeReader } from './range-reader.js';

/**
 * Reads tensors from a safetensors file (Hugging Face's weight format): an 8-byte little-endian
 * header length, a JSON header `{name: {dtype, shape, data_offsets: [begin, end]}}` (offsets into
 * the data after the header), then the raw little-endian data. Hand-written because the format is
 * a page long and npm has no maintained reader; reading goes through a `RangeReader`, so a remote
 * file is read in place with HTTP Range requests, only the tensors asked for.
 *
 * Every figure of the header is checked before it is trusted (a header is input: sizes, offsets
 * and dtypes), and values come back as float32 whatever they were stored as.
 */
export interface TensorEntry {
  dtype: string;
  shape: number[];
  /** absolute byte range in the file */
  begin: number;
  end: number;
}

export interface Safetensors {
  /** every tensor of the header, by name */
  entries: Map<string, TensorEntry>;
  /**
   * The named tensors as float32, read in one range from the first to the last of them (a
   * checkpoint stores one model's tensors side by side); `onBytes` reports bytes as they arrive.
   */
  read(names: string[], onBytes?: (received: number, total: number) => void): Promise<Map<string, Float32Array>>;
}

/** a header larger than this is not a weights file (CLIP ViT-L/14's whole header is ~40 KB) */
const MAX_HEADER_BYTES = 16 << 20;
const BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };

export async function openSafetensors(source: RangeReader): Promise<Safetensors> {
  const where = source.label;
  const bad = (why: string) => new CvaeError('clip_invalid', `${where} is not a safetensors file: ${why}`);
  if (source.size < 8) throw bad(`${source.size} bytes`);
  const head = await source.read(0, 8);
  const headerBytes = Number(new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true));
  if (headerBytes < 2 || headerBytes > MAX_HEADER_BYTES || 8 + headerBytes > source.size)
    throw bad(`header length ${headerBytes} (file ${source.size} bytes)`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(await source.read(8, headerBytes)));
  } catch (error) {
    throw bad(`its header is not JSON (${(error as Error).message})`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw bad('its header is not a JSON object');
  const dataStart = 8 + headerBytes;
  const entries = new Map<string, TensorEntry>();
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const v = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const shape = v.shape;
    const offsets = v.data_offsets;
    if (
      typeof v.dtype !== 'string' ||
      !Array.isArray(shape) ||
      !shape.every((d) => Number.isSafeInteger(d) && d >= 0) ||
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[0] > offsets[1] ||
      dataStart + offsets[1] > source.size
    )
      throw bad(`tensor ${name.slice(0, 120)} has a malformed entry`);
    entries.set(name, { dtype: v.dtype, shape, begin: dataStart + offsets[0], end: dataStart + offsets[1] });
  }

  return {
    entries,
    async read(names, onBytes) {
      const wanted = names.map((name) => {
        const e = entries.get(name);
        if (!e) throw new CvaeError('clip_invalid', `${where} has no tensor ${name}`);
        const size = BYTES[e.dtype];
        if (!size)
          throw new CvaeError(
            'clip_invalid',
            `${where}: tensor ${name} is ${e.dtype.slice(0, 16)}; only F32, F16 and BF16 weights can be read`,
          );
        const count = e.shape.reduce((a, b) => a * b, 1);
        if (count * size !== e.end - e.begin)
          throw bad(`tensor ${name} holds ${e.end - e.begin} bytes for ${count} ${e.dtype} values`);
        return { name, e, count };
      });
      if (wanted.length === 0) return new Map();
      const from = Math.min(...wanted.map((w) => w.e.begin));
      const to = Math.max(...wanted.map((w) => w.e.end));
      const span = await source.read(from, to - from, onBytes);
      const out = new Map<string, Float32Array>();
      for (const { name, e, count } of wanted) out.set(name, toFloat32(span, e.begin - from, count, e.dtype));
      return out;
    },
  };
}

function toFloat32(span: Uint8Array, offset: number, count: number, dtype: string): Float32Array {
  const view = new DataView(span.buffer, span.byteOffset + offset, count * (BYTES[dtype] as number));
  const out = new Float32Array(count);
  if (dtype === 'F32') for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
  else if (dtype === 'F16') decodeFloat16(span.subarray(offset, offset + 2 * count), out);
  else {
    // bfloat16: the upper half of a float32
    const bits = new Uint32Array(1);
    const f = new Float32Array(bits.buffer);
    for (let i = 0; i < count; i++) {
      bits[0] = view.getUint16(2 * i, true) << 16;
      out[i] = f[0] as number;
    }
  }
  return out;
}
