-- A shard's share of a chunk: its counts and its resume point, in the share's transaction.
UPDATE ingest.ingestion_batches
SET submitted = submitted + %(submitted)s, accepted = accepted + %(accepted)s,
    duplicates = duplicates + %(duplicates)s, quarantined = quarantined + %(quarantined)s,
    late = late + %(late)s, shard_lines_done[%(shard)s + 1] = %(last_line)s
WHERE id = %(batch_id)s
