import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLIP_VOCAB_PATH, generateClipPackage } from '../../src/worker/clip/local-encoder.js';
import { MODELS_DIR } from '../../src/worker/paths.js';

/** A registry folder with the shipped fashion-conv and the tiny generated CLIP (full graph only). */
export async function tinyRegistry(prefix: string): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), prefix));
  cpSync(join(MODELS_DIR, 'fashion-conv'), join(root, 'fashion-conv'), { recursive: true });
  await generateClipPackage({
    config: 'tiny',
    seed: 1,
    vocab: CLIP_VOCAB_PATH,
    out: join(root, 'clip'),
    compact: false,
  });
  return root;
}
