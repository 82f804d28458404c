import { readFile, rm } from 'node:fs/promises';
import { type Command, Option } from 'commander';
import { tokenizerFromVocabGz } from '../../shared/clip/tokenizer-loader.js';
import type { CvaeError } from '../../shared/errors.js';
import { addCompactEncoder } from '../clip/compact.js';
import { importClipPackage } from '../clip/import.js';
import { findVocab, generateClipPackage } from '../clip/local-encoder.js';
import { CLIP_VOCAB_FILE, packageClip } from '../clip/publish.js';
import { push } from '../registry/registry.js';
import { s3ConfigFromEnv, s3Store } from '../registry/s3-store.js';
import { intOption } from './options.js';
import { createBar } from './progress.js';

export function registerClip(program: Command): void {
  const clip = program.command('clip').description('the CLIP text encoder used by long-text models');
  clip
    .command('tokenize')
    .description("print CLIP's token ids for a text as JSON (SOT … EOT, 77-token context)")
    .argument('<text>', 'text to tokenize')
    .option('--vocab <path>', `CLIP's ${CLIP_VOCAB_FILE} (default: $CVAE_CLIP_VOCAB or models/clip-vocab)`)
    .option('--bpe-only', 'ids without SOT/EOT and without truncation')
    .action(async (text: string, flags: { vocab?: string; bpeOnly?: boolean }) => {
      const path = findVocab(flags.vocab);
      const tokenizer = await tokenizerFromVocabGz(new Uint8Array(await readFile(path)));
      if (flags.bpeOnly) return void console.log(JSON.stringify(tokenizer.encode(text)));
      const { ids, truncated } = tokenizer.encodeForModel(text);
      console.log(JSON.stringify({ ids, length: ids.length, truncated }));
    });
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
    .option('--no-compact', 'publish the full graph only (the edge then sends long text to the GPU server)')
    .action(
      async (flags: { from: string; modelFile?: string; version?: string; dryRun?: boolean; compact: boolean }) => {
        const store = flags.dryRun ? undefined : s3Store(s3ConfigFromEnv());
        let { dir, manifest } = await packageClip(flags.from, { modelFile: flags.modelFile, version: flags.version });
        try {
          if (flags.compact) {
            try {
              manifest = (await addCompactEncoder(dir, log)).manifest;
            } catch (error) {
              // a graph of another layout has no weights by the names the compactor reads
              if ((error as CvaeError).code !== 'clip_invalid') throw error;
              log(`no compact form (${(error as Error).message}): the edge will send long text to the GPU server`);
            }
          }
          if (!store) return void console.log(JSON.stringify(manifest, null, 2));
          await push(store, dir);
          console.log(`${manifest.id}@${manifest.version} published to ${store.label}`);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      },
    );
  clip
    .command('generate')
    .description(
      "write a text-encoder package of CLIP's ViT-B/32 text transformer with seeded random weights (for tests and benchmarks where the real weights are unavailable)",
    )
    .addOption(
      new Option('--config <size>', 'full (63M parameters, ViT-B/32) or tiny')
        .choices(['full', 'tiny'])
        .default('full'),
    )
    .option('--seed <n>', 'weight seed', intOption(0), 1)
    .option('--vocab <path>', `CLIP's ${CLIP_VOCAB_FILE} (default: $CVAE_CLIP_VOCAB or models/clip-vocab)`)
    .option('--out <dir>', 'package folder', 'dist/clip-generated')
    .option('--no-compact', "the full graph only, without the edge's compact form")
    .action(async (flags: { config: 'full' | 'tiny'; seed: number; vocab?: string; out: string; compact: boolean }) => {
      const manifest = await generateClipPackage({
        config: flags.config,
        seed: flags.seed,
        vocab: findVocab(flags.vocab),
        out: flags.out,
        compact: flags.compact,
        log,
      });
      console.log(
        JSON.stringify({
          out: flags.out,
          id: manifest.id,
          version: manifest.version,
          files: manifest.files.map((f) => `${f.name} ${f.bytes} B`),
        }),
      );
    });
  clip
    .command('import')
    .description(
      "write a text-encoder package from a trained CLIP checkpoint in safetensors (Hugging Face's or OpenAI's parameter names): this project's text graph with those weights, and the edge's compact form",
    )
    .requiredOption(
      '--from <file|url>',
      "the .safetensors file or its URL (read with HTTP Range requests: only the text tower's tensors are fetched)",
    )
    .option('--out <dir>', 'package folder', 'dist/clip-imported')
    .option('--version <v>', 'version name (default: import- and the graph sha256 prefix)')
    .option('--heads <n>', 'attention heads (default: width / 64, as CLIP builds them)', intOption(1))
    .option('--vocab <path>', `CLIP's ${CLIP_VOCAB_FILE} (default: $CVAE_CLIP_VOCAB or models/clip-vocab)`)
    .option('--no-compact', "the full graph only, without the edge's compact form")
    .action(
      async (flags: {
        from: string;
        out: string;
        version?: string;
        heads?: number;
        vocab?: string;
        compact: boolean;
      }) => {
        let bar: ReturnType<typeof createBar> | undefined;
        const { manifest, layout, config } = await importClipPackage({
          from: flags.from,
          out: flags.out,
          vocab: findVocab(flags.vocab),
          version: flags.version,
          heads: flags.heads,
          compact: flags.compact,
          log,
          onBytes(received, total) {
            bar ??= createBar('reading weights (MiB)', Math.ceil(total / 2 ** 20));
            bar.update(Math.floor(received / 2 ** 20));
            if (received === total) bar.stop();
          },
        });
        console.log(
          JSON.stringify({
            out: flags.out,
            id: manifest.id,
            version: manifest.version,
            layout,
            config,
            compact: manifest.files.some((f) => f.role === 'text-encoder-compact'),
          }),
        );
      },
    );
  clip
    .command('compact')
    .description(
      "add the edge's compact form to a text-encoder package folder: int8 matrices, the token table as float16 shards; checked against the full graph",
    )
    .argument('<dir>', 'package folder (as cvae clip generate or cvae models pull write it)')
    .action(async (dir: string) => {
      const report = await addCompactEncoder(dir, log);
      const mean = report.cosines.reduce((a, b) => a + b, 0) / report.cosines.length;
      console.log(
        JSON.stringify({
          dir,
          version: report.manifest.version,
          bytes: report.bytes,
          cosine: { mean, min: Math.min(...report.cosines) },
        }),
      );
    });
}

const log = (line: string) => console.error(line);
