-- The (organization, UTC hour) pairs of the re-costed events, into ingestion's work queue, so the
-- warehouse loader and late_events_sensor re-roll them (lib/rollup/late.py). rows_added counts
-- the re-costed events; last_batch_id 0 = not an ingestion batch (a reprice), and an existing
-- row keeps the batch that last added to it.
INSERT INTO ingest.touched_event_hours AS t (organization_id, event_hour, rows_added, last_batch_id)
SELECT organization_id, date_bin('1 hour', occurred_at, '2000-01-01 00:00:00+00'), count(*), 0
FROM reprice_plan
WHERE changed
GROUP BY 1, 2
ORDER BY 1, 2
ON CONFLICT (organization_id, event_hour) DO UPDATE
    SET rows_added = t.rows_added + excluded.rows_added, last_touched_at = now()
