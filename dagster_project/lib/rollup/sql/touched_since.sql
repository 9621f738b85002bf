-- (organization, UTC hour) pairs that received events in transactions started at or after
-- %(since)s: ingest.touched_event_hours.last_touched_at is now() of the touching transaction.
SELECT organization_id, event_hour, rows_added, last_touched_at
FROM ingest.touched_event_hours
WHERE last_touched_at >= %(since)s
ORDER BY event_hour, organization_id
