-- The metadata column goes with its values: rows ingested since the up file lose them.
ALTER TABLE app.usage_events DROP COLUMN IF EXISTS metadata;
REVOKE SELECT ON app.organizations FROM platform_ingest;
-- Tables, their indexes, constraints, triggers and grants; then the functions and the schema.
DROP TABLE IF EXISTS ingest.touched_event_hours, ingest.quarantine, ingest.event_keys,
    ingest.ingestion_batches;
DROP FUNCTION IF EXISTS ingest.usage_events_default_partition_rows(bigint);
DROP FUNCTION IF EXISTS ingest.ingestion_batches_transition();
DROP SCHEMA IF EXISTS ingest;  -- RESTRICT: fails if a later migration's objects were left behind
