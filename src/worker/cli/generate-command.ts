import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { CvaeError } from '../../shared/errors.js';
import { generateImages } from '../../shared/generation/generate.js';
import { ModelCache } from '../../shared/generation/model-cache.js';
import { RegistryReader } from '../../shared/registry/reader.js';
import { writeGrid } from '../eval/figures.js';
import { nodeRuntime } from '../onnx/runtime.js';
import { MODELS_DIR } from '../paths.js';
import { folderSource } from '../registry/folder-source.js';
import { readManifest } from '../registry/package.js';
import { intOption } from './options.js';

/**
 * `cvae generate "Make a dress"`: the API's generation core (src/shared/generation) on
 * onnxruntime-node, written as an upscaled PNG grid. Same model, prompt and seed → the same
 * images as the edge (image i uses seed + i).
 */
export function registerGenerate(program: Command): void {
  program
    .command('generate')
    .description('draw images for a short-text prompt with an exported model (default: the bundled fashion-conv)')
    .argument('<prompt>', 'e.g. "Make a dress"')
    .option('--model <dir>', 'model package folder', join(MODELS_DIR, 'fashion-conv'))
    .option('--n <n>', 'number of images (1–64)', intOption(1), 4)
    .option('--seed <n>', 'seed for z (image i uses seed + i)', intOption(0), 1)
    .option('--out <file>', 'PNG to write', 'generated.png')
    .action(async (prompt: string, flags: { model: string; n: number; seed: number; out: string }) => {
      if (flags.n > 64) throw new CvaeError('bad_option', '--n must be at most 64');
      const { id, version } = await readManifest(flags.model);
      const models = new ModelCache(new RegistryReader(await folderSource(dirname(flags.model))), nodeRuntime);
      const manifest = await models.manifest(id, version);
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
      await writeGrid(flags.out, cells, { rows: Math.ceil(flags.n / cols), cols, height, width, channels, scale: 4 });
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
