-- Tenants, identities, memberships and API keys, with row-level security.
--
-- Isolation model: the tenant is the organization. A table is tenant-scoped when its rows belong
-- to one organization (an organization_id column; organizations itself by its id). Each such
-- table has RLS ENABLED and FORCED (FORCE: the owner is filtered too, so a SECURITY DEFINER
-- function sees only what a policy for platform_owner allows) and one policy for the service
-- roles that reads the tenant from app.current_org_id() in USING and WITH CHECK. GRANTs decide
-- which commands a role may run; the policy decides which rows.
-- Ids are uuids so seeds can derive them from stable names and so a guessed id reveals nothing.

CREATE TABLE app.organizations (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    slug text NOT NULL,
    name text NOT NULL,
    status text NOT NULL DEFAULT 'active',
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_organizations PRIMARY KEY (id),
    CONSTRAINT uq_organizations_slug UNIQUE (slug),
    CONSTRAINT ck_organizations_slug CHECK (slug ~ '^[a-z0-9](-?[a-z0-9])*$' AND length(slug) <= 63),
    CONSTRAINT ck_organizations_name CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    -- Organizations are closed, not deleted: usage_events and audit_log keep referencing them.
    CONSTRAINT ck_organizations_status CHECK (status IN ('active', 'suspended', 'closed'))
);
ALTER TABLE app.organizations OWNER TO platform_owner;
COMMENT ON TABLE app.organizations IS 'Tenants. A row is visible only inside a transaction whose app.current_org_id is its id.';

-- A person, global across tenants: one user may belong to several organizations.
CREATE TABLE app.users (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    email text NOT NULL,
    display_name text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_users PRIMARY KEY (id),
    CONSTRAINT uq_users_email UNIQUE (email),
    -- Stored lower-cased, so the plain unique key is case-insensitive (no citext, no expression index).
    CONSTRAINT ck_users_email CHECK (email = lower(email) AND email ~ '^[^@\s]+@[^@\s]+$' AND length(email) <= 320),
    CONSTRAINT ck_users_display_name CHECK (length(btrim(display_name)) BETWEEN 1 AND 200)
);
ALTER TABLE app.users OWNER TO platform_owner;
COMMENT ON TABLE app.users IS 'People, global across tenants. Visible to a tenant only while they are members of it.';

CREATE TABLE app.memberships (
    organization_id uuid NOT NULL,
    user_id uuid NOT NULL,
    role text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- Also the org membership check of the query contract: one probe on (organization_id, user_id).
    CONSTRAINT pk_memberships PRIMARY KEY (organization_id, user_id),
    CONSTRAINT fk_memberships_organization FOREIGN KEY (organization_id)
        REFERENCES app.organizations (id) ON DELETE CASCADE,
    CONSTRAINT fk_memberships_user FOREIGN KEY (user_id) REFERENCES app.users (id) ON DELETE CASCADE,
    CONSTRAINT ck_memberships_role CHECK (role IN ('owner', 'admin', 'member', 'viewer'))
);
ALTER TABLE app.memberships OWNER TO platform_owner;
COMMENT ON TABLE app.memberships IS 'Which users belong to which organization, with what role.';
-- fk_memberships_user, and "which organizations does this user belong to".
CREATE INDEX idx_memberships_user_id ON app.memberships (user_id);

-- The plaintext key is shown once and never stored: only its sha256 (exactly 32 raw bytes, and
-- keys are longer than that, so a plaintext key cannot be stored here by mistake) and a short
-- display prefix. Key format (type prefix, checksum) is the key generator's business.
CREATE TABLE app.api_keys (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL,
    name text NOT NULL,
    key_prefix text NOT NULL,
    key_hash bytea NOT NULL,
    scopes text[] NOT NULL,
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    revoked_at timestamptz,
    last_used_at timestamptz,
    CONSTRAINT pk_api_keys PRIMARY KEY (id),
    -- Key lookup by hash: one probe of this unique index (see app.lookup_api_key).
    CONSTRAINT uq_api_keys_key_hash UNIQUE (key_hash),
    CONSTRAINT fk_api_keys_organization FOREIGN KEY (organization_id)
        REFERENCES app.organizations (id) ON DELETE CASCADE,
    -- The creator must be a member of the key's own organization (a plain FK to users would
    -- accept any tenant's user). When the membership ends the key stays, unattributed; who
    -- created it remains in audit_log.
    CONSTRAINT fk_api_keys_created_by FOREIGN KEY (organization_id, created_by)
        REFERENCES app.memberships (organization_id, user_id) ON DELETE SET NULL (created_by),
    CONSTRAINT ck_api_keys_key_hash CHECK (octet_length(key_hash) = 32),
    -- Short enough that the displayed part cannot help guess the rest of the key.
    CONSTRAINT ck_api_keys_key_prefix CHECK (key_prefix ~ '^[A-Za-z0-9_]{4,20}$'),
    CONSTRAINT ck_api_keys_name CHECK (length(btrim(name)) BETWEEN 1 AND 100),
    -- At least one scope, each `resource:action` (a NULL element becomes '?' and fails).
    CONSTRAINT ck_api_keys_scopes CHECK (
        array_ndims(scopes) = 1 AND cardinality(scopes) <= 32
        AND array_to_string(scopes, ' ', '?') ~ '^[a-z_]+:[a-z_*]+( [a-z_]+:[a-z_*]+)*$'),
    CONSTRAINT ck_api_keys_expires_at CHECK (expires_at > created_at),
    CONSTRAINT ck_api_keys_revoked_at CHECK (revoked_at >= created_at),
    CONSTRAINT ck_api_keys_last_used_at CHECK (last_used_at >= created_at)
);
ALTER TABLE app.api_keys OWNER TO platform_owner;
COMMENT ON TABLE app.api_keys IS 'API keys of an organization: sha256 of the key and a display prefix, never the key.';
COMMENT ON COLUMN app.api_keys.key_hash IS 'sha256 of the full plaintext key, 32 raw bytes.';
-- Serves both FKs: fk_api_keys_organization (leading column) and fk_api_keys_created_by.
CREATE INDEX idx_api_keys_organization_created_by ON app.api_keys (organization_id, created_by);

-- Row-level security. Policies name the service roles; platform_owner gets only what the
-- SECURITY DEFINER functions below need.
ALTER TABLE app.organizations ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY p_organizations_tenant ON app.organizations
    FOR ALL TO platform_app, platform_ingest, platform_analyst
    USING (id = app.current_org_id()) WITH CHECK (id = app.current_org_id());

ALTER TABLE app.memberships ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY p_memberships_tenant ON app.memberships
    FOR ALL TO platform_app, platform_ingest, platform_analyst
    USING (organization_id = app.current_org_id()) WITH CHECK (organization_id = app.current_org_id());

-- users are not tenant-scoped by themselves: a tenant sees (and may edit) exactly the users who
-- are members of it; the EXISTS runs under memberships' own policy, so it cannot see another
-- tenant's memberships either. Creating a user needs only a tenant transaction: the new row is
-- invisible until its membership exists, so create users with a client-side id and without
-- RETURNING (RETURNING must pass the SELECT policy), then the membership.
ALTER TABLE app.users ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY p_users_members_of_tenant ON app.users
    FOR ALL TO platform_app, platform_ingest, platform_analyst
    USING (EXISTS (SELECT 1 FROM app.memberships AS m
                   WHERE m.user_id = users.id AND m.organization_id = app.current_org_id()))
    WITH CHECK (EXISTS (SELECT 1 FROM app.memberships AS m
                        WHERE m.user_id = users.id AND m.organization_id = app.current_org_id()));
CREATE POLICY p_users_create_in_tenant ON app.users
    FOR INSERT TO platform_app
    WITH CHECK (app.current_org_id() IS NOT NULL);

ALTER TABLE app.api_keys ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY p_api_keys_tenant ON app.api_keys
    FOR ALL TO platform_app, platform_ingest, platform_analyst
    USING (organization_id = app.current_org_id()) WITH CHECK (organization_id = app.current_org_id());
-- Authentication happens before the tenant is known (the key says which tenant it is), so the
-- hash lookup runs as platform_owner inside app.lookup_api_key; platform_owner cannot log in.
CREATE POLICY p_api_keys_lookup_by_owner ON app.api_keys
    FOR SELECT TO platform_owner
    USING (true);

-- The key's tenant and scopes for a presented key's sha256, or no row when it is unknown,
-- revoked or expired. One probe of uq_api_keys_key_hash. The caller then opens a tenant
-- transaction for the returned organization.
CREATE FUNCTION app.lookup_api_key(p_key_hash bytea)
    RETURNS TABLE (api_key_id uuid, organization_id uuid, scopes text[], expires_at timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT k.id, k.organization_id, k.scopes, k.expires_at
    FROM app.api_keys AS k
    WHERE k.key_hash = p_key_hash
      AND k.revoked_at IS NULL
      AND (k.expires_at IS NULL OR k.expires_at > now())
$$;
ALTER FUNCTION app.lookup_api_key(bytea) OWNER TO platform_owner;
REVOKE ALL ON FUNCTION app.lookup_api_key(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.lookup_api_key(bytea) TO platform_app, platform_ingest;

-- Commands per role. No DELETE on organizations (closed via status), users (a user may belong to
-- other tenants) or api_keys (revoked via revoked_at; usage keeps pointing at them).
GRANT SELECT, INSERT, UPDATE ON app.organizations, app.users, app.api_keys TO platform_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON app.memberships TO platform_app;
-- Ingestion checks that an event's key and user belong to the event's organization.
GRANT SELECT ON app.api_keys, app.memberships TO platform_ingest;
