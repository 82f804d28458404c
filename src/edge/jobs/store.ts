import type { JobStatus, TrainingJob, TrainingJobConfig } from '../../shared/api/jobs-schemas.js';
import { CvaeError } from '../../shared/errors.js';
import { sha256Hex } from '../../shared/hash.js';
import { OWNER_PATTERN, quote } from '../../shared/model-id.js';

/**
 * Training-job state in D1 (migrations/0001_training_jobs.sql): plain functions over the binding.
 * Every state change is one conditional UPDATE, so two workers can never lease the same job and
 * a worker whose lease expired can no longer report on it.
 */
interface JobRow {
  id: string;
  api_key_id: string;
  idempotency_key: string;
  config_hash: string;
  config: string;
  status: JobStatus;
  cancel_requested: number;
  attempts: number;
  max_attempts: number;
  lease_owner: string | null;
  lease_expires_at: number | null;
  progress: string | null;
  metrics: string | null;
  model_id: string | null;
  model_version: string | null;
  error: string | null;
  webhook_url: string | null;
  created_at: number;
  updated_at: number;
}

export const TERMINAL: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];

export function toJob(row: JobRow): TrainingJob {
  return {
    id: row.id,
    status: row.status,
    config: JSON.parse(row.config) as TrainingJobConfig,
    cancelRequested: row.cancel_requested === 1,
    attempts: row.attempts,
    progress: row.progress ? JSON.parse(row.progress) : null,
    metrics: row.metrics ? JSON.parse(row.metrics) : null,
    model: row.model_id && row.model_version ? { id: row.model_id, version: row.model_version } : null,
    error: row.error,
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

/** Canonical JSON (sorted keys) for comparing request bodies under one Idempotency-Key. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

export async function addEvent(db: D1Database, jobId: string, type: string, data: unknown, now = Date.now()) {
  await db
    .prepare('INSERT INTO training_job_events (job_id, at, type, data) VALUES (?, ?, ?, ?)')
    .bind(jobId, now, type, JSON.stringify(data))
    .run();
}

/** Creates the job, or returns the one this key already made for the same body (409 for another body). */
export async function createJob(
  db: D1Database,
  apiKeyId: string,
  idempotencyKey: string,
  config: TrainingJobConfig,
  maxAttempts: number,
  maxActive = Number.POSITIVE_INFINITY,
): Promise<{ job: TrainingJob; created: boolean }> {
  const hash = await sha256Hex(new TextEncoder().encode(canonicalJson(config)));
  const existing = await db
    .prepare('SELECT * FROM training_jobs WHERE api_key_id = ? AND idempotency_key = ?')
    .bind(apiKeyId, idempotencyKey)
    .first<JobRow>();
  if (existing) {
    if (existing.config_hash !== hash) {
      throw new CvaeError(
        'idempotency_conflict',
        `Idempotency-Key '${idempotencyKey}' was already used for a different request (job ${existing.id})`,
      );
    }
    return { job: toJob(existing), created: false };
  }
  const active = await db
    .prepare("SELECT COUNT(*) AS n FROM training_jobs WHERE api_key_id = ? AND status IN ('queued', 'running')")
    .bind(apiKeyId)
    .first<{ n: number }>();
  if ((active?.n ?? 0) >= maxActive) {
    throw new CvaeError(
      'quota_exceeded',
      `This key already has ${active?.n} queued or running job(s), the most it may have; wait for one to end or cancel one.`,
    );
  }
  const id = `job_${crypto.randomUUID().replaceAll('-', '').slice(0, 20)}`;
  const now = Date.now();
  const inserted = await db
    .prepare(
      `INSERT INTO training_jobs (id, api_key_id, idempotency_key, config_hash, config, status, max_attempts, webhook_url, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)
       ON CONFLICT (api_key_id, idempotency_key) DO NOTHING RETURNING *`,
    )
    .bind(id, apiKeyId, idempotencyKey, hash, JSON.stringify(config), maxAttempts, config.webhookUrl ?? null, now, now)
    .first<JobRow>();
  if (!inserted) return createJob(db, apiKeyId, idempotencyKey, config, maxAttempts, maxActive); // lost a race: read the winner
  await addEvent(db, id, 'queued', { config }, now);
  return { job: toJob(inserted), created: true };
}

export async function getJob(db: D1Database, id: string, apiKeyId?: string): Promise<JobRow> {
  const row = await db.prepare('SELECT * FROM training_jobs WHERE id = ?').bind(id).first<JobRow>();
  if (!row || (apiKeyId && row.api_key_id !== apiKeyId))
    throw new CvaeError('job_not_found', `No training job '${id}'`);
  return row;
}

export async function listJobs(db: D1Database, apiKeyId: string, limit: number): Promise<TrainingJob[]> {
  const { results } = await db
    .prepare('SELECT * FROM training_jobs WHERE api_key_id = ? ORDER BY created_at DESC LIMIT ?')
    .bind(apiKeyId, limit)
    .all<JobRow>();
  return results.map(toJob);
}

export async function cancelJob(db: D1Database, id: string, apiKeyId: string): Promise<TrainingJob> {
  const row = await getJob(db, id, apiKeyId);
  if (TERMINAL.includes(row.status)) return toJob(row);
  const now = Date.now();
  // queued: cancelled at once; running: the worker sees it on its next heartbeat
  const updated = await db
    .prepare(
      `UPDATE training_jobs SET cancel_requested = 1, updated_at = ?,
         status = CASE status WHEN 'queued' THEN 'cancelled' ELSE status END
       WHERE id = ? RETURNING *`,
    )
    .bind(now, id)
    .first<JobRow>();
  await addEvent(db, id, updated?.status === 'cancelled' ? 'cancelled' : 'cancel_requested', {}, now);
  return toJob(updated as JobRow);
}

/** Jobs whose lease ran out go back to the queue, or fail for good after max_attempts. */
export async function requeueExpired(db: D1Database, now = Date.now()): Promise<JobRow[]> {
  const { results } = await db
    .prepare(
      `UPDATE training_jobs SET
         status = CASE WHEN cancel_requested = 1 THEN 'cancelled'
                       WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
         error = CASE WHEN attempts >= max_attempts AND cancel_requested = 0
                      THEN 'lease expired after ' || attempts || ' attempt(s)' || COALESCE('; last error: ' || error, '')
                      ELSE error END,
         lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
       WHERE status = 'running' AND lease_expires_at < ? RETURNING *`,
    )
    .bind(now, now)
    .all<JobRow>();
  for (const row of results)
    await addEvent(db, row.id, row.status === 'queued' ? 'requeued' : row.status, { reason: 'lease expired' }, now);
  return results;
}

export async function leaseJob(
  db: D1Database,
  workerId: string,
  leaseMs: number,
  now = Date.now(),
): Promise<JobRow | undefined> {
  const row = await db
    .prepare(
      `UPDATE training_jobs SET status = 'running', lease_owner = ?, lease_expires_at = ?, attempts = attempts + 1, updated_at = ?
       WHERE id = (SELECT id FROM training_jobs WHERE status = 'queued' ORDER BY created_at LIMIT 1) AND status = 'queued'
       RETURNING *`,
    )
    .bind(workerId, now + leaseMs, now)
    .first<JobRow>();
  if (row) await addEvent(db, row.id, 'leased', { workerId, attempt: row.attempts }, now);
  return row ?? undefined;
}

/** Runs an update only while `workerId` holds the lease; lease_lost (409) otherwise. */
async function whileLeased(
  db: D1Database,
  id: string,
  workerId: string,
  sql: string,
  binds: unknown[],
): Promise<JobRow> {
  const row = await db
    .prepare(`${sql} WHERE id = ? AND status = 'running' AND lease_owner = ? RETURNING *`)
    .bind(...binds, id, workerId)
    .first<JobRow>();
  if (!row) throw new CvaeError('lease_lost', `Worker '${workerId}' does not hold a lease on job '${id}'`);
  return row;
}

export async function heartbeat(db: D1Database, id: string, workerId: string, progress: unknown, leaseMs: number) {
  const now = Date.now();
  const row = await whileLeased(
    db,
    id,
    workerId,
    'UPDATE training_jobs SET progress = ?, lease_expires_at = ?, updated_at = ?',
    [JSON.stringify(progress), now + leaseMs, now],
  );
  await addEvent(db, id, 'progress', progress, now);
  return row;
}

export async function finishJob(
  db: D1Database,
  id: string,
  workerId: string,
  outcome:
    | { status: 'succeeded'; model: { id: string; version: string }; metrics?: unknown }
    | { status: 'failed' | 'queued' | 'cancelled'; error?: string },
): Promise<JobRow> {
  const now = Date.now();
  const row =
    outcome.status === 'succeeded'
      ? await whileLeased(
          db,
          id,
          workerId,
          `UPDATE training_jobs SET status = 'succeeded', model_id = ?, model_version = ?, metrics = ?, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?`,
          [outcome.model.id, outcome.model.version, JSON.stringify(outcome.metrics ?? {}), now],
        )
      : await whileLeased(
          db,
          id,
          workerId,
          `UPDATE training_jobs SET status = ?, error = COALESCE(?, error), lease_owner = NULL, lease_expires_at = NULL, updated_at = ?`,
          [outcome.status, outcome.error ?? null, now],
        );
  await addEvent(db, id, outcome.status === 'queued' ? 'requeued' : outcome.status, outcome, now);
  return row;
}

/**
 * A worker reports a failure. Retryable failures go back to the queue while attempts remain and
 * nobody asked to cancel; the rest fail for good.
 */
export async function failJob(
  db: D1Database,
  id: string,
  workerId: string,
  error: string,
  retryable: boolean,
): Promise<JobRow> {
  const current = await getJob(db, id);
  const again = retryable && current.attempts < current.max_attempts && current.cancel_requested === 0;
  return finishJob(db, id, workerId, { status: again ? 'queued' : 'failed', error });
}

/**
 * A worker hands a job back (shutdown, cancellation): cancelled if the user asked, else queued
 * again without using up an attempt (a release is not the job's fault). One guarded update.
 */
export async function releaseJob(db: D1Database, id: string, workerId: string, reason: string): Promise<JobRow> {
  const current = await getJob(db, id);
  if (current.cancel_requested === 1) return finishJob(db, id, workerId, { status: 'cancelled', error: reason });
  const now = Date.now();
  const row = await whileLeased(
    db,
    id,
    workerId,
    `UPDATE training_jobs SET status = 'queued', attempts = MAX(attempts - 1, 0), lease_owner = NULL, lease_expires_at = NULL, updated_at = ?`,
    [now],
  );
  await addEvent(db, id, 'requeued', { status: 'queued', reason }, now);
  return row;
}

/** A worker published the job's model: it must be where the job said (its owner's namespace). */
export async function completeJob(
  db: D1Database,
  id: string,
  workerId: string,
  model: { id: string; version: string },
  metrics: unknown,
): Promise<JobRow> {
  const current = toJob(await getJob(db, id));
  if (model.id !== current.config.modelId)
    throw new CvaeError('model_mismatch', `job ${id} publishes to '${current.config.modelId}', not ${quote(model.id)}`);
  return finishJob(db, id, workerId, { status: 'succeeded', model, metrics });
}

export async function eventsAfter(db: D1Database, jobId: string, afterId: number) {
  const { results } = await db
    .prepare('SELECT id, at, type, data FROM training_job_events WHERE job_id = ? AND id > ? ORDER BY id LIMIT 100')
    .bind(jobId, afterId)
    .all<{ id: number; at: number; type: string; data: string }>();
  return results;
}

export interface ApiKey {
  id: string;
  owner: string;
}

export async function apiKeyFor(db: D1Database, key: string): Promise<ApiKey | undefined> {
  const hash = await sha256Hex(new TextEncoder().encode(key));
  const row = await db
    .prepare('SELECT id, owner FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL')
    .bind(hash)
    .first<ApiKey>();
  return row ?? undefined;
}

/** A new key for `owner`'s namespace (default: a namespace of its own). The key is returned once. */
export async function createApiKey(
  db: D1Database,
  name: string,
  owner?: string,
): Promise<{ id: string; key: string; owner: string }> {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  const key = `cvae_${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
  const id = `key_${crypto.randomUUID().slice(0, 8)}`;
  const namespace = owner ?? `u-${id.slice(4)}`;
  if (!OWNER_PATTERN.test(namespace))
    throw new CvaeError(
      'invalid_request',
      `owner ${quote(namespace)} is not a namespace (lowercase letters, digits, dashes)`,
    );
  await db
    .prepare('INSERT INTO api_keys (id, name, key_hash, created_at, owner) VALUES (?, ?, ?, ?, ?)')
    .bind(id, name, await sha256Hex(new TextEncoder().encode(key)), Date.now(), namespace)
    .run();
  return { id, key, owner: namespace };
}

export async function revokeApiKey(db: D1Database, id: string): Promise<boolean> {
  const res = await db
    .prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL')
    .bind(Date.now(), id)
    .run();
  return (res.meta.changes ?? 0) > 0;
}
