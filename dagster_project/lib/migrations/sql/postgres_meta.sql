-- History and audit tables of the migration engine (PostgreSQL). Idempotent.
CREATE SCHEMA IF NOT EXISTS platform_meta;

CREATE TABLE IF NOT EXISTS platform_meta.schema_migrations (
    target        text        NOT NULL,
    version       text        NOT NULL,
    slug          text        NOT NULL,
    checksum      text        NOT NULL,
    applied_at    timestamptz NOT NULL DEFAULT now(),
    duration_ms   bigint,
    applied_by    text        NOT NULL,
    dirty         boolean     NOT NULL DEFAULT false,
    transactional boolean     NOT NULL,
    metadata      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT pk_schema_migrations PRIMARY KEY (target, version),
    CONSTRAINT ck_schema_migrations_checksum CHECK (checksum ~ '^[0-9a-f]{64}$')
);

-- Engine audit trail until the operational audit_log exists; then records go there as well.
CREATE TABLE IF NOT EXISTS platform_meta.migration_audit (
    id          bigint GENERATED ALWAYS AS IDENTITY,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    actor       text        NOT NULL,
    action      text        NOT NULL,
    target      text        NOT NULL,
    version     text,
    metadata    jsonb       NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT pk_migration_audit PRIMARY KEY (id),
    CONSTRAINT ck_migration_audit_action CHECK (action IN ('apply', 'rollback', 'repair', 'failure'))
);
