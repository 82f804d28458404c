import type { ParamInfo } from '../../shared/arch/shapes.js';

/**
 * All of a model's tensors in one flat Float32Array: trainable parameters first (so the
 * optimiser runs one loop over one contiguous range), then state such as batch-norm moving
 * averages. The trainer and its replicas share this buffer.
 */
export interface ParamLayout {
  entries: { name: string; shape: number[]; offset: number; length: number; trainable: boolean }[];
  trainableSize: number;
  totalSize: number;
}

export function paramLayout(params: ParamInfo[]): ParamLayout {
  const ordered = [...params.filter((p) => p.trainable), ...params.filter((p) => !p.trainable)];
  let offset = 0;
  let trainableSize = 0;
  const entries = ordered.map((p) => {
    const length = p.shape.reduce((a, b) => a * b, 1);
    const entry = { name: p.name, shape: p.shape, offset, length, trainable: p.trainable };
    offset += length;
    if (p.trainable) trainableSize = offset;
    return entry;
  });
  return { entries, trainableSize, totalSize: offset };
}

export function flatten(layout: ParamLayout, values: Record<string, Float32Array>, out: Float32Array): Float32Array {
  for (const e of layout.entries) {
    const v = values[e.name];
    if (!v || v.length !== e.length)
      throw new Error(`tensor ${e.name}: expected ${e.length} values, got ${v?.length ?? 'none'}`);
    out.set(v, e.offset);
  }
  return out;
}

export function unflatten(
  layout: ParamLayout,
  flat: Float32Array,
  trainableOnly = false,
): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const e of layout.entries) {
    if (trainableOnly && !e.trainable) continue;
    out[e.name] = flat.slice(e.offset, e.offset + e.length);
  }
  return out;
}
