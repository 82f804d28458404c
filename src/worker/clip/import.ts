import { basename } from 'node:path';
import type { Manifest } from '../../shared/manifest.js';
import { sha256 } from '../registry/package.js';
import { applyClipImport, type CheckpointLayout, planClipImport } from './checkpoint-layout.js';
import { writeClipGraphPackage } from './graph-package.js';
import { fileRangeReader, httpRangeReader } from './range-reader.js';
import { openSafetensors } from './safetensors.js';
import { buildClipTextModel, type ClipTextConfig, namedWeights } from './text-graph.js';

/**
 * `cvae clip import`: the trained CLIP text encoder from a safetensors checkpoint (Hugging Face's
 * `openai/clip-vit-base-patch32` model.safetensors, or any CLIP checkpoint with Hugging Face's or
 * OpenAI's parameter names), written as this project's own text graph: the same ONNX as
 * `cvae clip generate` writes, with the checkpoint's weights. So real CLIP gets what the generated
 * one has: the full graph for training and the GPU server, and the edge's compact form (which
 * reads weights by this graph's names; an ONNX exported by another tool has other names).
 */
export interface ImportedClip {
  manifest: Manifest;
  layout: CheckpointLayout;
  config: ClipTextConfig;
}

export async function importClipPackage(opts: {
  /** a local .safetensors file or its http(s) URL (read with Range requests) */
  from: string;
  out: string;
  vocab: string;
  /** default: "import-" and the first 12 hex digits of the graph's sha256 (same weights, same version) */
  version?: string;
  /** attention heads (default: width / 64, CLIP's rule) */
  heads?: number;
  compact?: boolean;
  log?: (line: string) => void;
  onBytes?: (received: number, total: number) => void;
  fetchImpl?: typeof fetch;
}): Promise<ImportedClip> {
  const log = opts.log ?? (() => {});
  const remote = /^https?:\/\//.test(opts.from);
  const source = remote ? await httpRangeReader(opts.from, opts.fetchImpl) : await fileRangeReader(opts.from);
  const file = await openSafetensors(source);
  const plan = planClipImport(file.entries, opts.from, opts.heads);
  const { config, layout } = plan;
  const sources = [...new Set([...plan.takes.values()].map((t) => t.source))];
  log(
    `${basename(opts.from)}: CLIP text tower in ${layout} names (width ${config.width}, ${config.layers} layers, ${config.heads} heads, ${config.embedDim}-d); reading ${sources.length} tensors`,
  );
  const tensors = await file.read(sources, opts.onBytes);
  const weights = applyClipImport(plan, tensors, file.entries);
  const doc = `CLIP text transformer imported from ${basename(opts.from)} (${layout} names)`;
  const graph = buildClipTextModel(config, { source: namedWeights(weights), doc });
  const manifest = await writeClipGraphPackage(graph, {
    vocab: opts.vocab,
    out: opts.out,
    version: opts.version ?? `import-${sha256(graph).slice(0, 12)}`,
    description: `${doc}: width ${config.width}, ${config.layers} layers, ${config.heads} heads`,
    command: `cvae clip import --from ${opts.from}${opts.heads ? ` --heads ${opts.heads}` : ''}`,
    compact: opts.compact === false ? false : 'optional',
    log,
  });
  return { manifest, layout, config };
}
