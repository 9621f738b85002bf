-- Record the (organization, hour) pairs this transaction added events to; returns how many of
-- the events are late (before the hour the batch was received in).
WITH hours AS (
    SELECT organization_id, date_trunc('hour', occurred_at) AS event_hour, count(*) AS rows_added
    FROM ingest_stage GROUP BY 1, 2
), touched AS (
    INSERT INTO ingest.touched_event_hours AS t
        (organization_id, event_hour, rows_added, last_batch_id)
    -- Key order: concurrent shards then lock the same rows in the same order (no deadlock).
    SELECT organization_id, event_hour, rows_added, %(batch_id)s FROM hours ORDER BY 1, 2
    ON CONFLICT (organization_id, event_hour) DO UPDATE
        SET rows_added = t.rows_added + excluded.rows_added, last_touched_at = now(),
            last_batch_id = excluded.last_batch_id
)
SELECT coalesce(sum(rows_added) FILTER (WHERE event_hour < %(reference_hour)s), 0) FROM hours
