-- Back to numeric(20, 10) rollup costs and a sha256-only batch identity. Refuses (and changes
-- nothing) when a rollup cost no longer fits numeric(20, 10), or when two batches share a sha256
-- under different formats: delete or merge those rows first, deliberately.
ALTER TABLE ingest.ingestion_batches
    DROP CONSTRAINT uq_ingestion_batches_content,
    ADD CONSTRAINT uq_ingestion_batches_content_sha256 UNIQUE (content_sha256);
COMMENT ON TABLE ingest.ingestion_batches IS 'One row per ingested file or API call (identity: sha256 of its content): state machine, attempts, committed counts, resume points.';
ALTER TABLE app.usage_daily ALTER COLUMN cost_usd TYPE numeric(20, 10);
ALTER TABLE app.usage_hourly ALTER COLUMN cost_usd TYPE numeric(20, 10);
COMMENT ON COLUMN app.usage_daily.cost_usd IS 'Sum of the events'' cost_usd.';
COMMENT ON COLUMN app.usage_hourly.cost_usd IS 'Sum of the events'' cost_usd.';
