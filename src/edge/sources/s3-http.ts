import { AwsClient } from 'aws4fetch';
import { type BlobSource, onceObject } from '../../shared/registry/blob-source.js';

/**
 * The registry bucket on any S3-compatible endpoint (AWS S3, MinIO, R2's S3 API, s3rver) over
 * plain fetch with SigV4 (aws4fetch): for running the edge against the bucket the worker writes
 * without an R2 binding. Path-style addressing (`<endpoint>/<bucket>/<key>`) unless told otherwise.
 */
export interface S3HttpConfig {
  endpoint: string;
  bucket: string;
  region?: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** default true; false → `https://<bucket>.<endpoint host>/<key>` */
  pathStyle?: boolean;
}

const decodeXml = (s: string) =>
  s.replace(
    /&(lt|gt|quot|apos|amp);/g,
    (_, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e] ?? _,
  );

export function s3HttpSource(config: S3HttpConfig, fetcher: typeof fetch = fetch): BlobSource {
  const client = new AwsClient({
    accessKeyId: config.accessKeyId,
    secretAccessKey: config.secretAccessKey,
    region: config.region ?? 'us-east-1',
    service: 's3',
  });
  const endpoint = new URL(config.endpoint);
  const base =
    config.pathStyle === false
      ? `${endpoint.protocol}//${config.bucket}.${endpoint.host}`
      : `${endpoint.origin}${endpoint.pathname.replace(/\/$/, '')}/${config.bucket}`;
  const label = `s3 ${base}`;
  const send = async (url: string, headers: Record<string, string> = {}) => {
    const signed = await client.sign(url, { method: 'GET', headers });
    return fetcher(signed);
  };
  const keyUrl = (key: string) => `${base}/${key.split('/').map(encodeURIComponent).join('/')}`;

  return {
    label,
    async get(key) {
      const res = await send(keyUrl(key));
      if (res.status === 404) {
        await res.body?.cancel();
        return undefined;
      }
      if (!res.ok) throw new Error(`${label}: GET ${key} → HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
      return onceObject(
        { size: Number(res.headers.get('content-length') ?? 0), etag: res.headers.get('etag')?.replaceAll('"', '') },
        () => res.body as ReadableStream<Uint8Array>,
        () => res.arrayBuffer(),
        key,
      );
    },
    async range(key, offset, length) {
      const res = await send(keyUrl(key), { range: `bytes=${offset}-${offset + length - 1}` });
      if (res.status === 404) {
        await res.body?.cancel();
        return undefined;
      }
      if (!res.ok) throw new Error(`${label}: GET ${key} (range) → HTTP ${res.status}`);
      const bytes = new Uint8Array(await res.arrayBuffer());
      // 200 is a server that ignored Range and sent the whole object
      return res.status === 206 ? bytes : bytes.slice(offset, offset + length);
    },
    async list(prefix) {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const query = new URLSearchParams({ 'list-type': '2', prefix });
        if (token) query.set('continuation-token', token);
        const res = await send(`${base}/?${query}`);
        const xml = await res.text();
        if (!res.ok) throw new Error(`${label}: list ${prefix} → HTTP ${res.status} ${xml.slice(0, 200)}`);
        // ListObjectsV2 results: only <Key>, <IsTruncated> and <NextContinuationToken> are needed
        for (const m of xml.matchAll(/<Key>([^<]*)<\/Key>/g)) keys.push(decodeXml(m[1] as string));
        token = /<IsTruncated>true<\/IsTruncated>/.test(xml)
          ? decodeXml(/<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(xml)?.[1] ?? '')
          : undefined;
      } while (token);
      return keys;
    },
    async put(key, bytes, contentType) {
      const signed = await client.sign(keyUrl(key), {
        method: 'PUT',
        body: bytes as Uint8Array<ArrayBuffer>,
        headers: { 'content-type': contentType },
      });
      const res = await fetcher(signed);
      if (!res.ok) throw new Error(`${label}: PUT ${key} → HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
      await res.body?.cancel();
    },
  };
}
