-- Replace the foreign key app.usage_events -> app.organizations: the same invariant (no event
-- without its organization), checked once per rollup group on insert and by a guard on the
-- organizations side (deleting an organization, changing its id) instead of once per row.
--
-- Why: PostgreSQL 15 checks a foreign key with one SPI query (and a FOR KEY SHARE row lock) per
-- inserted row. Ingestion inserts ~1M events per file; measured on this machine the check was
-- ~5 us of server CPU per event in isolation and ~9 us inside the ingest pipeline, more than
-- everything else the INSERT does (docs/performance.md, "ingest").
--
-- Inserting an event for an unknown organization still fails, for every writer, with
-- 23503: trg_usage_events_rollup (ENABLE ALWAYS, statement level) upserts each statement's
-- (organization, hour, ...) groups into app.usage_hourly and app.usage_daily, whose foreign keys
-- to app.organizations are checked once per group instead of once per event. Before that,
-- ingestion validates that the organization exists and is active (lib/ingest/validate.py).
--
-- The other direction (an organization deleted while an event references it) is what the key
-- also prevented; the rollups' keys cascade instead. Organizations are closed (status), not
-- deleted: no service role has DELETE on them, and app.audit_log's foreign key already blocks
-- deleting any organization with history. The trigger below refuses it with the same
-- SQLSTATE (23503 foreign_key_violation). It is SECURITY DEFINER so the check sees every
-- tenant's events whoever deletes: FORCE RLS filters the owner too, so platform_owner gets a
-- SELECT-only policy, used by this function alone (the role is NOLOGIN and acts only through
-- functions it owns).
-- lint:allow-drop the foreign key is replaced by the guard trigger below, in the same transaction
ALTER TABLE app.usage_events DROP CONSTRAINT fk_usage_events_organization;

CREATE POLICY p_usage_events_owner_reads ON app.usage_events
    FOR SELECT TO platform_owner
    USING (true);

CREATE FUNCTION app.organizations_keep_usage_events() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        IF EXISTS (SELECT 1 FROM app.usage_events) THEN
            RAISE EXCEPTION 'cannot truncate app.organizations: app.usage_events has rows'
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN
        RETURN NULL;
    END IF;
    -- One probe of the primary key (organization_id leads it) per partition.
    IF EXISTS (SELECT 1 FROM app.usage_events WHERE organization_id = OLD.id) THEN
        RAISE EXCEPTION 'organization % still has usage events', OLD.id
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = 'app.usage_events keeps every event of an organization; close the organization (status) instead.';
    END IF;
    RETURN NULL;
END
$$;
ALTER FUNCTION app.organizations_keep_usage_events() OWNER TO platform_owner;
REVOKE ALL ON FUNCTION app.organizations_keep_usage_events() FROM PUBLIC;
COMMENT ON FUNCTION app.organizations_keep_usage_events() IS 'Guard replacing the usage_events -> organizations foreign key: refuses deleting (or re-keying, or truncating) organizations that have usage events.';

-- AFTER, like the foreign key's own triggers: row-level security's WITH CHECK and the other
-- constraints judge the statement first, so a refused change reports the same error as before.
CREATE TRIGGER trg_organizations_keep_usage_events
    AFTER DELETE OR UPDATE OF id ON app.organizations
    FOR EACH ROW EXECUTE FUNCTION app.organizations_keep_usage_events();
CREATE TRIGGER trg_organizations_keep_usage_events_truncate
    BEFORE TRUNCATE ON app.organizations
    FOR EACH STATEMENT EXECUTE FUNCTION app.organizations_keep_usage_events();

COMMENT ON TABLE app.usage_events IS 'One row per LLM request; daily RANGE partitions on occurred_at (UTC), no default partition. No foreign keys (each costs a per-row check on ingestion): the organization is guarded by trg_organizations_keep_usage_events, user, key and model are validated by ingestion.';
