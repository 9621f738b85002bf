-- migrate:no-transaction
DROP INDEX CONCURRENTLY IF EXISTS ingest.idx_ingestion_batches_received_at;
DROP INDEX CONCURRENTLY IF EXISTS ingest.idx_event_keys_occurred_at;
