-- The audit log: append-only, enforced by the database at three levels, so that no single
-- mistake (a GRANT, a policy, a superuser session) can rewrite history:
--   1. grants: the service roles get SELECT and INSERT only;
--   2. RLS: no policy allows UPDATE or DELETE, so even the owner matches no rows;
--   3. triggers: BEFORE UPDATE/DELETE (per row) and BEFORE TRUNCATE (per statement) raise, for
--      every role including superusers, unless a superuser deliberately disables them.
-- Records are history, not live links: actor and target are stored as values without foreign
-- keys (an FK action such as ON DELETE SET NULL would be an UPDATE here, and a plain FK would
-- forbid ever deleting a user). organization_id keeps its FK: organizations are closed, not
-- deleted, and the FK guarantees a tenant-scoped record names a real tenant.
CREATE TABLE app.audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    -- NULL for platform-level records (migrations, maintenance): visible to no tenant.
    organization_id uuid,
    actor_type text NOT NULL,
    -- A user or api key uuid as text, or a system principal such as `deploy@host`.
    actor_id text NOT NULL,
    action text NOT NULL,
    target_type text NOT NULL,
    target_id text,
    before_state jsonb,
    after_state jsonb,
    request_id text,
    ip_address inet,
    user_agent text,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT pk_audit_log PRIMARY KEY (id),
    CONSTRAINT fk_audit_log_organization FOREIGN KEY (organization_id) REFERENCES app.organizations (id),
    CONSTRAINT ck_audit_log_actor_type CHECK (actor_type IN ('user', 'api_key', 'system')),
    CONSTRAINT ck_audit_log_actor_id CHECK (length(actor_id) BETWEEN 1 AND 200),
    -- Only the system acts outside a tenant.
    CONSTRAINT ck_audit_log_platform_records CHECK (organization_id IS NOT NULL OR actor_type = 'system'),
    -- `noun.verb`, e.g. api_key.create, membership.delete, migration.apply.
    CONSTRAINT ck_audit_log_action CHECK (action ~ '^[a-z][a-z_]*(\.[a-z][a-z_]*)+$' AND length(action) <= 100),
    CONSTRAINT ck_audit_log_target_type CHECK (target_type ~ '^[a-z][a-z_]{0,63}$'),
    CONSTRAINT ck_audit_log_metadata CHECK (jsonb_typeof(metadata) = 'object')
);
ALTER TABLE app.audit_log OWNER TO platform_owner;
COMMENT ON TABLE app.audit_log IS 'Append-only record of who did what to which object, per organization (NULL: platform-level).';
-- fk_audit_log_organization, and a tenant's audit trail by time.
CREATE INDEX idx_audit_log_organization_occurred_at ON app.audit_log (organization_id, occurred_at);

CREATE FUNCTION app.audit_log_reject_change() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
ALTER FUNCTION app.audit_log_reject_change() OWNER TO platform_owner;
REVOKE ALL ON FUNCTION app.audit_log_reject_change() FROM PUBLIC;
CREATE TRIGGER trg_audit_log_append_only
    BEFORE UPDATE OR DELETE ON app.audit_log
    FOR EACH ROW EXECUTE FUNCTION app.audit_log_reject_change();
-- TRUNCATE fires no row triggers and ignores RLS: it needs its own statement trigger.
CREATE TRIGGER trg_audit_log_no_truncate
    BEFORE TRUNCATE ON app.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION app.audit_log_reject_change();

ALTER TABLE app.audit_log ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
-- A tenant reads and appends its own records; NULL never equals the tenant, so platform records
-- are invisible to every tenant and no tenant can write one.
CREATE POLICY p_audit_log_tenant ON app.audit_log
    FOR ALL TO platform_app, platform_ingest, platform_analyst
    USING (organization_id = app.current_org_id()) WITH CHECK (organization_id = app.current_org_id());
-- Platform records are written only through SECURITY DEFINER functions owned by platform_owner.
CREATE POLICY p_audit_log_platform_insert ON app.audit_log
    FOR INSERT TO platform_owner
    WITH CHECK (organization_id IS NULL AND actor_type = 'system');
GRANT SELECT, INSERT ON app.audit_log TO platform_app;

-- The migration engine's hook (drivers/postgres.py calls it after every apply, rollback, repair
-- and failure once it exists). It lives in public because the engine looks for it there.
-- SECURITY DEFINER with a fixed search_path: it runs as platform_owner whoever calls it, and
-- only the migration runner (a superuser) may call it.
CREATE FUNCTION public.record_migration_audit(
    actor text, action text, target text, version text, metadata jsonb
) RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO app.audit_log (organization_id, actor_type, actor_id, action, target_type, target_id, metadata)
    VALUES (NULL, 'system', record_migration_audit.actor, 'migration.' || record_migration_audit.action,
            'migration', record_migration_audit.target || ':' || coalesce(record_migration_audit.version, ''),
            coalesce(record_migration_audit.metadata, '{}'::jsonb))
$$;
ALTER FUNCTION public.record_migration_audit(text, text, text, text, jsonb) OWNER TO platform_owner;
REVOKE ALL ON FUNCTION public.record_migration_audit(text, text, text, text, jsonb) FROM PUBLIC;
