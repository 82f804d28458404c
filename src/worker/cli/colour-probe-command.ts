import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { CvaeError } from '../../shared/errors.js';
import { colourProbe, formatColourProbe } from '../lab/colour-probe.js';
import { packageModels } from './package-models.js';

/**
 * `cvae experiment colour-probe <package>`: which layers of a long-text decoder carry the
 * caption's colour (src/worker/lab/colour-probe.ts), as a markdown table.
 */
export function registerColourProbe(experiment: Command): void {
  experiment
    .command('colour-probe')
    .description(
      "linear read-outs of the asked colour's R, G and B from each decoder layer of a long-text package: where the colour is lost",
    )
    .argument('<package>', 'model package folder (cvae export --out)')
    .option('--clip <dir>', 'its text-encoder package (default: the generated ViT-B/32-size graph, seed 1)')
    .action(async (dir: string, flags: { clip?: string }) => {
      const { models, manifest } = await packageModels(dir, flags.clip);
      const decoder = manifest.files.find((f) => f.role === 'decoder');
      if (manifest.task !== 'long-text' || !manifest.textEncoder || !decoder)
        throw new CvaeError('bad_option', `${manifest.id} is not a long-text model package`);
      const encoder = await models.textEncoder(manifest.textEncoder, manifest.textEncoderSha256);
      const probe = await colourProbe(
        new Uint8Array(await readFile(join(dir, decoder.name))),
        (c) => encoder.embedMany(c),
        {
          latentDim: manifest.latentDim ?? 128,
          embeddingDim: encoder.dim,
        },
      );
      console.log(
        `${manifest.id}@${manifest.version}, ${probe.captions} captions, held-out places:\n${formatColourProbe(probe)}`,
      );
    });
}
