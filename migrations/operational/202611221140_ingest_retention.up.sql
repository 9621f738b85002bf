-- migrate:no-transaction
-- Retention of the ingestion bookkeeping (configs/data-classification.yml, enforced by
-- `platformctl ingest-prune` and the ingest_bookkeeping_retention asset, lib/ingest/retention.py).
--
-- ingest.event_keys grows by one row per stored event (~100 bytes with its index) and is pruned
-- by occurred_at once the events it guards are past their retention. A btree on occurred_at
-- would cost every ingested event another index insert; BRIN costs nearly nothing: rows are
-- appended in arrival order, which follows occurred_at within the ingestion retention window
-- (late events are at most retention_days old), so each 128-page range covers a narrow span and
-- the prune's range scan skips everything newer. autosummarize: new ranges get summarized
-- after autovacuum notices them, not only by a manual brin_summarize_new_values().
-- CONCURRENTLY (so outside a transaction): building on a large event_keys must not block
-- ingestion. IF NOT EXISTS makes a rerun after a failure finish the job; an index a failed
-- build left INVALID is reported by `platformctl migrate status` (drop it, then rerun).
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_event_keys_occurred_at ON ingest.event_keys USING brin (occurred_at)
    WITH (autosummarize = on);

-- Batches are pruned by received_at (one row per file: a btree costs ingestion nothing).
-- ingest.quarantine already has idx_quarantine_quarantined_at; ingest.touched_event_hours is a
-- small work queue (the rollups claim its rows), scanned whole.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_ingestion_batches_received_at ON ingest.ingestion_batches (received_at);
