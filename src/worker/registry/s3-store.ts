import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { CvaeError } from '../../shared/errors.js';
import type { ObjectStore } from './object-store.js';

/**
 * Object storage over the S3 API, configured from the environment:
 *   CVAE_S3_BUCKET (required), CVAE_S3_ENDPOINT (R2, MinIO, a local server; empty for AWS),
 *   CVAE_S3_REGION (default us-east-1; R2 wants 'auto'), CVAE_S3_FORCE_PATH_STYLE=1 (MinIO,
 *   local servers), credentials by the SDK's usual chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY…).
 */
export interface S3Config {
  bucket: string;
  endpoint?: string | undefined;
  region: string;
  forcePathStyle: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
  /** multipart part size; every part but the last has exactly this size (R2 requires equal parts) */
  partSize?: number;
  maxAttempts?: number;
}

export function s3ConfigFromEnv(env: NodeJS.ProcessEnv = process.env): S3Config {
  const bucket = env.CVAE_S3_BUCKET;
  if (!bucket) {
    throw new CvaeError(
      'registry_unconfigured',
      'set CVAE_S3_BUCKET (and CVAE_S3_ENDPOINT for R2/MinIO) to use the model registry',
    );
  }
  return {
    bucket,
    endpoint: env.CVAE_S3_ENDPOINT || undefined,
    region: env.CVAE_S3_REGION ?? 'us-east-1',
    forcePathStyle: env.CVAE_S3_FORCE_PATH_STYLE === '1' || env.CVAE_S3_FORCE_PATH_STYLE === 'true',
  };
}

const MIN_PART = 5 * 1024 * 1024; // S3's minimum part size

export function s3Store(config: S3Config): ObjectStore {
  const clientConfig: S3ClientConfig = {
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    maxAttempts: config.maxAttempts ?? 4, // SDK retries with backoff on throttling and 5xx
    // Plain checksums only when the API requires them: R2, MinIO and local servers do not all
    // accept the SDK's default streaming CRC32 trailers.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
  if (config.endpoint) clientConfig.endpoint = config.endpoint;
  if (config.credentials) clientConfig.credentials = config.credentials;
  const client = new S3Client(clientConfig);
  const Bucket = config.bucket;
  const partSize = Math.max(MIN_PART, config.partSize ?? 8 * 1024 * 1024);
  return {
    label: `${config.endpoint ?? 's3'}/${Bucket}`,
    async put(key, body, contentType) {
      // lib-storage sends one PUT below partSize, else a multipart upload with equal parts,
      // aborted (no stray parts) if any part fails.
      await new Upload({
        client,
        params: { Bucket, Key: key, Body: body, ContentType: contentType },
        partSize,
        queueSize: 2,
      }).done();
    },
    async get(key) {
      try {
        const out = await client.send(new GetObjectCommand({ Bucket, Key: key }));
        return out.Body ? await out.Body.transformToByteArray() : new Uint8Array();
      } catch (error) {
        if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') return undefined;
        throw error;
      }
    },
    async getRange(key, offset, length) {
      try {
        const out = await client.send(
          new GetObjectCommand({ Bucket, Key: key, Range: `bytes=${offset}-${offset + length - 1}` }),
        );
        return out.Body ? await out.Body.transformToByteArray() : new Uint8Array();
      } catch (error) {
        if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') return undefined;
        throw error;
      }
    },
    async list(prefix) {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const out = await client.send(new ListObjectsV2Command({ Bucket, Prefix: prefix, ContinuationToken: token }));
        for (const o of out.Contents ?? []) if (o.Key) keys.push(o.Key);
        token = out.IsTruncated ? out.NextContinuationToken : undefined;
      } while (token);
      return keys;
    },
    async delete(key) {
      await client.send(new DeleteObjectCommand({ Bucket, Key: key }));
    },
  };
}
