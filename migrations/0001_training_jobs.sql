-- Training jobs, their events, and the API keys allowed to create them (D1 / SQLite).
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE,      -- sha256 hex of the key; the key itself is shown once
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);

CREATE TABLE training_jobs (
  id TEXT PRIMARY KEY,
  api_key_id TEXT NOT NULL REFERENCES api_keys(id),
  idempotency_key TEXT NOT NULL,
  config_hash TEXT NOT NULL,
  config TEXT NOT NULL,               -- JSON, validated
  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL DEFAULT 3,
  lease_owner TEXT,
  lease_expires_at INTEGER,
  progress TEXT,                      -- JSON from the last heartbeat
  metrics TEXT,                       -- JSON at completion
  model_id TEXT,
  model_version TEXT,
  error TEXT,
  webhook_url TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (api_key_id, idempotency_key)
);
CREATE INDEX training_jobs_queue ON training_jobs (status, created_at);

CREATE TABLE training_job_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id TEXT NOT NULL REFERENCES training_jobs(id),
  at INTEGER NOT NULL,
  type TEXT NOT NULL,                 -- queued, leased, progress, checkpoint, succeeded, failed, cancelled, requeued
  data TEXT NOT NULL                  -- JSON
);
CREATE INDEX training_job_events_job ON training_job_events (job_id, id);
