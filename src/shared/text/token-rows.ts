import { CvaeError } from '../errors.js';
import { decodeFloat16 } from '../float16.js';
import { sha256Hex } from '../hash.js';

/**
 * CLIP's token-embedding table, read a shard at a time: 49,408 rows × 512 float16 is 48 MiB, a
 * third of the encoder, and a caption touches at most 77 rows of it, so the edge keeps the table
 * in the bucket and fetches the shards (64 rows, 64 KiB) that hold a caption's tokens with range
 * reads. Each shard is checked against its sha256 in the package's index before it is used, and
 * recent shards stay in memory (an LRU of `cacheShards`).
 */
export interface TokenTableInfo {
  rows: number;
  width: number;
  shardRows: number;
}

/** Reads `length` bytes at `offset` of the table file. */
export type ReadRange = (offset: number, length: number) => Promise<Uint8Array>;

export class TokenRowStore {
  private readonly shards = new Map<number, Promise<Uint8Array>>();
  readonly shardBytes: number;

  constructor(
    readonly info: TokenTableInfo,
    private readonly read: ReadRange,
    /** 32-byte sha256 digests, one per shard, in order */
    private readonly index: Uint8Array,
    private readonly cacheShards = 128,
  ) {
    this.shardBytes = info.shardRows * info.width * 2;
    const shards = Math.ceil(info.rows / info.shardRows);
    if (index.byteLength !== shards * 32) {
      throw new CvaeError(
        'model_integrity',
        `the token table index has ${index.byteLength / 32} digests for ${shards} shards`,
      );
    }
  }

  /** Shards in memory now (for /healthz and the benchmark). */
  get cachedShards(): number {
    return this.shards.size;
  }

  /** Rows of `ids`, one after another in `out` from `at` (width floats each). */
  async gather(ids: readonly number[], out: Float32Array, at = 0): Promise<void> {
    const { width, shardRows, rows } = this.info;
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= rows)
        throw new CvaeError('invalid_request', `token id ${id} is outside the table`);
    }
    // every shard the ids need, fetched together
    const needed = [...new Set(ids.map((id) => Math.floor(id / shardRows)))];
    const loaded = new Map(await Promise.all(needed.map(async (s) => [s, await this.shard(s)] as const)));
    ids.forEach((id, i) => {
      const shard = loaded.get(Math.floor(id / shardRows)) as Uint8Array;
      const offset = (id % shardRows) * width * 2;
      decodeFloat16(shard.subarray(offset, offset + width * 2), out, at + i * width);
    });
  }

  private shard(s: number): Promise<Uint8Array> {
    const hit = this.shards.get(s);
    if (hit) {
      this.shards.delete(s); // LRU: re-insert as newest
      this.shards.set(s, hit);
      return hit;
    }
    const load = this.load(s);
    this.shards.set(s, load);
    load.catch(() => this.shards.delete(s));
    if (this.shards.size > this.cacheShards) this.shards.delete(this.shards.keys().next().value as number);
    return load;
  }

  private async load(s: number): Promise<Uint8Array> {
    const { rows, width, shardRows } = this.info;
    const length = (Math.min(rows, (s + 1) * shardRows) - s * shardRows) * width * 2;
    const bytes = await this.read(s * this.shardBytes, length);
    if (bytes.byteLength !== length) {
      throw new CvaeError(
        'model_integrity',
        `token table shard ${s}: read ${bytes.byteLength} bytes, expected ${length}`,
      );
    }
    const digest = await sha256Hex(bytes);
    const expected = hex(this.index.subarray(s * 32, s * 32 + 32));
    if (digest !== expected) {
      throw new CvaeError(
        'model_integrity',
        `token table shard ${s} has sha256 ${digest}, the index says ${expected}; not using it`,
      );
    }
    return bytes;
  }
}

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
