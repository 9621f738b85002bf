-- Concurrent ingesters lock the key buckets (0-15) they load, in order (no deadlocks): two
-- batches holding copies of one key load one after the other, so the anti-join of
-- delete_stored_keys.sql sees what the other committed. Parameters: lock class, bucket numbers.
SELECT pg_advisory_xact_lock(%s, b) FROM (SELECT DISTINCT unnest(%s::int[]) AS b ORDER BY 1) AS l
