import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CvaeError } from '../../shared/errors.js';
import { toFloat16Bits } from '../../shared/float16.js';
import { ModelCache } from '../../shared/generation/model-cache.js';
import { type Manifest, parseManifest } from '../../shared/manifest.js';
import { cosine } from '../../shared/metrics/cosine.js';
import { packageSource } from '../../shared/registry/package-source.js';
import { RegistryReader } from '../../shared/registry/reader.js';
import { nodeRuntime } from '../onnx/runtime.js';
import { folderPackage } from '../registry/folder-source.js';
import { MANIFEST_FILE, sha256, verifyPackage } from '../registry/package.js';
import { buildCompactClipText, namedWeights, readClipTextWeights } from './text-graph.js';

/**
 * `cvae clip compact`: adds the edge's form of a text encoder to its package folder, beside the
 * full graph (which the GPU server and training keep using, and whose sha256 models cite):
 *  - text-encoder-compact.onnx + .weights: the transformer with int8 matrices, token rows in,
 *    dynamic length (src/worker/clip/text-graph.ts), weights as external data;
 *  - token-embeddings.f16: the token table, float16 rows, read by the edge a shard at a time;
 *  - token-embeddings.sha256: one digest per shard, so every shard is checked before use.
 * Then both forms embed calibration captions through the serving code and the compact one is
 * refused if it strays (cosine below MIN_COSINE on any).
 */
export const COMPACT_GRAPH = 'text-encoder-compact.onnx';
export const COMPACT_WEIGHTS = 'text-encoder-compact.weights';
export const TOKEN_TABLE = 'token-embeddings.f16';
export const TOKEN_INDEX = 'token-embeddings.sha256';
/** 64 rows × 512 float16 = 64 KiB a shard: a caption's shards in one or two dozen range reads */
export const SHARD_ROWS = 64;
export const MIN_COSINE = 0.995;

const COMPACT_ROLES = new Set(['text-encoder-compact', 'weights', 'token-embeddings', 'token-embeddings-index']);

/** Captions of several lengths and kinds, embedded by both forms to check the compact one. */
export const CALIBRATION_CAPTIONS = [
  'A large red circle at the top left. A small blue square below it.',
  'a photo of a cat sitting on a wooden table next to a laptop computer',
  'Two men riding horses on a beach at sunset while a dog runs behind them in the waves.',
  'green',
  'A yellow triangle in the centre on a black background.',
  'A kitchen with white cabinets, a stainless steel refrigerator and a window over the sink.',
  'a red double decker bus driving down a busy street in London',
  'Several people standing around a table covered with plates of food and glasses of wine at a party.',
];

export interface CompactReport {
  manifest: Manifest;
  /** cosine similarity of each calibration caption's embedding, compact against full */
  cosines: number[];
  bytes: { graph: number; weights: number; table: number };
}

export async function addCompactEncoder(dir: string, log: (line: string) => void = () => {}): Promise<CompactReport> {
  const manifest = await verifyPackage(dir);
  const full = manifest.files.find((f) => f.role === 'text-encoder');
  if (manifest.task !== 'text-encoder' || !full) {
    throw new CvaeError('clip_invalid', `${dir} is not a text-encoder package (task ${manifest.task})`);
  }
  let read: ReturnType<typeof readClipTextWeights>;
  try {
    read = readClipTextWeights(new Uint8Array(await readFile(join(dir, full.name))));
  } catch (error) {
    throw new CvaeError('clip_invalid', `${dir}/${full.name}: ${(error as Error).message}`);
  }
  const { weights, config } = read;
  log(
    `compacting ${manifest.id}@${manifest.version}: width ${config.width}, ${config.layers} layers, ${config.heads} heads`,
  );
  const { graph, data } = buildCompactClipText(config, namedWeights(weights), COMPACT_WEIGHTS);
  const { table, index } = tokenTable(weights.get('token_embedding') as Float32Array, config.vocab, config.width);

  const entries: Manifest['files'] = [
    {
      name: COMPACT_GRAPH,
      role: 'text-encoder-compact',
      bytes: graph.length,
      sha256: sha256(graph),
      externalData: COMPACT_WEIGHTS,
      inputs: [
        { name: 'inputs_embeds', type: 'float32', shape: ['batch', 'sequence', config.width] },
        { name: 'eot_index', type: 'int64', shape: ['batch'] },
      ],
      outputs: [{ name: 'text_embeds', type: 'float32', shape: ['batch', config.embedDim] }],
    },
    { name: COMPACT_WEIGHTS, role: 'weights', bytes: data.length, sha256: sha256(data) },
    {
      name: TOKEN_TABLE,
      role: 'token-embeddings',
      bytes: table.length,
      sha256: sha256(table),
      table: { rows: config.vocab, width: config.width, shardRows: SHARD_ROWS },
    },
    { name: TOKEN_INDEX, role: 'token-embeddings-index', bytes: index.length, sha256: sha256(index) },
  ];
  for (const [name, bytes] of [
    [COMPACT_GRAPH, graph],
    [COMPACT_WEIGHTS, data],
    [TOKEN_TABLE, table],
    [TOKEN_INDEX, index],
  ] as const)
    await writeFile(join(dir, name), bytes);
  const updated = parseManifest(
    { ...manifest, files: [...manifest.files.filter((f) => !COMPACT_ROLES.has(f.role)), ...entries] },
    join(dir, MANIFEST_FILE),
  );
  await writeFile(join(dir, MANIFEST_FILE), `${JSON.stringify(updated, null, 2)}\n`);

  const cosines = await compareForms(dir, updated);
  const worst = Math.min(...cosines);
  log(
    `compact form: ${(graph.length / 1024).toFixed(0)} KiB graph + ${(data.length / 2 ** 20).toFixed(1)} MiB int8 weights + ${(table.length / 2 ** 20).toFixed(1)} MiB float16 token table; cosine to the full graph on ${cosines.length} captions: mean ${(cosines.reduce((a, b) => a + b, 0) / cosines.length).toFixed(5)}, min ${worst.toFixed(5)}`,
  );
  if (!(worst >= MIN_COSINE)) {
    // leave the package as it was: a compact form that strays must not be served
    await writeFile(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    throw new CvaeError(
      'compact_parity',
      `the compact encoder's embeddings stray from the full graph's (cosine ${worst.toFixed(4)} < ${MIN_COSINE}); not adding it`,
    );
  }
  return { manifest: updated, cosines, bytes: { graph: graph.length, weights: data.length, table: table.length } };
}

/** float16 rows and the sha256 of each shard of SHARD_ROWS rows. */
export function tokenTable(
  values: Float32Array,
  rows: number,
  width: number,
): { table: Uint8Array; index: Uint8Array } {
  const table = new Uint8Array(rows * width * 2);
  const view = new DataView(table.buffer);
  for (let i = 0; i < rows * width; i++) view.setUint16(i * 2, toFloat16Bits(values[i] as number), true);
  const shards = Math.ceil(rows / SHARD_ROWS);
  const index = new Uint8Array(shards * 32);
  const shardBytes = SHARD_ROWS * width * 2;
  for (let s = 0; s < shards; s++) {
    index.set(
      createHash('sha256')
        .update(table.subarray(s * shardBytes, (s + 1) * shardBytes))
        .digest(),
      s * 32,
    );
  }
  return { table, index };
}

/** Calibration captions through the serving code (ModelCache over the folder), in both forms. */
async function compareForms(dir: string, manifest: Manifest): Promise<number[]> {
  const ref = `${manifest.id}@${manifest.version}`;
  const embed = async (cache: ModelCache) => {
    const encoder = await cache.textEncoder(ref);
    return Promise.all(CALIBRATION_CAPTIONS.map(async (c) => (await encoder.embed(c)).embedding));
  };
  const reader = new RegistryReader(packageSource(dir, [folderPackage(dir, manifest)]));
  const full = await embed(new ModelCache(reader, nodeRuntime));
  const compact = await embed(
    new ModelCache(reader, nodeRuntime, { textEncoder: { form: 'compact', maxBytes: Infinity } }),
  );
  return full.map((a, i) => cosine(a, compact[i] as Float32Array));
}
