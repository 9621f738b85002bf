-- Keys stored already (by an earlier chunk or batch, or by a concurrent ingester that committed
-- before we got the bucket's lock): their events are duplicates. The first accepted copy wins.
WITH stored AS (
    DELETE FROM ingest_stage_keys AS s USING ingest.event_keys AS k WHERE k.key_id = s.key_id
    RETURNING s.seq
)
SELECT coalesce(array_agg(seq), '{}') FROM stored
