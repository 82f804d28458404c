import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeClassifier } from '../../shared/arch/shapes.js';
import type { ClassifierSpec } from '../../shared/arch/spec.js';
import type { BlurAugmentation } from './blur.js';

/**
 * The shipped classifier lives in models/<id>/ (src/worker/paths.ts): `weights.bin` (float32, little-endian, tensors
 * back to back in spec order) and `classifier.json` (spec, tensor index, test accuracy, the
 * command that made it).
 */

export interface ClassifierMeta {
  format: 'cvae-classifier/1';
  spec: ClassifierSpec;
  tensors: { name: string; shape: number[]; offset: number; length: number }[];
  testAccuracy: number;
  /** accuracy on the test images blurred with sigma 1 px (the judge reports it; blur.ts) */
  blurredTestAccuracy?: number;
  /** blur augmentation it was trained with, if any */
  augmentation?: BlurAugmentation;
  trainedWith: string;
  backend: string;
  createdAt: string;
}

export async function saveClassifier(
  dir: string,
  meta: Omit<ClassifierMeta, 'format' | 'tensors'>,
  values: Record<string, Float32Array>,
) {
  await mkdir(dir, { recursive: true });
  const params = describeClassifier(meta.spec).params;
  const total = params.reduce((n, p) => n + (values[p.name] as Float32Array).length, 0);
  const bin = new Float32Array(total);
  const tensors: ClassifierMeta['tensors'] = [];
  let offset = 0;
  for (const p of params) {
    const v = values[p.name] as Float32Array;
    bin.set(v, offset);
    tensors.push({ name: p.name, shape: p.shape, offset, length: v.length });
    offset += v.length;
  }
  await writeFile(join(dir, 'weights.bin'), new Uint8Array(bin.buffer));
  const full: ClassifierMeta = { format: 'cvae-classifier/1', ...meta, tensors };
  await writeFile(join(dir, 'classifier.json'), `${JSON.stringify(full, null, 2)}\n`);
}

export async function loadClassifier(
  dir: string,
): Promise<{ meta: ClassifierMeta; values: Record<string, Float32Array> }> {
  const meta = JSON.parse(await readFile(join(dir, 'classifier.json'), 'utf8')) as ClassifierMeta;
  if (meta.format !== 'cvae-classifier/1') throw new Error(`${dir}: unknown classifier format`);
  const raw = await readFile(join(dir, 'weights.bin'));
  const bin = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const values: Record<string, Float32Array> = {};
  for (const t of meta.tensors) {
    if (t.offset + t.length > bin.length) throw new Error(`${dir}/weights.bin is truncated`);
    values[t.name] = bin.slice(t.offset, t.offset + t.length);
  }
  return { meta, values };
}
