import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ARCHITECTURE_IDS, architecture } from '../../shared/arch/catalogue.js';
import { describeCvae } from '../../shared/arch/shapes.js';
import { parseModelRef } from '../../shared/model-id.js';
import { addModelCard, MANIFEST_FILE, verifyPackage } from '../registry/package.js';
import { getAlias, getManifest, listModels, promote, pull, push } from '../registry/registry.js';
import { s3ConfigFromEnv, s3Store } from '../registry/s3-store.js';

/** `cvae models push|list|show|promote|pull|verify`: the registry on S3-compatible storage (see s3-store.ts for the environment). */
export function registerModels(program: Command): void {
  const models = program
    .command('models')
    .description(
      'publish, list and download model versions (S3-compatible storage: CVAE_S3_BUCKET, CVAE_S3_ENDPOINT, …)',
    );
  const store = () => s3Store(s3ConfigFromEnv());

  models
    .command('push')
    .description('verify a package folder and publish it: files first, manifest last, then the latest alias')
    .argument('<dir>', 'package folder with manifest.json')
    .option('--no-latest', 'do not move the latest alias')
    .action(async (dir: string, flags: { latest: boolean }) => {
      const s = store();
      const manifest = await push(s, dir, {
        setLatest: flags.latest,
        onFile: (name, bytes) => console.error(`uploaded ${name} (${bytes} bytes)`),
      });
      console.log(`${manifest.id}@${manifest.version} published to ${s.label}`);
    });

  models
    .command('list')
    .description('models and their versions; with an id, that model only')
    .argument('[id]', 'model id')
    .option('--json', 'print JSON')
    .action(async (id: string | undefined, flags: { json?: boolean }) => {
      const listing = await listModels(store(), id);
      if (flags.json) return void console.log(JSON.stringify(listing, null, 2));
      if (listing.length === 0) return void console.log('no models');
      for (const m of listing) {
        const moves = (await getAlias(store(), m.id))?.history ?? [];
        const trail =
          moves.length > 1
            ? `  (latest was: ${moves
                .slice(0, -1)
                .map((h) => h.version)
                .join(' → ')})`
            : '';
        console.log(`${m.id}  latest: ${m.latest ?? '-'}  versions: ${m.versions.join(', ')}${trail}`);
      }
    });

  models
    .command('show')
    .description("print a version's manifest, and the history of the model's latest alias")
    .argument('<ref>', 'id or id@version')
    .option('--json', 'print JSON: {manifest, alias}')
    .action(async (ref: string, flags: { json?: boolean }) => {
      const { id, version } = parseModelRef(ref);
      const s = store();
      const [manifest, alias] = await Promise.all([getManifest(s, id, version), getAlias(s, id)]);
      if (flags.json) return void console.log(JSON.stringify({ manifest, alias }, null, 2));
      console.log(JSON.stringify(manifest, null, 2));
      for (const h of alias?.history ?? []) console.error(`latest → ${h.version}  ${h.at}  ${h.by ?? ''}`);
    });

  models
    .command('promote')
    .description('move the latest alias to an existing version (rollback); the move is kept in the history')
    .argument('<ref>', 'id@version')
    .action(async (ref: string) => {
      const { id, version } = parseModelRef(ref);
      const manifest = await promote(store(), id, version, 'cvae models promote');
      console.log(`${manifest.id}: latest → ${manifest.version}`);
    });

  models
    .command('pull')
    .description('download a version, verifying every sha256; nothing is left behind on failure')
    .argument('<ref>', 'id or id@version (default: latest)')
    .option('--out <dir>', 'where to put <id>/<version>/', 'models-cache')
    .action(async (ref: string, flags: { out: string }) => {
      const { id, version } = parseModelRef(ref);
      const { manifest, dir } = await pull(store(), id, version, flags.out);
      console.log(`${manifest.id}@${manifest.version} → ${dir}`);
    });

  models
    .command('verify')
    .description("check a package folder: manifest schema, every file's size and sha256")
    .argument('<dir>', 'package folder')
    .action(async (dir: string) => {
      const manifest = await verifyPackage(dir);
      console.log(`${manifest.id}@${manifest.version}: ${manifest.files.length} files verified`);
    });

  models
    .command('card')
    .description("write a package folder's README.md (model card) from its manifest, as cvae export does")
    .argument('<dir>', 'package folder')
    .action(async (dir: string) => {
      const manifest = await verifyPackage(dir);
      const arch = manifest.training?.architecture ?? manifest.id.split('/').at(-1) ?? '';
      const parameters = ARCHITECTURE_IDS.includes(arch) ? describeCvae(architecture(arch)).parameterCount : undefined;
      const withCard = await addModelCard(dir, manifest, parameters);
      await writeFile(join(dir, MANIFEST_FILE), `${JSON.stringify(withCard, null, 2)}\n`);
      console.log(`${join(dir, 'README.md')} written`);
    });
}
