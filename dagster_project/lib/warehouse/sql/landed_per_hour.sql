-- Events the warehouse now holds per UTC hour of the ranges (both engines), to compare with the
-- operational fingerprint read in the same snapshot as the copy.
SELECT date_trunc('hour', occurred_at AT TIME ZONE 'UTC') AS hour_utc, count(*) AS events
FROM landing.usage_events
WHERE {ranges}
GROUP BY 1
