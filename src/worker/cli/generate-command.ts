import { join } from 'node:path';
import type { Command } from 'commander';
import { CvaeError } from '../../shared/errors.js';
import { generateImages } from '../../shared/generation/generate.js';
import { writeGrid } from '../eval/figures.js';
import { MODELS_DIR } from '../paths.js';
import { intOption } from './options.js';
import { packageModels } from './package-models.js';

/**
 * `cvae generate "Make a dress"` (or a caption, with a long-text package): the API's generation core (src/shared/generation) on
 * onnxruntime-node, written as an upscaled PNG grid. Same model, prompt and seed → the same
 * images as the edge (image i uses seed + i).
 */
export function registerGenerate(program: Command): void {
  program
    .command('generate')
    .description(
      'draw images for a prompt with an exported model, short or long text (default: the bundled fashion-conv)',
    )
    .argument('<prompt>', 'e.g. "Make a dress", or a caption for a long-text model')
    .option('--model <dir>', 'model package folder', join(MODELS_DIR, 'fashion-conv'))
    .option(
      '--clip <dir>',
      "a long-text model's text-encoder package (default: the generated ViT-B/32-size graph, seed 1)",
    )
    .option('--n <n>', 'number of images (1–64)', intOption(1), 4)
    .option('--seed <n>', 'seed for z (image i uses seed + i)', intOption(0), 1)
    .option('--out <file>', 'PNG to write', 'generated.png')
    .action(async (prompt: string, flags: { model: string; clip?: string; n: number; seed: number; out: string }) => {
      if (flags.n > 64) throw new CvaeError('bad_option', '--n must be at most 64');
      const { models, manifest } = await packageModels(flags.model, flags.clip);
      const { batch, condition, seeds } = await generateImages(models, manifest, {
        prompt,
        n: flags.n,
        seed: flags.seed,
      });
      const { height, width, channels } = batch;
      const size = height * width;
      const cells = Array.from({ length: batch.n }, (_, i) => {
        // NCHW → HWC per image
        const cell = new Float32Array(size * channels);
        for (let c = 0; c < channels; c++)
          for (let p = 0; p < size; p++) cell[p * channels + c] = batch.data[(i * channels + c) * size + p] as number;
        return cell;
      });
      const cols = Math.min(flags.n, 8);
      // small images upscaled for viewing (28 px ×4, 64 px ×2), 128 px and up as drawn
      const scale = Math.max(1, Math.floor(128 / width));
      await writeGrid(flags.out, cells, { rows: Math.ceil(flags.n / cols), cols, height, width, channels, scale });
      console.log(
        JSON.stringify({
          out: flags.out,
          model: `${manifest.id}@${manifest.version}`,
          condition,
          seeds,
        }),
      );
    });
}
