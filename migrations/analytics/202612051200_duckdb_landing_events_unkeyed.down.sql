-- DuckDB only: the primary key back on landing.usage_events (fails, changing nothing, if the
-- table holds a duplicate (organization_id, event_id)).

-- migrate:only duckdb
ALTER TABLE landing.usage_events ADD PRIMARY KEY (organization_id, event_id);
