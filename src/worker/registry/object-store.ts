/**
 * What the registry needs from object storage. The S3 adapter (s3-store.ts) implements it for
 * AWS S3, Cloudflare R2 and MinIO; tests wrap it to inject failures.
 */
export interface ObjectStore {
  /** bucket/endpoint, for messages */
  readonly label: string;
  put(key: string, body: Uint8Array, contentType: string): Promise<void>;
  /** undefined when the object does not exist */
  get(key: string): Promise<Uint8Array | undefined>;
  /** bytes [offset, offset + length) of an object, where the store can read a part */
  getRange?(key: string, offset: number, length: number): Promise<Uint8Array | undefined>;
  /** every key under a prefix */
  list(prefix: string): Promise<string[]>;
  delete(key: string): Promise<void>;
}
