import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { retireJob, sweepCheckpoints } from '../../src/worker/jobs/retention.js';
import type { ObjectStore } from '../../src/worker/registry/object-store.js';

// What a finished job leaves: its work folder never, its checkpoints now or after the kept days.
function memoryStore(): ObjectStore & { keys(): string[] } {
  const objects = new Map<string, Uint8Array>();
  return {
    label: 'memory',
    put: async (key, body) => void objects.set(key, body),
    get: async (key) => objects.get(key),
    list: async (prefix) => [...objects.keys()].filter((k) => k.startsWith(prefix)).sort(),
    delete: async (key) => void objects.delete(key),
    keys: () => [...objects.keys()].sort(),
  };
}
const DAY = 86_400_000;
const log = () => {};

async function finishedJob(store: ObjectStore, id: string) {
  for (const f of ['checkpoint.json', 'checkpoint.bin'])
    await store.put(`checkpoints/${id}/${f}`, new Uint8Array(8), 'x');
  const runDir = mkdtempSync(join(tmpdir(), 'run-'));
  mkdirSync(join(runDir, 'package'));
  writeFileSync(join(runDir, 'checkpoint.bin'), 'x');
  return runDir;
}

describe('job retention', () => {
  it('removes the work folder and the checkpoints at once by default', async () => {
    const store = memoryStore();
    const runDir = await finishedJob(store, 'job_a');
    await store.put('models/alice/m/v1/manifest.json', new Uint8Array(1), 'x');
    await retireJob({ store, keepDays: 0, log }, 'job_a', 'checkpoints/job_a/', runDir);
    expect(existsSync(runDir)).toBe(false);
    expect(store.keys()).toEqual(['models/alice/m/v1/manifest.json']);
  });

  it('keeps checkpoints for the configured days, then an idle sweep removes them', async () => {
    const store = memoryStore();
    let now = Date.parse('2026-01-01T00:00:00Z');
    const opts = { store, keepDays: 2, log, now: () => now };
    await retireJob(opts, 'job_a', 'checkpoints/job_a/', await finishedJob(store, 'job_a'));
    now += DAY;
    await retireJob(opts, 'job_b', 'checkpoints/job_b/', await finishedJob(store, 'job_b'));
    await finishedJob(store, 'job_running'); // no marker: a job still under way is never swept
    expect(store.keys()).toContain('checkpoints/job_a/done.json');
    expect(await sweepCheckpoints(opts)).toBe(0);
    now += 1.5 * DAY; // job_a ended 2.5 days ago, job_b 1.5
    expect(await sweepCheckpoints(opts)).toBe(1);
    expect(store.keys().filter((k) => k.startsWith('checkpoints/job_a/'))).toEqual([]);
    expect(store.keys().filter((k) => k.startsWith('checkpoints/job_b/'))).toHaveLength(3);
    expect(store.keys().filter((k) => k.startsWith('checkpoints/job_running/'))).toHaveLength(2);
  });
});
