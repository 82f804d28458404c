/**
 * Read access to the registry's bucket, the one seam between the registry logic and storage.
 * Adapters: R2 binding and S3 over HTTP (src/edge/sources), files bundled into the edge, a local
 * folder or the S3 SDK store (src/worker/registry).
 */
export interface BlobObject {
  size: number;
  /** storage's entity tag, unquoted, when it has one */
  etag?: string;
  /** streams the object; call once */
  body(): ReadableStream<Uint8Array>;
  bytes(): Promise<Uint8Array>;
}

export interface BlobSource {
  /** bucket/endpoint, for messages */
  readonly label: string;
  /** undefined when the object does not exist */
  get(key: string): Promise<BlobObject | undefined>;
  /** every key under a prefix */
  list(prefix: string): Promise<string[]>;
  /**
   * `length` bytes from `offset` of an object (a range read), undefined when it does not exist;
   * sources without it are read whole and sliced
   */
  range?(key: string, offset: number, length: number): Promise<Uint8Array | undefined>;
  /** writes an object; only sources the deployment may write (the bucket) have it */
  put?(key: string, bytes: Uint8Array, contentType: string): Promise<void>;
}

/**
 * A BlobObject over a body that can be read once, either streamed or whole (an HTTP response, an
 * R2 object): the two readers guard each other.
 */
export function onceObject(
  meta: { size: number; etag?: string | undefined },
  stream: () => ReadableStream<Uint8Array>,
  whole: () => Promise<ArrayBuffer>,
  what: string,
): BlobObject {
  let used = false;
  const claim = () => {
    if (used) throw new Error(`${what}: body already read`);
    used = true;
  };
  return {
    size: meta.size,
    ...(meta.etag ? { etag: meta.etag } : {}),
    body: () => {
      claim();
      return stream();
    },
    bytes: async () => {
      claim();
      return new Uint8Array(await whole());
    },
  };
}

/** A BlobObject over bytes already in memory. */
export function bytesObject(bytes: Uint8Array, etag?: string): BlobObject {
  return {
    size: bytes.byteLength,
    ...(etag ? { etag } : {}),
    body: () =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(bytes);
          controller.close();
        },
      }),
    bytes: async () => bytes,
  };
}

/** Reads from each source in turn: the first that has a key wins; listings are merged. */
export function layeredSource(...sources: BlobSource[]): BlobSource {
  // writes go to the first writable source (the bucket), never to the bundled fallback
  const writable = sources.find((s) => s.put);
  return {
    label: sources.map((s) => s.label).join(' + '),
    async get(key) {
      for (const s of sources) {
        const found = await s.get(key);
        if (found) return found;
      }
      return undefined;
    },
    async list(prefix) {
      const all = await Promise.all(sources.map((s) => s.list(prefix)));
      return [...new Set(all.flat())].sort();
    },
    async range(key, offset, length) {
      for (const s of sources) {
        const found = await readRange(s, key, offset, length);
        if (found) return found;
      }
      return undefined;
    },
    ...(writable
      ? { put: (key, bytes, type) => (writable.put as NonNullable<BlobSource['put']>)(key, bytes, type) }
      : {}),
  };
}

/** A range of an object through the source's range read, or the whole object sliced. */
export async function readRange(
  source: BlobSource,
  key: string,
  offset: number,
  length: number,
): Promise<Uint8Array | undefined> {
  if (source.range) return source.range(key, offset, length);
  const object = await source.get(key);
  return object ? (await object.bytes()).slice(offset, offset + length) : undefined;
}
