import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeCvae, WHITENING } from '../../shared/arch/shapes.js';
import type { CvaeSpec } from '../../shared/arch/spec.js';
import { initialValues } from '../model/weights.js';

/**
 * A checkpoint is two files in the run folder: `checkpoint.json` (metadata, history, the tensor
 * index) and `checkpoint.bin` (all float32 tensors back to back, little-endian). Both are written
 * to temporary names and renamed, bin first, so a crash mid-write leaves the previous checkpoint.
 */
/** Weights by parameter name, and the optimiser's moments where training can resume. */
export interface ModelState {
  values: Record<string, Float32Array>;
  adam: { step: number; m: Record<string, Float32Array>; v: Record<string, Float32Array> } | undefined;
}

export interface CheckpointMeta<H = unknown> {
  format: 'cvae-checkpoint/1';
  specId: string;
  /** epochs completed */
  epoch: number;
  config: Record<string, unknown>;
  history: H[];
  tensors: { name: string; offset: number; length: number }[];
  adamStep: number;
  savedAt: string;
}

const JSON_NAME = 'checkpoint.json';
const BIN_NAME = 'checkpoint.bin';

export function hasCheckpoint(dir: string): boolean {
  return existsSync(join(dir, JSON_NAME)) && existsSync(join(dir, BIN_NAME));
}

export async function saveCheckpoint<H>(
  dir: string,
  spec: CvaeSpec,
  state: ModelState,
  meta: { epoch: number; config: Record<string, unknown>; history: H[] },
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const entries: [string, Float32Array][] = [];
  for (const [name, v] of Object.entries(state.values)) entries.push([name, v]);
  if (state.adam) {
    for (const [name, v] of Object.entries(state.adam.m)) entries.push([`adam.m.${name}`, v]);
    for (const [name, v] of Object.entries(state.adam.v)) entries.push([`adam.v.${name}`, v]);
  }
  const total = entries.reduce((n, [, v]) => n + v.length, 0);
  const bin = new Float32Array(total);
  const tensors: CheckpointMeta['tensors'] = [];
  let offset = 0;
  for (const [name, v] of entries) {
    bin.set(v, offset);
    tensors.push({ name, offset, length: v.length });
    offset += v.length;
  }
  const json: CheckpointMeta<H> = {
    format: 'cvae-checkpoint/1',
    specId: spec.id,
    epoch: meta.epoch,
    config: meta.config,
    history: meta.history,
    tensors,
    adamStep: state.adam?.step ?? 0,
    savedAt: new Date().toISOString(),
  };
  await writeFile(join(dir, `${BIN_NAME}.tmp`), new Uint8Array(bin.buffer));
  await writeFile(join(dir, `${JSON_NAME}.tmp`), JSON.stringify(json, null, 2));
  await rename(join(dir, `${BIN_NAME}.tmp`), join(dir, BIN_NAME));
  await rename(join(dir, `${JSON_NAME}.tmp`), join(dir, JSON_NAME));
}

export async function loadCheckpoint<H>(
  dir: string,
  spec: CvaeSpec,
): Promise<{ meta: CheckpointMeta<H>; state: ModelState }> {
  const meta = JSON.parse(await readFile(join(dir, JSON_NAME), 'utf8')) as CheckpointMeta<H>;
  if (meta.format !== 'cvae-checkpoint/1') throw new Error(`${dir}: unknown checkpoint format ${meta.format}`);
  if (meta.specId !== spec.id) throw new Error(`${dir}: checkpoint is for ${meta.specId}, not ${spec.id}`);
  const raw = await readFile(join(dir, BIN_NAME));
  const bin = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const values: Record<string, Float32Array> = {};
  const m: Record<string, Float32Array> = {};
  const v: Record<string, Float32Array> = {};
  for (const t of meta.tensors) {
    if (t.offset + t.length > bin.length) throw new Error(`${dir}: ${BIN_NAME} is truncated`);
    const data = bin.slice(t.offset, t.offset + t.length);
    if (t.name.startsWith('adam.m.')) m[t.name.slice(7)] = data;
    else if (t.name.startsWith('adam.v.')) v[t.name.slice(7)] = data;
    else values[t.name] = data;
  }
  const params = describeCvae(spec).params;
  // Checkpoints from before the condition's whitening existed were trained without it: the
  // identity map (its unfitted value) reproduces them exactly.
  Object.assign(
    values,
    initialValues(
      params.filter((p) => !values[p.name] && Object.values<string>(WHITENING).includes(p.name)),
      0,
    ),
  );
  for (const p of params) {
    if (!values[p.name]) throw new Error(`${dir}: checkpoint has no tensor ${p.name}`);
  }
  const hasAdam = Object.keys(m).length > 0;
  return { meta, state: { values, adam: hasAdam ? { step: meta.adamStep, m, v } : undefined } };
}
