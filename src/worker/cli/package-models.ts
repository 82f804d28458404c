import { ModelCache } from '../../shared/generation/model-cache.js';
import type { Manifest } from '../../shared/manifest.js';
import { packageSource } from '../../shared/registry/package-source.js';
import { RegistryReader } from '../../shared/registry/reader.js';
import { ensureGeneratedClip } from '../clip/local-encoder.js';
import { nodeRuntime } from '../onnx/runtime.js';
import { folderPackage } from '../registry/folder-source.js';
import { readManifest } from '../registry/package.js';

/**
 * One exported package as a generation core's model cache, for commands that take a package
 * folder: a long-text package also gets its text encoder (`clip`, default the generated
 * ViT-B/32-size graph, seed 1, which the shipped models were trained with). The cache checks the
 * encoder against the sha256 the package names, so a wrong `clip` is refused, not used.
 */
export async function packageModels(dir: string, clip?: string): Promise<{ models: ModelCache; manifest: Manifest }> {
  const manifest = await readManifest(dir);
  const packages = [folderPackage(dir, manifest)];
  if (manifest.task === 'long-text') {
    const clipDir = clip ?? (await ensureGeneratedClip('full', 1));
    packages.push(folderPackage(clipDir, await readManifest(clipDir)));
  }
  return { models: new ModelCache(new RegistryReader(packageSource('command line', packages)), nodeRuntime), manifest };
}
