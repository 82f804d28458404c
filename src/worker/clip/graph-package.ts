import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CvaeError } from '../../shared/errors.js';
import type { Manifest } from '../../shared/manifest.js';
import { addCompactEncoder } from './compact.js';
import { CLIP_VOCAB_FILE, packageClip } from './publish.js';

/**
 * A text-encoder package folder from a CLIP text graph this project wrote (`cvae clip generate`,
 * `cvae clip import`): the graph and the vocabulary checked and packaged as `cvae clip publish`
 * does, then the edge's compact form beside it.
 */
export async function writeClipGraphPackage(
  graph: Uint8Array,
  opts: {
    vocab: string;
    out: string;
    version: string;
    description: string;
    command: string;
    /** false: the full graph only; 'optional': a compact form that cannot be made is logged, not fatal */
    compact: boolean | 'optional';
    log?: (line: string) => void;
  },
): Promise<Manifest> {
  const staging = await mkdtemp(join(tmpdir(), 'clip-graph-'));
  try {
    await writeFile(join(staging, 'text_model.onnx'), graph);
    await copyFile(opts.vocab, join(staging, CLIP_VOCAB_FILE));
    const { manifest } = await packageClip(staging, {
      out: opts.out,
      version: opts.version,
      description: opts.description,
      command: opts.command,
    });
    if (opts.compact === false) return manifest;
    try {
      return (await addCompactEncoder(opts.out, opts.log)).manifest;
    } catch (error) {
      const code = (error as CvaeError).code;
      if (opts.compact !== 'optional' || (code !== 'compact_parity' && code !== 'clip_invalid')) throw error;
      opts.log?.(`no compact form (${(error as Error).message}): the edge will send long text to the GPU server`);
      return manifest;
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
