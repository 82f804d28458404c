import type { Command } from 'commander';
import { CvaeError } from '../../shared/errors.js';
import { probePrompts } from '../lab/caption-following.js';
import { captionFollowingOf, formatCaptionFollowing, formatColours } from '../lab/caption-following-run.js';
import { intOption } from './options.js';
import { packageModels } from './package-models.js';
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
      const { models, manifest } = await packageModels(dir, flags.clip);
      if (manifest.task !== 'long-text') throw new CvaeError('bad_option', `${manifest.id} is not a long-text model`);
      const bar = createBar('probe captions', probePrompts().length);
      const score = await captionFollowingOf(models, manifest, flags.samples, (done) => bar.update(done));
      bar.stop();
      // the per-colour lines first: scripts read the summary as the last line
      console.error(`colour by colour asked:\n${formatColours(score).join('\n')}`);
      console.log(`${manifest.id}@${manifest.version}: ${formatCaptionFollowing(score)}`);
    });
}
