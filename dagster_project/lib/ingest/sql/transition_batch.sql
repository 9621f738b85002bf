-- Move a batch along its state machine (trg_ingestion_batches_transition refuses illegal moves).
UPDATE ingest.ingestion_batches SET
    state = %(state)s,
    last_error = coalesce(%(error)s, last_error),
    attempts = attempts + %(attempt)s::int,
    started_at = CASE WHEN %(attempt)s THEN coalesce(started_at, now()) ELSE started_at END,
    finished_at = CASE WHEN %(finished)s THEN clock_timestamp() ELSE finished_at END,
    next_attempt_at = clock_timestamp() + make_interval(secs => %(delay)s)
WHERE id = %(id)s
