-- A plain INSERT after the anti-join: cheaper than ON CONFLICT's speculative insertion
-- (docs/performance.md). The primary key stays the guard: an ingester racing without the lock
-- would fail here, and its batch be retried.
INSERT INTO ingest.event_keys (key_id, organization_id, occurred_at, batch_id)
SELECT key_id, organization_id, occurred_at, %(batch_id)s FROM ingest_stage_keys
