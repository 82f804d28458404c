import { mkdirSync } from 'node:fs';
import S3rver from 's3rver';

/**
 * A local server speaking the real S3 HTTP API (s3rver), for development and tests, so the same
 * client code runs against it, AWS S3, R2 and MinIO. Credentials are fixed: S3RVER / S3RVER.
 */
export interface LocalS3 {
  endpoint: string;
  bucket: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  close(): Promise<void>;
}

export async function startLocalS3(opts: { directory: string; port?: number; bucket?: string }): Promise<LocalS3> {
  const bucket = opts.bucket ?? 'cvae-models';
  mkdirSync(opts.directory, { recursive: true });
  const server = new S3rver({
    port: opts.port ?? 0,
    address: '127.0.0.1',
    silent: true,
    directory: opts.directory,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  const { port } = (await server.run()) as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    close: () => server.close(),
  };
}
