-- Usage-event ingestion (lib/ingest/): its bookkeeping schema `ingest`, and what it needs in `app`.
--
-- Idempotency. An (organization_id, event_id) pair must be stored once, even when a retry
-- carries another occurred_at. app.usage_events cannot enforce that: it is partitioned by
-- occurred_at, so every unique key must contain occurred_at, and a retry stamped a second later
-- is a different primary key, possibly in another partition. Hence a separate, NON-partitioned
-- ingest.event_keys with one row per stored event, whose primary key is the idempotency key
-- itself, hashed to 16 bytes: key_id = md5(organization_id::text || ':' || event_id)::uuid.
--   * Why a hash: a uuid compares with one memcmp and keeps the index at ~30 bytes per entry
--     (the text key would be ~2.5x wider, so more pages to cache and to write to WAL). md5's
--     128 bits make an accidental collision (which would drop an event as a duplicate) about
--     as likely as 2^-64 per pair of keys at 4 billion keys; nobody chooses another tenant's
--     keys, since the organization is part of the hashed text.
--   * The ingester computes key_id (vectorised, client side) and, per batch and organization,
--     under a transaction-level advisory lock on the organization: anti-joins the staged rows
--     against this table, inserts the new keys, then inserts the events. Both inserts commit
--     together, so a key exists exactly when its event does. The primary key is the real guard:
--     an ingester that skipped the lock would fail with a unique violation and retry, never
--     store twice. The first accepted copy (by commit order, then line order) wins.
--   * Not partitioned, no foreign keys (each would cost a per-row trigger on the hot path):
--     batch_id and organization_id are provenance, written only by the ingester.
-- Why not the alternatives: a unique (organization_id, event_id) on usage_events is impossible
-- (partition key); ON CONFLICT on the events' primary key only catches retries with the same
-- occurred_at; a per-partition index on (organization_id, event_id) cannot be unique across
-- partitions and would be probed in every partition.
--
-- Tenant isolation. Everything in `ingest` is the ingestion service's own bookkeeping, never
-- tenant-facing: only platform_ingest (and the owner) may use the schema. Tenant data stays in
-- app.usage_events, which the ingester writes as platform_ingest under RLS: one INSERT per
-- organization of a batch, with app.current_org_id set to that organization, so the existing
-- policy's WITH CHECK holds every row to its tenant. The quarantine must hold events whose
-- organization is unknown or unreadable, so it cannot be tenant-scoped.

CREATE SCHEMA ingest AUTHORIZATION platform_owner;
COMMENT ON SCHEMA ingest IS 'Usage-event ingestion bookkeeping: batches, idempotency keys, quarantine, touched event-hours. Service-internal (platform_ingest only).';
GRANT USAGE ON SCHEMA ingest TO platform_ingest;

-- One row per batch (a file, or one call of the Python API), identified by the sha256 of its
-- bytes: the same content ingested again, under any name, is the same batch (a replay).
-- State machine (enforced by trg_ingestion_batches_transition):
--   received -> validating -> loaded | failed;  failed -> retrying | dead_lettered;
--   retrying -> validating;  dead_lettered -> retrying (an operator's explicit retry).
-- Counters are the committed totals: every chunk commits its rows, its counts and its shard's
-- resume point (shard_lines_done) in one transaction, so submitted = accepted + duplicates +
-- quarantined holds after every commit, not just at the end.
CREATE TABLE ingest.ingestion_batches (
    id bigint GENERATED ALWAYS AS IDENTITY,
    content_sha256 bytea NOT NULL,
    source text NOT NULL,
    format text NOT NULL,
    state text NOT NULL DEFAULT 'received',
    attempts integer NOT NULL DEFAULT 0,
    -- The clock of the batch: clock-skew and retention checks use it on every attempt, so a
    -- retry or a rerun after a crash classifies each event exactly as the first attempt did.
    reference_time timestamptz NOT NULL,
    -- Organizations are split over this many parallel loaders (shards); element i is the last
    -- line whose rows shard i-1 has committed: a rerun resumes after it.
    shards smallint NOT NULL,
    shard_lines_done bigint[] NOT NULL,
    submitted bigint NOT NULL DEFAULT 0,
    accepted bigint NOT NULL DEFAULT 0,
    duplicates bigint NOT NULL DEFAULT 0,
    quarantined bigint NOT NULL DEFAULT 0,
    -- Accepted events that occurred before the hour the batch was received in.
    late bigint NOT NULL DEFAULT 0,
    received_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz,
    last_error text,
    CONSTRAINT pk_ingestion_batches PRIMARY KEY (id),
    CONSTRAINT uq_ingestion_batches_content_sha256 UNIQUE (content_sha256),
    CONSTRAINT ck_ingestion_batches_content_sha256 CHECK (octet_length(content_sha256) = 32),
    CONSTRAINT ck_ingestion_batches_source CHECK (length(source) BETWEEN 1 AND 4096),
    CONSTRAINT ck_ingestion_batches_format CHECK (format IN ('ndjson', 'csv', 'parquet')),
    CONSTRAINT ck_ingestion_batches_state CHECK (
        state IN ('received', 'validating', 'loaded', 'failed', 'retrying', 'dead_lettered')),
    CONSTRAINT ck_ingestion_batches_attempts CHECK (attempts >= 0),
    CONSTRAINT ck_ingestion_batches_shards CHECK (
        shards BETWEEN 1 AND 64 AND cardinality(shard_lines_done) = shards),
    CONSTRAINT ck_ingestion_batches_counts CHECK (
        least(accepted, duplicates, quarantined, late) >= 0 AND late <= accepted),
    CONSTRAINT ck_ingestion_batches_accounting CHECK (submitted = accepted + duplicates + quarantined),
    CONSTRAINT ck_ingestion_batches_error CHECK (length(last_error) <= 4000)
);
ALTER TABLE ingest.ingestion_batches OWNER TO platform_owner;
COMMENT ON TABLE ingest.ingestion_batches IS 'One row per ingested file or API call (identity: sha256 of its content): state machine, attempts, committed counts, resume points.';

CREATE FUNCTION ingest.ingestion_batches_transition() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.state <> 'received' THEN
            RAISE EXCEPTION 'ingestion_batches: a new batch starts in state received, not %', NEW.state
                USING ERRCODE = 'check_violation';
        END IF;
    ELSIF NEW.state IS DISTINCT FROM OLD.state AND (OLD.state, NEW.state) NOT IN (
            ('received', 'validating'), ('validating', 'loaded'), ('validating', 'failed'),
            ('failed', 'retrying'), ('failed', 'dead_lettered'), ('retrying', 'validating'),
            ('dead_lettered', 'retrying')) THEN
        RAISE EXCEPTION 'ingestion_batches: batch % cannot go from % to %', OLD.id, OLD.state, NEW.state
            USING ERRCODE = 'check_violation';
    END IF;
    NEW.updated_at := clock_timestamp();
    RETURN NEW;
END
$$;
ALTER FUNCTION ingest.ingestion_batches_transition() OWNER TO platform_owner;
REVOKE ALL ON FUNCTION ingest.ingestion_batches_transition() FROM PUBLIC;
CREATE TRIGGER trg_ingestion_batches_transition
    BEFORE INSERT OR UPDATE ON ingest.ingestion_batches
    FOR EACH ROW EXECUTE FUNCTION ingest.ingestion_batches_transition();

-- The idempotency guard (see the top of this file). ~100 bytes per stored event with its index.
CREATE TABLE ingest.event_keys (
    key_id uuid NOT NULL,
    organization_id uuid NOT NULL,
    -- occurred_at of the stored copy: where to find the event, and what retention prunes by.
    occurred_at timestamptz NOT NULL,
    batch_id bigint NOT NULL,
    CONSTRAINT pk_event_keys PRIMARY KEY (key_id)
);
ALTER TABLE ingest.event_keys OWNER TO platform_owner;
COMMENT ON TABLE ingest.event_keys IS 'One row per stored usage event: key_id = md5(organization_id || '':'' || event_id)::uuid, unique across all partitions and occurred_at values.';

-- Invalid events, with the bytes they arrived as. Never aborts a batch; one row per line.
CREATE TABLE ingest.quarantine (
    batch_id bigint NOT NULL,
    -- NDJSON and CSV: the line number in the file (CSV: the header is line 1); Parquet: the
    -- row number (1-based); Python API: the position in the iterable (1-based).
    line_no bigint NOT NULL,
    reason text NOT NULL,
    detail text NOT NULL,
    source_file text NOT NULL,
    -- Copied from the payload when it holds a well-formed one (known or not), for triage.
    organization_id uuid,
    event_id text,
    -- The line as it arrived (CSV and Parquet: the row rendered as a JSON object of its raw
    -- values). payload_encoding 'base64' when the bytes are not storable as text (not UTF-8,
    -- or a NUL byte).
    raw_payload text NOT NULL,
    payload_encoding text NOT NULL DEFAULT 'utf8',
    quarantined_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_quarantine PRIMARY KEY (batch_id, line_no),
    CONSTRAINT fk_quarantine_batch FOREIGN KEY (batch_id) REFERENCES ingest.ingestion_batches (id),
    CONSTRAINT ck_quarantine_line_no CHECK (line_no >= 1),
    -- Documented in docs/runbooks/ingestion.md; lib/ingest/reasons.py is the code's list.
    CONSTRAINT ck_quarantine_reason CHECK (reason IN (
        'invalid_encoding', 'malformed_record', 'unknown_field', 'missing_field', 'invalid_type',
        'invalid_value', 'unknown_organization', 'organization_not_active', 'unknown_model',
        'no_price', 'api_key_not_in_organization', 'api_key_inactive', 'user_not_in_organization',
        'occurred_in_future', 'older_than_retention', 'no_partition')),
    CONSTRAINT ck_quarantine_detail CHECK (length(detail) <= 1000),
    CONSTRAINT ck_quarantine_event_id CHECK (length(event_id) <= 1000),
    CONSTRAINT ck_quarantine_payload_encoding CHECK (payload_encoding IN ('utf8', 'base64'))
);
ALTER TABLE ingest.quarantine OWNER TO platform_owner;
COMMENT ON TABLE ingest.quarantine IS 'Events that failed validation: raw payload, file, line and reason code. Triage: docs/runbooks/ingestion.md.';
-- "What was quarantined lately, and why": the runbook's first query, and the asset check's.
CREATE INDEX idx_quarantine_quarantined_at ON ingest.quarantine (quarantined_at);

-- Late arrivals: which (organization, UTC hour) received new rows, so the rollups re-roll
-- exactly those hours. A work queue: ingestion upserts a row per touched hour in the same
-- transaction as the rows; the rollup claims rows with DELETE ... RETURNING in its own
-- transaction. An hour touched again after the claim comes back as a new row, and an upsert
-- waiting on a row being claimed re-inserts it, so no touch is ever lost.
CREATE TABLE ingest.touched_event_hours (
    organization_id uuid NOT NULL,
    event_hour timestamptz NOT NULL,
    rows_added bigint NOT NULL,
    first_touched_at timestamptz NOT NULL DEFAULT now(),
    last_touched_at timestamptz NOT NULL DEFAULT now(),
    last_batch_id bigint NOT NULL,
    CONSTRAINT pk_touched_event_hours PRIMARY KEY (organization_id, event_hour),
    CONSTRAINT ck_touched_event_hours_event_hour CHECK (event_hour = date_trunc('hour', event_hour, 'UTC')),
    CONSTRAINT ck_touched_event_hours_rows_added CHECK (rows_added > 0)
);
ALTER TABLE ingest.touched_event_hours OWNER TO platform_owner;
COMMENT ON TABLE ingest.touched_event_hours IS 'Work queue of (organization, UTC hour) that received new usage events since the rollups last claimed them.';

GRANT SELECT, INSERT, UPDATE ON ingest.ingestion_batches TO platform_ingest;
GRANT SELECT, INSERT ON ingest.event_keys, ingest.quarantine TO platform_ingest;
GRANT SELECT, INSERT, UPDATE ON ingest.touched_event_hours TO platform_ingest;

-- Rows in a DEFAULT partition of app.usage_events (none exists by design; the asset check
-- fails if one appears and holds rows). Counts at most p_limit rows. SECURITY DEFINER: a
-- partition has no policies and no grants, only its owner reads it directly.
CREATE FUNCTION ingest.usage_events_default_partition_rows(p_limit bigint DEFAULT 1000)
    RETURNS TABLE (partition_name text, row_count bigint)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    default_partition regclass;
BEGIN
    SELECT NULLIF(p.partdefid, 0)::regclass INTO default_partition
    FROM pg_partitioned_table AS p
    WHERE p.partrelid = 'app.usage_events'::regclass;
    IF default_partition IS NULL THEN
        RETURN;
    END IF;
    partition_name := default_partition::text;
    EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM %s LIMIT %s) AS r', default_partition, p_limit)
        INTO row_count;
    RETURN NEXT;
END
$$;
ALTER FUNCTION ingest.usage_events_default_partition_rows(bigint) OWNER TO platform_owner;
REVOKE ALL ON FUNCTION ingest.usage_events_default_partition_rows(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ingest.usage_events_default_partition_rows(bigint) TO platform_ingest;

-- Validation reads the event's organization (exists, active) as that tenant: the existing
-- policy p_organizations_tenant already names platform_ingest, the grant was missing.
GRANT SELECT ON app.organizations TO platform_ingest;

-- The envelope's optional `metadata` object, kept as sent (NULL when absent). Nullable with no
-- default: a catalog-only change. The CHECK is added NOT VALID (no scan under this lock) and
-- validated by the next migration.
ALTER TABLE app.usage_events ADD COLUMN metadata jsonb;
ALTER TABLE app.usage_events
    ADD CONSTRAINT ck_usage_events_metadata CHECK (jsonb_typeof(metadata) = 'object') NOT VALID;
COMMENT ON COLUMN app.usage_events.metadata IS 'The event envelope''s optional metadata object, as sent; NULL when absent.';
