-- Two ingestion fixes (issue 9, section 1).
--
-- 1. The rollups' cost cannot overflow. app.usage_hourly/app.usage_daily.cost_usd was
--    numeric(20, 10) (below 10^10 USD): the envelope accepts an event costing up to
--    99,999,999.9999999999 USD (app.usage_events.cost_usd is numeric(18, 10); a higher cost is
--    quarantined as invalid_value), so about 100 such events, or ~116k events of the largest
--    token counts at a common price, in one (organization, model, day) overflowed it. The
--    trigger's INSERT then failed, the whole chunk with it, and the batch was dead-lettered with
--    every other tenant's events in it.
--    Sized now for the largest values the rollup can count: `requests` is a bigint, so a row
--    sums at most 2^63 - 1 events, each below 10^8 USD: below 9.23 * 10^26 < 10^28, which
--    numeric(38, 10) holds (28 digits before the point; the warehouse's rollups are
--    DECIMAL(38, 10) too). The token sums are bigint: they overflow only after 2^32 + 1
--    events of 2^31 - 1 tokens each (the envelope's maximum) in one (organization, model,
--    UTC day), i.e. 4.3 billion events a day for one tenant and model - 50k events/s for 24 h,
--    all at the maximum - beyond anything this database stores (docs/performance.md).
--    Raising a numeric's precision at the same scale does not rewrite the table (PostgreSQL
--    checks the typmod change is binary compatible): a brief ACCESS EXCLUSIVE lock only.
--
-- 2. A batch's identity is its content *and* its format. With a unique sha256 alone, a .csv
--    byte-identical to an earlier .parquet (or .ndjson) was reported as a replay of that batch
--    ("nothing new"), and the earlier batch's error was blamed on it. The same bytes read as
--    another format are other events (or none): another batch.
-- lint:allow squawk:changing-column-type numeric(20,10) -> (38,10) keeps the scale: no rewrite, no index rebuild
ALTER TABLE app.usage_hourly ALTER COLUMN cost_usd TYPE numeric(38, 10);
ALTER TABLE app.usage_daily ALTER COLUMN cost_usd TYPE numeric(38, 10);
COMMENT ON COLUMN app.usage_hourly.cost_usd IS 'Sum of the events'' cost_usd. numeric(38,10): holds the largest sum a row can count (2^63-1 events below 10^8 USD each).';
COMMENT ON COLUMN app.usage_daily.cost_usd IS 'Sum of the events'' cost_usd. numeric(38,10): holds the largest sum a row can count (2^63-1 events below 10^8 USD each).';

-- ingestion_batches holds one row per file (~400 days of them, thousands of rows): building the
-- unique index under the lock takes milliseconds and blocks only the ingesters' claim.
-- lint:allow squawk:constraint-missing-not-valid, squawk:disallowed-unique-constraint small bookkeeping table
-- lint:allow-drop the sha256-only key is replaced by the (sha256, format) key in the same transaction
ALTER TABLE ingest.ingestion_batches
    DROP CONSTRAINT uq_ingestion_batches_content_sha256,
    ADD CONSTRAINT uq_ingestion_batches_content UNIQUE (content_sha256, format);
COMMENT ON TABLE ingest.ingestion_batches IS 'One row per ingested file or API call (identity: sha256 of its content and its format): state machine, attempts, committed counts, resume points.';
