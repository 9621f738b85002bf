-- DuckDB only: landing.usage_events without its primary key. PostgreSQL keeps it.
--
-- Every load deletes the UTC hours it copies before inserting them again, and a late event
-- re-loads its whole hour. On DuckDB 1.4 a DELETE from a table with a PRIMARY KEY (an ART
-- index) costs ~43 µs per row: re-loading 200,000 rows spent 8.6 s in the DELETE with the key
-- and 0.02 s without it (2 cores; tests/perf/bench_warehouse_load.py, docs/performance.md
-- "Warehouse load"). The key's guarantee, "a row copied twice fails the load", is kept by the
-- loader instead (lib/warehouse/duck.py, check_landed): within the hours it replaced, every
-- (organization_id, event_id) once, and every inserted row inside those hours; across hours the
-- operational ingest.event_keys already makes (organization_id, event_id) unique.
--
-- DuckDB cannot drop a constraint: the table is copied (types as they are now), the old one
-- dropped and the copy renamed; CREATE TABLE AS drops NOT NULL, so it is set again.
--
-- lint:allow-no-primary-key the key's deletes are the cost this migration removes (see above)
-- lint:allow-drop the keyed table is replaced by its unkeyed copy, rows included
-- lint:allow squawk:renaming-table, squawk:adding-not-nullable-field DuckDB-only statements; squawk's rules are about PostgreSQL's locks

-- migrate:only duckdb
CREATE TABLE landing.usage_events_unkeyed AS SELECT * FROM landing.usage_events;

-- migrate:only duckdb
DROP TABLE landing.usage_events;

-- migrate:only duckdb
ALTER TABLE landing.usage_events_unkeyed RENAME TO usage_events;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN occurred_at SET NOT NULL;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN received_at SET NOT NULL;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN organization_id SET NOT NULL;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN model_id SET NOT NULL;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN input_tokens SET NOT NULL;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN output_tokens SET NOT NULL;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN latency_ms SET NOT NULL;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN event_id SET NOT NULL;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN operation SET NOT NULL;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN status SET NOT NULL;

-- migrate:only duckdb
ALTER TABLE landing.usage_events ALTER COLUMN cost_usd SET NOT NULL;
