import { type BlobSource, onceObject } from '../../shared/registry/blob-source.js';

/** The registry bucket through a Workers R2 binding (production). */
export function r2Source(bucket: R2Bucket, label = 'R2'): BlobSource {
  return {
    label,
    async get(key) {
      const object = await bucket.get(key);
      if (!object) return undefined;
      return onceObject(
        { size: object.size, etag: object.etag },
        () => object.body as ReadableStream<Uint8Array>,
        () => object.arrayBuffer(),
        key,
      );
    },
    async range(key, offset, length) {
      const object = await bucket.get(key, { range: { offset, length } });
      return object ? new Uint8Array(await object.arrayBuffer()) : undefined;
    },
    async list(prefix) {
      const keys: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await bucket.list({ prefix, ...(cursor ? { cursor } : {}) });
        for (const o of page.objects) keys.push(o.key);
        cursor = page.truncated ? page.cursor : undefined;
      } while (cursor);
      return keys;
    },
    async put(key, bytes, contentType) {
      await bucket.put(key, bytes, { httpMetadata: { contentType } });
    },
  };
}
