-- The batch of this content in this format, created if new (state received). A batch is a
-- file's bytes read as its format: the same bytes under another format are another batch.
INSERT INTO ingest.ingestion_batches
    (content_sha256, source, format, reference_time, shards, shard_lines_done)
VALUES (%(digest)s, %(source)s, %(format)s, now(), %(shards)s,
        array_fill(0::bigint, ARRAY[%(shards)s::int]))
ON CONFLICT (content_sha256, format) DO NOTHING
