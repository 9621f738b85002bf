-- The warehouse's landing zone: what lib/warehouse/ copies out of the operational database, for
-- dbt (dbt/) to roll up. One file for both engines (DuckDB, the embedded default, and
-- PostgreSQL): portable DDL only; a statement only one engine has is marked
-- `-- migrate:only postgres` (see lib/migrations/sqlsplit.py, Statement.only).
--
-- What may leave the operational database is decided by configs/data-classification.yml and
-- enforced in lib/warehouse/export.py (a test compares these tables with it): `secret` columns
-- never, `confidential` columns only as `<column>_pseudonym` (hex HMAC-SHA256 under the
-- warehouse's pseudonym key), everything else as it is.
--
-- usage_events is replaced hour by hour: a load deletes the UTC hours it copies and inserts
-- them again, in one transaction, and records each hour in loaded_hours. The dimensions are
-- small and replaced whole on every load.

CREATE SCHEMA IF NOT EXISTS landing;

CREATE TABLE landing.usage_events (
    occurred_at TIMESTAMPTZ NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    organization_id UUID NOT NULL,
    user_id UUID,
    api_key_id UUID,
    model_id UUID NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    latency_ms INTEGER NOT NULL,
    event_id VARCHAR NOT NULL,
    operation VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    error_code VARCHAR,
    cost_usd DECIMAL(18, 10) NOT NULL,
    metadata_pseudonym VARCHAR,
    -- The operational idempotency key: a row copied twice fails the load instead of counting
    -- twice. Costs DuckDB ~1 s per million rows loaded (measured, 2 cores); worth it.
    PRIMARY KEY (organization_id, event_id)
);

-- One row per UTC hour of usage_events the warehouse holds: when it was copied, by which load,
-- and what the operational rollup (app.usage_hourly) said about that hour in the same snapshot.
CREATE TABLE landing.loaded_hours (
    hour_start TIMESTAMPTZ NOT NULL PRIMARY KEY,
    events BIGINT NOT NULL,
    cost_usd DECIMAL(38, 10) NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL,
    load_id VARCHAR NOT NULL
);

CREATE TABLE landing.organizations (
    id UUID NOT NULL PRIMARY KEY,
    slug VARCHAR NOT NULL,
    name_pseudonym VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE landing.users (
    id UUID NOT NULL PRIMARY KEY,
    email_pseudonym VARCHAR NOT NULL,
    display_name_pseudonym VARCHAR,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE landing.memberships (
    organization_id UUID NOT NULL,
    user_id UUID NOT NULL,
    role VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);

-- No key_hash: it is `secret`.
CREATE TABLE landing.api_keys (
    id UUID NOT NULL PRIMARY KEY,
    organization_id UUID NOT NULL,
    name VARCHAR NOT NULL,
    key_prefix VARCHAR NOT NULL,
    scopes VARCHAR[] NOT NULL,
    created_by UUID,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ
);

CREATE TABLE landing.model_registry (
    id UUID NOT NULL PRIMARY KEY,
    provider VARCHAR NOT NULL,
    model_name VARCHAR NOT NULL,
    version VARCHAR NOT NULL,
    context_window INTEGER NOT NULL,
    status VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE landing.model_prices (
    model_id UUID NOT NULL,
    effective_from TIMESTAMPTZ NOT NULL,
    effective_to TIMESTAMPTZ,
    input_usd_per_mtok DECIMAL(12, 6) NOT NULL,
    output_usd_per_mtok DECIMAL(12, 6) NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (model_id, effective_from)
);

CREATE TABLE landing.budgets (
    id UUID NOT NULL PRIMARY KEY,
    organization_id UUID NOT NULL,
    model_id UUID,
    period VARCHAR NOT NULL,
    token_limit BIGINT,
    cost_limit_usd DECIMAL(14, 4),
    soft_threshold DECIMAL(4, 3) NOT NULL,
    hard_threshold DECIMAL(4, 3) NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- PostgreSQL has no zone maps: the hour-by-hour replace deletes by occurred_at.
-- migrate:only postgres
CREATE INDEX idx_landing_usage_events_occurred_at ON landing.usage_events (occurred_at);
