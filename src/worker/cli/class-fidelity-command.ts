import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { imageSeeds, priorNoise } from '../../shared/generation/generate.js';
import { latentModel } from '../../shared/generation/latent.js';
import { loadJudge } from '../eval/extractors.js';
import { classFidelity, formatClassFidelity } from '../lab/class-fidelity.js';
import { readManifest } from '../registry/package.js';
import { initBackend } from '../tf/backend.js';
import { intOption, numberOption } from './options.js';
import { packageModels } from './package-models.js';
import { createBar } from './progress.js';

const CHUNK = 250;

/**
 * `cvae experiment class-fidelity <package>`: does a short-text model draw the class it is asked
 * for? `--samples` images per class from the prior (seeds 1…n, as the API draws them), through the
 * package's own ONNX decoder, read by the blur-augmented judge.
 */
export function registerClassFidelity(experiment: Command): void {
  experiment
    .command('class-fidelity')
    .description("per-class accuracy and confusion of a short-text package's generations, read by models/fashion-judge")
    .argument('<package>', 'model package folder (cvae export --out, or models/fashion-conv)')
    .option('--samples <n>', 'images per class', intOption(1), 1000)
    .option(
      '--temperature <t>',
      "z ~ N(0, t² I) (default: the package's samplingTemperature, as the API draws; else 1)",
      numberOption(0),
    )
    .option('--out <file>', 'also write the Markdown tables to this file')
    .action(async (dir: string, flags: { samples: number; temperature?: number; out?: string }) => {
      await initBackend();
      const manifest = await readManifest(dir);
      const labels = manifest.labels ?? [];
      if (manifest.task !== 'short-text' || labels.length === 0) {
        throw new Error(`${manifest.id} is not a class-conditioned (short-text) model`);
      }
      const { models } = await packageModels(dir);
      const temperature = flags.temperature ?? manifest.samplingTemperature ?? 1;
      const judge = await loadJudge();
      const model = await latentModel(models, manifest);
      const asked: number[] = [];
      const read: number[] = [];
      const bar = createBar('generations judged', labels.length * flags.samples);
      let done = 0;
      for (const label of labels) {
        for (let start = 0; start < flags.samples; start += CHUNK) {
          const n = Math.min(CHUNK, flags.samples - start);
          const z = priorNoise(
            { ...manifest, samplingTemperature: temperature },
            imageSeeds(1 + start, n),
            model.latentDim,
          );
          const images = await model.decode(z, { labels: new Array(n).fill(label.index) });
          // one channel: NCHW and HWC are the same bytes
          const predicted = await judge.extractor.classify?.(images, n);
          if (!predicted) throw new Error('the judge cannot classify');
          for (const p of predicted) {
            asked.push(label.index);
            read.push(p);
          }
          done += n;
          bar.update(done);
        }
      }
      bar.stop();
      judge.extractor.dispose();
      const result = classFidelity(
        labels.map((l) => l.name),
        asked,
        read,
      );
      const header =
        `${manifest.id}@${manifest.version}: ${flags.samples} generations per class (z ~ N(0, ${temperature === 1 ? '' : `${temperature}² `}I), seeds 1…${flags.samples}), ` +
        `read by ${judge.meta.spec.id} (test accuracy ${(judge.meta.testAccuracy * 100).toFixed(1)}% real` +
        (judge.meta.blurredTestAccuracy === undefined
          ? ')'
          : `, ${(judge.meta.blurredTestAccuracy * 100).toFixed(1)}% blurred with sigma 1 px)`) +
        `. Command: \`cvae experiment class-fidelity ${dir} --samples ${flags.samples}${flags.temperature === undefined ? '' : ` --temperature ${flags.temperature}`}\`.`;
      const text = `${header}\n\n${formatClassFidelity(result)}\n`;
      console.log(text);
      if (flags.out) await writeFile(flags.out, text);
    });
}
