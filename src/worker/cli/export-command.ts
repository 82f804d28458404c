import { type Command, Option } from 'commander';
import type { Manifest } from '../../shared/manifest.js';
import { loadFashionMnist } from '../data/fashion-mnist.js';
import { evaluate, runModel } from '../eval/evaluate.js';
import { chooseExtractors, type ExtractorChoice } from '../eval/extractors.js';
import { testSet } from '../experiments/table1.js';
import { roundToFloat16 } from '../onnx/float16.js';
import type { WeightType } from '../onnx/graph-builder.js';
import { defaultVersion, writeModelPackage } from '../registry/package.js';
import { initBackend } from '../tf/backend.js';
import { loadCheckpoint } from '../train/checkpoint.js';
import type { EpochRecord } from '../train/trainer.js';
import { addFidOptions, intOption } from './options.js';
import { fashionSpec } from './train-command.js';

export function registerExport(program: Command): void {
  addFidOptions(
    program
      .command('export')
      .description('export a trained checkpoint as a model package: decoder.onnx, encoder.onnx, manifest.json')
      .argument('<model>', 'architecture id')
      .option('--from <dir>', 'run folder with checkpoint.json (default: runs/<model>)')
      .option('--out <dir>', 'package folder (default: dist/models/<model>/<version>)')
      .option('--version <v>', 'version name (default: a UTC timestamp, v20261127-065500)')
      .option('--no-evaluate', 'skip scoring on the test set (the manifest then has no metrics)')
      .option('--test-limit <n>', 'score on the first n test images only', intOption(2))
      .addOption(
        new Option('--weights <type>', 'weight storage: float16 halves the files (the edge bundle uses it)')
          .choices(['float32', 'float16'])
          .default('float32'),
      ),
  ).action(
    async (
      model: string,
      flags: ExtractorChoice & {
        from?: string;
        out?: string;
        version?: string;
        evaluate: boolean;
        testLimit?: number;
        weights: WeightType;
      },
    ) => {
      const spec = fashionSpec(model);
      const backend = await initBackend();
      const from = flags.from ?? `runs/${spec.id}`;
      const { meta, state } = await loadCheckpoint<EpochRecord>(from, spec);
      // score exactly the weights the files will hold
      const values =
        flags.weights === 'float16'
          ? Object.fromEntries(Object.entries(state.values).map(([k, v]) => [k, roundToFloat16(v)]))
          : state.values;
      const version = flags.version ?? defaultVersion();
      let metrics: Manifest['metrics'];
      if (flags.evaluate) {
        const extractors = await chooseExtractors(flags);
        const set = testSet(await loadFashionMnist(), flags.testLimit);
        console.error(`${spec.id}: scoring on ${set.count} test images…`);
        const r = await evaluate(await runModel(spec, values, set, 1), set, extractors.features, extractors.judge);
        extractors.dispose();
        metrics = {
          testImages: r.count,
          mse: r.posteriorMean.mse,
          mseSampled: r.sampled.mse,
          ssim: r.posteriorMean.ssimGaussian,
          ssimUniform7: r.posteriorMean.ssimUniform7,
          fid: r.fidGenerated,
          fidReconstructed: r.fidReconstructed,
          fidExtractor: r.fidExtractor,
          ...(r.classAccuracy === undefined ? {} : { classAccuracy: r.classAccuracy }),
        };
      }
      const out = flags.out ?? `dist/models/${spec.id}/${version}`;
      const manifest = await writeModelPackage(out, {
        spec,
        values,
        version,
        weights: flags.weights,
        metrics,
        training: {
          architecture: spec.id,
          config: meta.config,
          seed: Number(meta.config.seed ?? 0),
          backend: backend.label,
          epochs: meta.epoch,
        },
        command: `cvae ${process.argv.slice(2).join(' ')}`,
      });
      console.log(
        JSON.stringify(
          {
            out,
            id: manifest.id,
            version: manifest.version,
            files: manifest.files.map((f) => `${f.name} ${f.bytes} B`),
            metrics,
          },
          null,
          2,
        ),
      );
    },
  );
}
