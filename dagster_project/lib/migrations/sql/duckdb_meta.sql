-- History and audit tables of the migration engine (DuckDB). Idempotent.
CREATE SCHEMA IF NOT EXISTS platform_meta;

CREATE TABLE IF NOT EXISTS platform_meta.schema_migrations (
    target        VARCHAR     NOT NULL,
    version       VARCHAR     NOT NULL,
    slug          VARCHAR     NOT NULL,
    checksum      VARCHAR     NOT NULL,
    applied_at    TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    duration_ms   BIGINT,
    applied_by    VARCHAR     NOT NULL,
    dirty         BOOLEAN     NOT NULL DEFAULT false,
    transactional BOOLEAN     NOT NULL,
    metadata      VARCHAR     NOT NULL DEFAULT '{}',
    PRIMARY KEY (target, version)
);

CREATE SEQUENCE IF NOT EXISTS platform_meta.migration_audit_id;

CREATE TABLE IF NOT EXISTS platform_meta.migration_audit (
    id          BIGINT      NOT NULL DEFAULT nextval('platform_meta.migration_audit_id') PRIMARY KEY,
    occurred_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    actor       VARCHAR     NOT NULL,
    action      VARCHAR     NOT NULL CHECK (action IN ('apply', 'rollback', 'repair', 'failure')),
    target      VARCHAR     NOT NULL,
    version     VARCHAR,
    metadata    VARCHAR     NOT NULL DEFAULT '{}'
);
