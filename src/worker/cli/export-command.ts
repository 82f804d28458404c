import { type Command, Option } from 'commander';
import { ARCHITECTURE_IDS, architecture } from '../../shared/arch/catalogue.js';
import { roundToFloat16 } from '../../shared/float16.js';
import type { Manifest } from '../../shared/manifest.js';
import { chooseTextEncoder, encoderIdentity } from '../data/training-data.js';
import type { ExtractorChoice } from '../eval/extractors.js';
import { scoreModel } from '../eval/score.js';
import type { WeightType } from '../onnx/graph-builder.js';
import { defaultVersion, writeModelPackage } from '../registry/package.js';
import { initBackend } from '../tf/backend.js';
import { loadCheckpoint } from '../train/checkpoint.js';
import type { EpochRecord } from '../train/trainer.js';
import { addDataOptions, checkpointData, type DataFlags, type DataRecord } from './data-options.js';
import { addFidOptions, intOption, numberOption } from './options.js';

/** This command's arguments, without --trained-by (recorded on its own). */
function exportArgs(): string[] {
  const args = process.argv.slice(2);
  const at = args.findIndex((a) => a === '--trained-by' || a.startsWith('--trained-by='));
  if (at < 0) return args;
  return [...args.slice(0, at), ...args.slice(at + (args[at]?.includes('=') ? 1 : 2))];
}

export function registerExport(program: Command): void {
  addDataOptions(
    addFidOptions(
      program
        .command('export')
        .description('export a trained checkpoint as a model package: decoder.onnx, encoder.onnx, manifest.json')
        .argument('<model>', `architecture id: ${ARCHITECTURE_IDS.join(' | ')}`)
        .option('--from <dir>', 'run folder with checkpoint.json (default: runs/<model>)')
        .option('--out <dir>', 'package folder (default: dist/models/<model>/<version>)')
        .option('--id <id>', 'registry id of the package (default: the architecture id)')
        .option('--version <v>', 'version name (default: a UTC timestamp, v20261127-065500)')
        .option('--no-evaluate', 'skip scoring on held-out images (the manifest then has no metrics)')
        .option('--test-limit <n>', 'score on the first n held-out images only', intOption(2))
        .option('--trained-by <command>', 'the command that trained the checkpoint, recorded in the manifest')
        .option(
          '--sampling-temperature <t>',
          'generations draw z ~ N(0, t² I); recorded in the manifest, used when scoring (default 1)',
          numberOption(0),
        )
        .addOption(
          new Option('--weights <type>', 'weight storage: float16 halves the files (the edge bundle uses it)')
            .choices(['float32', 'float16'])
            .default('float32'),
        ),
    ),
  ).action(
    async (
      model: string,
      flags: ExtractorChoice &
        DataFlags & {
          from?: string;
          out?: string;
          id?: string;
          version?: string;
          evaluate: boolean;
          testLimit?: number;
          trainedBy?: string;
          samplingTemperature?: number;
          weights: WeightType;
        },
    ) => {
      const spec = architecture(model);
      const backend = await initBackend();
      const from = flags.from ?? `runs/${spec.id}`;
      const { meta, state } = await loadCheckpoint<EpochRecord>(from, spec);
      const recorded = meta.config.data as DataRecord | undefined;
      // score exactly the weights the files will hold
      const values =
        flags.weights === 'float16'
          ? Object.fromEntries(Object.entries(state.values).map(([k, v]) => [k, roundToFloat16(v)]))
          : state.values;
      const version = flags.version ?? defaultVersion();
      let metrics: Manifest['metrics'];
      let textEncoder: ReturnType<typeof encoderIdentity> | undefined = recorded?.textEncoder;
      if (flags.evaluate) {
        const data = await checkpointData(spec, recorded, flags, flags.testLimit);
        console.error(`${spec.id}: scoring on ${data.eval.count} held-out images…`);
        metrics = (await scoreModel(spec, values, data.eval, flags, 1, flags.samplingTemperature)).metrics;
        if (data.textEncoder) textEncoder = encoderIdentity(data.textEncoder);
      } else if (spec.task === 'long-text' && !textEncoder) {
        textEncoder = encoderIdentity(await chooseTextEncoder(flags.clip));
      }
      const id = flags.id ?? spec.id;
      const out = flags.out ?? `dist/models/${id}/${version}`;
      const manifest = await writeModelPackage(out, {
        spec: { ...spec, id },
        values,
        version,
        weights: flags.weights,
        metrics,
        ...(flags.samplingTemperature === undefined ? {} : { samplingTemperature: flags.samplingTemperature }),
        ...(textEncoder ? { textEncoder } : {}),
        training: {
          architecture: spec.id,
          config: meta.config,
          seed: Number(meta.config.seed ?? 0),
          backend: backend.label,
          epochs: meta.epoch,
        },
        command: [flags.trainedBy, `cvae ${exportArgs().join(' ')}`].filter(Boolean).join(' && '),
      });
      console.log(
        JSON.stringify(
          {
            out,
            id: manifest.id,
            version: manifest.version,
            files: manifest.files.map((f) => `${f.name} ${f.bytes} B`),
            ...(manifest.textEncoder ? { textEncoder: manifest.textEncoder } : {}),
            metrics,
          },
          null,
          2,
        ),
      );
    },
  );
}
