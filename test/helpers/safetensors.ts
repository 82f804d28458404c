import { toFloat16Bits } from '../../src/shared/float16.js';

/** A safetensors file as Hugging Face's writer lays it out (header padded to 8 bytes), for tests. */
export interface StTensor {
  name: string;
  shape: number[];
  values: Float32Array | BigInt64Array;
  dtype?: 'F32' | 'F16' | 'BF16' | 'I64';
}

export function writeSafetensors(tensors: StTensor[]): Uint8Array {
  const blobs: Uint8Array[] = [];
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const t of tensors) {
    const dtype = t.dtype ?? 'F32';
    const blob = encode(t.values, dtype);
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + blob.length] };
    offset += blob.length;
    blobs.push(blob);
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const b of blobs) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

function encode(values: Float32Array | BigInt64Array, dtype: NonNullable<StTensor['dtype']>): Uint8Array {
  if (dtype === 'I64') return new Uint8Array((values as BigInt64Array).slice().buffer);
  const floats = values as Float32Array;
  if (dtype === 'F32') return new Uint8Array(floats.slice().buffer);
  const out = new Uint8Array(floats.length * 2);
  const view = new DataView(out.buffer);
  const bits = new Uint32Array(new Float32Array(floats).buffer);
  for (let i = 0; i < floats.length; i++)
    view.setUint16(2 * i, dtype === 'F16' ? toFloat16Bits(floats[i] as number) : (bits[i] as number) >>> 16, true);
  return out;
}
