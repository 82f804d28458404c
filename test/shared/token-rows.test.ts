import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fromFloat16Bits, toFloat16Bits } from '../../src/shared/float16.js';
import { TokenRowStore } from '../../src/shared/text/token-rows.js';

// A 10-row × 4-wide float16 table in shards of 4 rows (the last shard short), read by range.
const info = { rows: 10, width: 4, shardRows: 4 };
const values = Float32Array.from({ length: 40 }, (_, i) => (i - 20) / 7);
const table = new Uint8Array(80);
for (const [i, v] of values.entries()) new DataView(table.buffer).setUint16(i * 2, toFloat16Bits(v), true);
const shardBytes = 4 * 4 * 2;
const index = new Uint8Array(3 * 32);
for (let s = 0; s < 3; s++)
  index.set(
    createHash('sha256')
      .update(table.subarray(s * shardBytes, (s + 1) * shardBytes))
      .digest(),
    s * 32,
  );

function store(bytes = table, cacheShards = 8) {
  const reads: [number, number][] = [];
  const rows = new TokenRowStore(
    info,
    async (offset, length) => {
      reads.push([offset, length]);
      return bytes.slice(offset, offset + length);
    },
    index,
    cacheShards,
  );
  return { rows, reads };
}

describe('token rows read a shard at a time', () => {
  it('returns the float16 rows of the ids asked for, in order, reading only their shards', async () => {
    const { rows, reads } = store();
    const out = new Float32Array(3 * 4);
    await rows.gather([9, 0, 1], out);
    const expected = [9, 0, 1].flatMap((id) =>
      Array.from(values.subarray(id * 4, id * 4 + 4), (v) => fromFloat16Bits(toFloat16Bits(v))),
    );
    expect(Array.from(out)).toEqual(expected);
    // shard 0 (rows 0–3) and the short last shard (rows 8–9): two reads, the last 16 bytes long
    expect(reads.sort((a, b) => a[0] - b[0])).toEqual([
      [0, 32],
      [64, 16],
    ]);
    await rows.gather([2, 3], new Float32Array(8));
    expect(reads).toHaveLength(2); // cached
  });

  it('refuses a shard whose bytes are not the ones the index names', async () => {
    const tampered = table.slice();
    tampered[40] = (tampered[40] as number) ^ 1; // inside shard 1
    const { rows } = store(tampered);
    await expect(rows.gather([0], new Float32Array(4))).resolves.toBeUndefined();
    await expect(rows.gather([5], new Float32Array(4))).rejects.toMatchObject({ code: 'model_integrity' });
    // not cached as good: asked again, it is read and refused again
    await expect(rows.gather([5], new Float32Array(4))).rejects.toThrow(/sha256/);
  });

  it('keeps at most cacheShards shards, dropping the least recently used', async () => {
    const { rows, reads } = store(table, 2);
    await rows.gather([0], new Float32Array(4)); // shard 0
    await rows.gather([4], new Float32Array(4)); // shard 1
    await rows.gather([0], new Float32Array(4)); // shard 0 again: now newest
    await rows.gather([8], new Float32Array(4)); // shard 2 evicts shard 1
    expect(rows.cachedShards).toBe(2);
    await rows.gather([0], new Float32Array(4));
    expect(reads).toHaveLength(3);
    await rows.gather([4], new Float32Array(4));
    expect(reads).toHaveLength(4);
  });

  it('refuses ids outside the table and an index of the wrong length', async () => {
    const { rows } = store();
    await expect(rows.gather([10], new Float32Array(4))).rejects.toMatchObject({ code: 'invalid_request' });
    expect(() => new TokenRowStore(info, async () => table, index.subarray(0, 64))).toThrow(/2 digests for 3 shards/);
  });
});
