import type { Command } from 'commander';
import { ModelCache } from '../../shared/generation/model-cache.js';
import { packageSource } from '../../shared/registry/package-source.js';
import { RegistryReader } from '../../shared/registry/reader.js';
import { ensureGeneratedClip } from '../clip/local-encoder.js';
import { probePrompts } from '../lab/caption-following.js';
import { captionFollowingOf, formatCaptionFollowing } from '../lab/caption-following-run.js';
import { nodeRuntime } from '../onnx/runtime.js';
import { folderPackage } from '../registry/folder-source.js';
import { readManifest } from '../registry/package.js';
import { intOption } from './options.js';
import { createBar } from './progress.js';

/**
 * `cvae experiment caption-following <package>`: how well an exported long-text model draws what
 * the synthetic set's probe captions ask for (background, position, colour, shape), with the text
 * encoder it names. For following a training run: export a checkpoint, then measure it.
 */
export function registerCaptionFollowing(experiment: Command): void {
  experiment
    .command('caption-following')
    .description(
      "read back a long-text package's generations of the probe captions: background, position, colour, shape",
    )
    .argument('<package>', 'model package folder (cvae export --out)')
    .option('--clip <dir>', 'its text-encoder package (default: the generated ViT-B/32-size graph, seed 1)')
    .option('--samples <n>', 'images per probe caption (seeds 1…n)', intOption(1), 4)
    .action(async (dir: string, flags: { clip?: string; samples: number }) => {
      const clipDir = flags.clip ?? (await ensureGeneratedClip('full', 1));
      const packages = await Promise.all([dir, clipDir].map(async (d) => folderPackage(d, await readManifest(d))));
      const models = new ModelCache(new RegistryReader(packageSource('command line', packages)), nodeRuntime);
      const manifest = packages[0]?.manifest as Awaited<ReturnType<typeof readManifest>>;
      const bar = createBar('probe captions', probePrompts().length);
      const score = await captionFollowingOf(models, manifest, flags.samples, (done) => bar.update(done));
      bar.stop();
      console.log(`${manifest.id}@${manifest.version}: ${formatCaptionFollowing(score)}`);
    });
}
