import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { CvaeError } from '../../shared/errors.js';
import { parsePrompt } from '../../shared/prompt/parse-prompt.js';
import { createRng, normalArray } from '../../shared/random.js';
import { MODELS_DIR } from '../eval/classifier-store.js';
import { writeGrid } from '../eval/figures.js';
import { ort } from '../onnx/runtime.js';
import { verifyPackage } from '../registry/package.js';
import { intOption } from './options.js';

/** `cvae generate "Make a dress"`: prompt → class → z ~ N(0, I) (seeded) → decoder.onnx → PNG grid. */
export function registerGenerate(program: Command): void {
  program
    .command('generate')
    .description('draw images for a short-text prompt with an exported model (default: the bundled fashion-conv)')
    .argument('<prompt>', 'e.g. "Make a dress"')
    .option('--model <dir>', 'model package folder', join(MODELS_DIR, 'fashion-conv'))
    .option('--n <n>', 'number of images (1–64)', intOption(1), 4)
    .option('--seed <n>', 'seed for z (same seed, same images)', intOption(0), 1)
    .option('--out <file>', 'PNG to write', 'generated.png')
    .action(async (prompt: string, flags: { model: string; n: number; seed: number; out: string }) => {
      if (flags.n > 64) throw new CvaeError('bad_option', '--n must be at most 64');
      const manifest = await verifyPackage(flags.model);
      if (manifest.task !== 'short-text' || !manifest.image || !manifest.latentDim) {
        throw new CvaeError('wrong_model', `${manifest.id} is not a short-text image model`);
      }
      const reading = parsePrompt(prompt);
      const session = await ort.InferenceSession.create(
        new Uint8Array(await readFile(join(flags.model, 'decoder.onnx'))),
      );
      const { height, width, channels } = manifest.image;
      const z = normalArray(createRng(flags.seed), flags.n * manifest.latentDim);
      const out = await session.run({
        z: new ort.Tensor('float32', z, [flags.n, manifest.latentDim]),
        label: new ort.Tensor('int64', new BigInt64Array(flags.n).fill(BigInt(reading.classIndex)), [flags.n]),
      });
      await session.release();
      const nchw = (out.image as ort.Tensor).data as Float32Array;
      const size = height * width;
      const cells = Array.from({ length: flags.n }, (_, i) => {
        // NCHW → HWC per image
        const cell = new Float32Array(size * channels);
        for (let c = 0; c < channels; c++)
          for (let p = 0; p < size; p++) cell[p * channels + c] = nchw[(i * channels + c) * size + p] as number;
        return cell;
      });
      const cols = Math.min(flags.n, 8);
      await writeGrid(flags.out, cells, { rows: Math.ceil(flags.n / cols), cols, height, width, channels, scale: 4 });
      console.log(
        JSON.stringify({
          out: flags.out,
          model: `${manifest.id}@${manifest.version}`,
          class: reading.className,
          matched: reading.matched,
          seed: flags.seed,
          n: flags.n,
        }),
      );
    });
}
