import { rm } from 'node:fs/promises';
import type { ObjectStore } from '../registry/object-store.js';

/**
 * What a finished job leaves behind. Its local work folder always goes. Its checkpoints in the
 * bucket go at once (the default), or after `keepDays`: a `done.json` marker records when the job
 * ended, and an idle worker sweeps markers older than that.
 */
const DONE_MARKER = 'done.json';
const DAY_MS = 86_400_000;

export interface RetentionOptions {
  store: ObjectStore;
  /** days to keep a finished job's checkpoints in the bucket; 0 removes them at once */
  keepDays: number;
  log: (line: string) => void;
  now?: () => number;
}

async function removePrefix(store: ObjectStore, prefix: string): Promise<number> {
  const keys = await store.list(prefix);
  for (const key of keys) await store.delete(key);
  return keys.length;
}

/** After a job ends for good (published or cancelled): work folder gone, checkpoints gone or marked. */
export async function retireJob(
  opts: RetentionOptions,
  jobId: string,
  checkpointPrefix: string,
  runDir: string,
): Promise<void> {
  await rm(runDir, { recursive: true, force: true });
  if (opts.keepDays <= 0) {
    const n = await removePrefix(opts.store, checkpointPrefix);
    if (n) opts.log(`${jobId}: removed its ${n} checkpoint object(s) from the bucket`);
    return;
  }
  const marker = JSON.stringify({ jobId, endedAt: new Date((opts.now ?? Date.now)()).toISOString() });
  await opts.store.put(`${checkpointPrefix}${DONE_MARKER}`, new TextEncoder().encode(marker), 'application/json');
}

/** Removes the checkpoints of jobs that ended more than `keepDays` ago; returns how many jobs. */
export async function sweepCheckpoints(opts: RetentionOptions, root = 'checkpoints/'): Promise<number> {
  const now = (opts.now ?? Date.now)();
  let swept = 0;
  for (const key of await opts.store.list(root)) {
    if (!key.endsWith(`/${DONE_MARKER}`)) continue;
    const bytes = await opts.store.get(key);
    const endedAt = bytes
      ? Date.parse((JSON.parse(new TextDecoder().decode(bytes)) as { endedAt: string }).endedAt)
      : 0;
    if (now - endedAt < opts.keepDays * DAY_MS) continue;
    const prefix = key.slice(0, -DONE_MARKER.length);
    // the marker last, so an interrupted sweep is picked up again
    for (const k of await opts.store.list(prefix)) if (k !== key) await opts.store.delete(k);
    await opts.store.delete(key);
    swept++;
  }
  return swept;
}
