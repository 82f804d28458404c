import type { Command } from 'commander';
import { startLocalS3 } from '../registry/local-s3.js';
import { intOption } from './options.js';

export function registerS3(program: Command): void {
  program
    .command('s3')
    .description('a local S3-compatible server for development')
    .command('serve')
    .description(
      'serve the S3 API on 127.0.0.1 (s3rver), storing objects in a folder; prints the environment to use it',
    )
    .option('--port <n>', 'port', intOption(0), 9000)
    .option('--dir <dir>', 'where objects are stored', '.cache/s3')
    .option('--bucket <name>', 'bucket to create', 'cvae-models')
    .action(async (flags: { port: number; dir: string; bucket: string }) => {
      const s3 = await startLocalS3({ directory: flags.dir, port: flags.port, bucket: flags.bucket });
      console.log(
        [
          `local S3 listening on ${s3.endpoint} (objects in ${flags.dir}); use it with:`,
          `  export CVAE_S3_ENDPOINT=${s3.endpoint} CVAE_S3_BUCKET=${s3.bucket} CVAE_S3_FORCE_PATH_STYLE=1`,
          `  export AWS_ACCESS_KEY_ID=${s3.credentials.accessKeyId} AWS_SECRET_ACCESS_KEY=${s3.credentials.secretAccessKey}`,
        ].join('\n'),
      );
      const stop = async () => {
        await s3.close();
        process.exit(0);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
}
