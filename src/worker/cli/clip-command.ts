import { rm } from 'node:fs/promises';
import type { Command } from 'commander';
import { packageClip } from '../clip/publish.js';
import { push } from '../registry/registry.js';
import { s3ConfigFromEnv, s3Store } from '../registry/s3-store.js';

export function registerClip(program: Command): void {
  const clip = program.command('clip').description('the CLIP text encoder used by long-text models');
  clip
    .command('publish')
    .description(
      'validate a CLIP ViT-B/32 text encoder (ONNX + bpe_simple_vocab_16e6.txt.gz) and publish it to the registry',
    )
    .requiredOption('--from <dir|url>', 'folder or base URL holding the ONNX model and the vocabulary')
    .option(
      '--model-file <name>',
      'the ONNX file name (default: text_model.onnx, textual.onnx, model.onnx, or the only .onnx)',
    )
    .option('--version <v>', 'version name (default: a UTC timestamp)')
    .option('--dry-run', 'validate and package only; print the manifest')
    .action(async (flags: { from: string; modelFile?: string; version?: string; dryRun?: boolean }) => {
      const store = flags.dryRun ? undefined : s3Store(s3ConfigFromEnv());
      const { dir, manifest } = await packageClip(flags.from, { modelFile: flags.modelFile, version: flags.version });
      try {
        if (!store) return void console.log(JSON.stringify(manifest, null, 2));
        await push(store, dir);
        console.log(`${manifest.id}@${manifest.version} published to ${store.label}`);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
}
