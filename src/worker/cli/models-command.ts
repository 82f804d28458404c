import type { Command } from 'commander';
import { verifyPackage } from '../registry/package.js';
import { getManifest, listModels, pull, push } from '../registry/registry.js';
import { s3ConfigFromEnv, s3Store } from '../registry/s3-store.js';

/** `cvae models push|list|pull|verify`: the registry on S3-compatible storage (see s3-store.ts for the environment). */
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
      for (const m of listing) console.log(`${m.id}  latest: ${m.latest ?? '-'}  versions: ${m.versions.join(', ')}`);
    });

  models
    .command('show')
    .description("print a version's manifest")
    .argument('<ref>', 'id or id@version')
    .action(async (ref: string) => {
      const [id, version] = ref.split('@') as [string, string | undefined];
      console.log(JSON.stringify(await getManifest(store(), id, version ?? 'latest'), null, 2));
    });

  models
    .command('pull')
    .description('download a version, verifying every sha256; nothing is left behind on failure')
    .argument('<ref>', 'id or id@version (default: latest)')
    .option('--out <dir>', 'where to put <id>/<version>/', 'models-cache')
    .action(async (ref: string, flags: { out: string }) => {
      const [id, version] = ref.split('@') as [string, string | undefined];
      const { manifest, dir } = await pull(store(), id, version ?? 'latest', flags.out);
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
}
