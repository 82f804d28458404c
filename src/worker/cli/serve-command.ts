import type { Command } from 'commander';
import { MODELS_DIR } from '../paths.js';
import { objectStoreSource } from '../registry/registry.js';
import { s3ConfigFromEnv, s3Store } from '../registry/s3-store.js';
import { requestLogger } from '../serve/logger.js';
import { startServer } from '../serve/server.js';
import { intOption } from './options.js';

/** `cvae serve`: the generation API on Node (the GPU server behind the edge, or a local server). */
const STOP_GRACE_MS = 10_000;

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve the generation API with onnxruntime-node (CUDA when present, else CPU)')
    .option('--port <n>', 'port', intOption(0), 8788)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--models <dir>', 'model package folders', MODELS_DIR)
    .option('--registry', 'also read models from the S3 registry ($CVAE_S3_BUCKET, …), before --models')
    .option(
      '--secret-env <name>',
      'environment variable holding the shared secret the edge sends (unset: no auth)',
      'CVAE_SERVE_SECRET',
    )
    .action(async (flags: { port: number; host: string; models: string; registry?: boolean; secretEnv: string }) => {
      const secret = process.env[flags.secretEnv];
      // response_format "url" for callers of this server directly (behind the edge, the edge signs)
      const imageUrlSecret = process.env.CVAE_IMAGE_URL_SECRET;
      const server = await startServer({
        port: flags.port,
        host: flags.host,
        modelsDir: flags.models,
        ...(flags.registry ? { registry: objectStoreSource(s3Store(s3ConfigFromEnv())) } : {}),
        ...(secret ? { secret } : {}),
        ...(imageUrlSecret ? { imageUrlSecret } : {}),
        log: requestLogger('cvae serve'),
      });
      console.error(
        `cvae serve: ${server.url} (models: ${flags.registry ? 'registry + ' : ''}${flags.models}; ${secret ? 'generation needs the shared secret' : 'no auth'})`,
      );
      // stop listening and let requests in flight finish (a generation takes well under a second);
      // a client that keeps a request open past the grace period does not hold the exit up
      const stop = () => {
        console.error('cvae serve: stopping');
        setTimeout(() => {
          console.error(`cvae serve: requests still open after ${STOP_GRACE_MS / 1000} s; exiting`);
          process.exit(0);
        }, STOP_GRACE_MS).unref();
        server.close().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
