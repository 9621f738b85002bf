-- UTC hours that received events in transactions started at or after %(since)s (last_touched_at
-- is now() of the touching transaction, i.e. its START: the caller subtracts a lookback).
SELECT DISTINCT event_hour
FROM ingest.touched_event_hours
WHERE last_touched_at >= %(since)s
ORDER BY event_hour
