-- Every API key belongs to an owner: the namespace its jobs publish into (`<owner>/<name>`).
-- Keys made before owners existed get a namespace of their own, derived from their id.
ALTER TABLE api_keys ADD COLUMN owner TEXT;
UPDATE api_keys SET owner = 'u-' || lower(substr(id, 5)) WHERE owner IS NULL;
CREATE INDEX api_keys_owner ON api_keys (owner);
CREATE INDEX training_jobs_key_status ON training_jobs (api_key_id, status);
