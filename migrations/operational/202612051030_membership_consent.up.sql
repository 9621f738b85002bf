-- Users are safe across tenants (issue 9, section 5): joining an organization needs the user's
-- consent, a tenant never changes a user's identity, and refusals leak nothing of other tenants.
--
-- Before this, platform_app (as tenant A) could INSERT a membership for any user id, so it could
-- take in a user who belonged only to tenant B, then read and rewrite that user's email (the
-- users policy let a tenant UPDATE its members), then delete the membership again: B's user
-- captured, no trace in A. The memberships foreign key said whether a guessed user id exists,
-- and the users email key's DETAIL printed another tenant's address.
--
-- Now platform_app has no INSERT/UPDATE on app.users and no INSERT/DELETE on app.memberships
-- (it keeps SELECT on both, RLS-filtered as before, and UPDATE of memberships.role in its own
-- tenant). Membership changes go through SECURITY DEFINER functions owned by platform_owner, with
-- a pinned search_path, each writing an audit_log record in the organization:
--   app.invite_user(actor, email, role)      owner/admin of the current tenant: an invitation
--                                            with a one-time token (returned once, only its
--                                            sha256 stored); the same for known and new emails
--   app.accept_invitation(token, name)       the invitee, no tenant needed (the token says
--                                            which): joins, creating the user if the email is
--                                            new; an existing user's name is never changed
--   app.create_user(actor, email, name, role)  owner/admin: a brand-new person straight into
--                                            the current tenant; an email already registered
--                                            anywhere is refused with one generic message
--                                            (invite it instead) and no DETAIL
--   app.remove_member(actor, user_id)        owner/admin, or the member themself (leaving);
--                                            never the last owner
-- Refusals are one message without DETAIL, the same whether an id or email exists elsewhere or
-- not: 42501 (not allowed), P0002 (no such member / invitation), 22023 (bad input), 23505
-- (create_user: email taken). Identity fields (email, display_name) have no write path from a
-- tenant at all; a user changes their own profile through a platform-level flow, not this role.
--
-- Policies for platform_owner below serve only these functions (platform_owner cannot log in).

-- lint:allow-drop tenants no longer create users directly; app.create_user and app.accept_invitation do, as platform_owner (the down file restores it)
DROP POLICY p_users_create_in_tenant ON app.users;
REVOKE INSERT, UPDATE ON app.users FROM platform_app;
REVOKE INSERT, UPDATE, DELETE ON app.memberships FROM platform_app;
-- A tenant still decides its members' roles (the policy keeps the row in its tenant).
GRANT UPDATE (role) ON app.memberships TO platform_app;

CREATE POLICY p_users_owner_read ON app.users FOR SELECT TO platform_owner USING (true);
CREATE POLICY p_users_owner_create ON app.users FOR INSERT TO platform_owner WITH CHECK (true);
CREATE POLICY p_memberships_owner_read ON app.memberships FOR SELECT TO platform_owner USING (true);
CREATE POLICY p_memberships_owner_create ON app.memberships FOR INSERT TO platform_owner WITH CHECK (true);
CREATE POLICY p_memberships_owner_delete ON app.memberships FOR DELETE TO platform_owner USING (true);
-- SELECT ... FOR UPDATE (app.remove_member locks the owners) needs an UPDATE policy; its WITH
-- CHECK (false) keeps it a lock only: no function updates a membership.
CREATE POLICY p_memberships_owner_lock ON app.memberships FOR UPDATE TO platform_owner USING (true) WITH CHECK (false);
-- The functions' audit records: tenant records of these actions only.
CREATE POLICY p_audit_log_owner_membership_events ON app.audit_log
    FOR INSERT TO platform_owner
    WITH CHECK (organization_id IS NOT NULL AND actor_type = 'user'
                AND action IN ('invitation.create', 'invitation.accept', 'user.create',
                               'membership.delete'));

CREATE TABLE app.invitations (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL,
    email text NOT NULL,
    role text NOT NULL,
    token_hash bytea NOT NULL,
    invited_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    accepted_at timestamptz,
    accepted_by uuid,
    CONSTRAINT pk_invitations PRIMARY KEY (id),
    -- Accepting looks the token up by its hash: one probe of this index.
    CONSTRAINT uq_invitations_token_hash UNIQUE (token_hash),
    CONSTRAINT fk_invitations_organization FOREIGN KEY (organization_id)
        REFERENCES app.organizations (id) ON DELETE CASCADE,
    -- The inviter was a member of the inviting organization (as api_keys.created_by).
    CONSTRAINT fk_invitations_invited_by FOREIGN KEY (organization_id, invited_by)
        REFERENCES app.memberships (organization_id, user_id) ON DELETE SET NULL (invited_by),
    CONSTRAINT fk_invitations_accepted_by FOREIGN KEY (accepted_by)
        REFERENCES app.users (id) ON DELETE SET NULL,
    CONSTRAINT ck_invitations_email CHECK (email = lower(email) AND email ~ '^[^@\s]+@[^@\s]+$' AND length(email) <= 320),
    CONSTRAINT ck_invitations_role CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    -- sha256 of the token: 32 bytes, and the token is longer, so it cannot be stored by mistake.
    CONSTRAINT ck_invitations_token_hash CHECK (octet_length(token_hash) = 32),
    CONSTRAINT ck_invitations_expires_at CHECK (expires_at > created_at),
    -- accepted_by is set with accepted_at, and NULLed if that user is ever deleted.
    CONSTRAINT ck_invitations_accepted CHECK (accepted_by IS NULL OR accepted_at IS NOT NULL),
    CONSTRAINT ck_invitations_accepted_at CHECK (accepted_at >= created_at)
);
ALTER TABLE app.invitations OWNER TO platform_owner;
COMMENT ON TABLE app.invitations IS 'Invitations to join an organization: the invitee accepts with a one-time token (only its sha256 is stored).';
COMMENT ON COLUMN app.invitations.token_hash IS 'sha256 of the one-time invitation token, 32 raw bytes.';
COMMENT ON COLUMN app.invitations.accepted_by IS 'The user who accepted; NULL while pending (or after that user was deleted).';
-- fk_invitations_organization (leading column) and fk_invitations_invited_by.
CREATE INDEX idx_invitations_organization_invited_by ON app.invitations (organization_id, invited_by);
CREATE INDEX idx_invitations_accepted_by ON app.invitations (accepted_by) WHERE accepted_by IS NOT NULL;

ALTER TABLE app.invitations ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY p_invitations_tenant ON app.invitations
    FOR ALL TO platform_app, platform_ingest, platform_analyst
    USING (organization_id = app.current_org_id()) WITH CHECK (organization_id = app.current_org_id());
CREATE POLICY p_invitations_owner_read ON app.invitations FOR SELECT TO platform_owner USING (true);
CREATE POLICY p_invitations_owner_create ON app.invitations FOR INSERT TO platform_owner WITH CHECK (true);
CREATE POLICY p_invitations_owner_accept ON app.invitations FOR UPDATE TO platform_owner USING (true) WITH CHECK (true);
-- A tenant lists its invitations, never a token hash; it writes them only through the functions.
GRANT SELECT (id, organization_id, email, role, invited_by, created_at, expires_at, accepted_at,
              accepted_by) ON app.invitations TO platform_app;

-- The actor's role in the current tenant, NULL when there is no tenant or the actor is not a
-- member of it (including a user of another tenant, or no user at all: the same answer).
CREATE FUNCTION app.member_role(p_user_id uuid) RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT m.role FROM app.memberships AS m
    WHERE m.organization_id = app.current_org_id() AND m.user_id = p_user_id
$$;
ALTER FUNCTION app.member_role(uuid) OWNER TO platform_owner;
REVOKE ALL ON FUNCTION app.member_role(uuid) FROM PUBLIC;
COMMENT ON FUNCTION app.member_role(uuid) IS 'Role of a user in the current tenant, NULL if not a member (used by the membership functions).';

CREATE FUNCTION app.normalized_email(p_email text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_email text := lower(btrim(p_email, E' \t\r\n'));  -- as pasted: spaces, tabs, line breaks
BEGIN
    IF v_email IS NULL OR v_email !~ '^[^@\s]+@[^@\s]+$' OR length(v_email) > 320 THEN
        RAISE EXCEPTION 'not a valid email address' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN v_email;
END
$$;
ALTER FUNCTION app.normalized_email(text) OWNER TO platform_owner;
REVOKE ALL ON FUNCTION app.normalized_email(text) FROM PUBLIC;
COMMENT ON FUNCTION app.normalized_email(text) IS 'Trimmed, lower-cased email, or 22023 for a value that is not one.';

-- A display name as stored (trimmed), NULL for none, or 22023 naming the problem.
CREATE FUNCTION app.checked_display_name(p_display_name text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_display_name IS NOT NULL AND length(btrim(p_display_name)) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION 'display name must be 1 to 200 characters' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN btrim(p_display_name);
END
$$;
ALTER FUNCTION app.checked_display_name(text) OWNER TO platform_owner;
REVOKE ALL ON FUNCTION app.checked_display_name(text) FROM PUBLIC;
COMMENT ON FUNCTION app.checked_display_name(text) IS 'Trimmed display name, NULL for none, or 22023 when blank or longer than 200 characters.';

-- Owners and admins manage members; only an owner makes owners.
CREATE FUNCTION app.require_member_manager(p_actor uuid, p_role text) RETURNS void
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    actor_role text := app.member_role(p_actor);
BEGIN
    IF app.current_org_id() IS NULL THEN
        RAISE EXCEPTION 'no tenant is set for this transaction' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF p_role IS NULL OR p_role NOT IN ('owner', 'admin', 'member', 'viewer') THEN
        RAISE EXCEPTION 'role must be one of owner, admin, member, viewer' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF actor_role IS NULL OR actor_role NOT IN ('owner', 'admin') OR (p_role = 'owner' AND actor_role <> 'owner') THEN
        RAISE EXCEPTION 'only an owner or admin of this organization may add members (and only an owner may add owners)'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
END
$$;
ALTER FUNCTION app.require_member_manager(uuid, text) OWNER TO platform_owner;
REVOKE ALL ON FUNCTION app.require_member_manager(uuid, text) FROM PUBLIC;
COMMENT ON FUNCTION app.require_member_manager(uuid, text) IS 'Raises 42501 unless the actor is an owner/admin of the current tenant (an owner, to grant owner).';

-- Invitations last a week: long enough for someone away for a few days, short enough that a
-- forgotten email is not a standing door into the organization.
CREATE FUNCTION app.invite_user(p_actor uuid, p_email text, p_role text)
    RETURNS TABLE (invitation_id uuid, token text, expires_at timestamptz)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_email text;
    -- Two version-4 uuids from the server's strong random source: 244 random bits.
    new_token text := 'inv_' || encode(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()), 'hex');
    new_id uuid := gen_random_uuid();
    expiry timestamptz := now() + interval '7 days';
BEGIN
    PERFORM app.require_member_manager(p_actor, p_role);
    v_email := app.normalized_email(p_email);
    INSERT INTO app.invitations (id, organization_id, email, role, token_hash, invited_by, expires_at)
    VALUES (new_id, app.current_org_id(), v_email, p_role, sha256(convert_to(new_token, 'UTF8')), p_actor, expiry);
    INSERT INTO app.audit_log (organization_id, actor_type, actor_id, action, target_type, target_id, after_state)
    VALUES (app.current_org_id(), 'user', p_actor::text, 'invitation.create', 'invitation', new_id::text,
            jsonb_build_object('email', v_email, 'role', p_role, 'expires_at', expiry));
    RETURN QUERY SELECT new_id, new_token, expiry;
END
$$;
ALTER FUNCTION app.invite_user(uuid, text, text) OWNER TO platform_owner;
REVOKE ALL ON FUNCTION app.invite_user(uuid, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.invite_user(uuid, text, text) TO platform_app;
COMMENT ON FUNCTION app.invite_user(uuid, text, text) IS 'Owner/admin of the current tenant invites an email: returns the one-time token (only its sha256 is stored). Audited.';

-- The token is the invitee's consent: whoever presents it controls the invited address.
CREATE FUNCTION app.accept_invitation(p_token text, p_display_name text DEFAULT NULL)
    RETURNS TABLE (organization_id uuid, user_id uuid)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    inv app.invitations%ROWTYPE;
    joined uuid;
    v_name text := app.checked_display_name(p_display_name);
BEGIN
    -- Pending and unexpired only; the row lock makes a second, concurrent accept find nothing.
    SELECT * INTO inv FROM app.invitations AS i
    WHERE i.token_hash = sha256(convert_to(coalesce(p_token, ''), 'UTF8'))
      AND i.accepted_at IS NULL AND i.expires_at > now()
    FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'invitation not found, already used or expired' USING ERRCODE = 'no_data_found';
    END IF;
    -- A new person is created; an existing one joins as they are (their name is theirs).
    INSERT INTO app.users (email, display_name) VALUES (inv.email, v_name)
    ON CONFLICT ON CONSTRAINT uq_users_email DO NOTHING;
    SELECT u.id INTO joined FROM app.users AS u WHERE u.email = inv.email;
    INSERT INTO app.memberships (organization_id, user_id, role)
    VALUES (inv.organization_id, joined, inv.role)
    ON CONFLICT ON CONSTRAINT pk_memberships DO NOTHING;  -- already a member: keeps their role
    UPDATE app.invitations AS i SET accepted_at = now(), accepted_by = joined WHERE i.id = inv.id;
    INSERT INTO app.audit_log (organization_id, actor_type, actor_id, action, target_type, target_id, after_state)
    VALUES (inv.organization_id, 'user', joined::text, 'invitation.accept', 'invitation', inv.id::text,
            jsonb_build_object('user_id', joined, 'role', inv.role));
    RETURN QUERY SELECT inv.organization_id, joined;
END
$$;
ALTER FUNCTION app.accept_invitation(text, text) OWNER TO platform_owner;
REVOKE ALL ON FUNCTION app.accept_invitation(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.accept_invitation(text, text) TO platform_app;
COMMENT ON FUNCTION app.accept_invitation(text, text) IS 'The invitee joins with the token (no tenant needed), created if the email is new. Audited.';

CREATE FUNCTION app.create_user(p_actor uuid, p_email text, p_display_name text, p_role text)
    RETURNS uuid
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_email text;
    v_name text;
    new_id uuid := gen_random_uuid();
BEGIN
    PERFORM app.require_member_manager(p_actor, p_role);
    v_email := app.normalized_email(p_email);
    v_name := app.checked_display_name(p_display_name);
    INSERT INTO app.users (id, email, display_name) VALUES (new_id, v_email, v_name)
    ON CONFLICT ON CONSTRAINT uq_users_email DO NOTHING;
    IF NOT FOUND THEN
        -- No DETAIL: the address may be another tenant's user.
        RAISE EXCEPTION 'this email cannot be added directly: invite it instead'
            USING ERRCODE = 'unique_violation';
    END IF;
    INSERT INTO app.memberships (organization_id, user_id, role) VALUES (app.current_org_id(), new_id, p_role);
    INSERT INTO app.audit_log (organization_id, actor_type, actor_id, action, target_type, target_id, after_state)
    VALUES (app.current_org_id(), 'user', p_actor::text, 'user.create', 'user', new_id::text,
            jsonb_build_object('email', v_email, 'display_name', v_name, 'role', p_role));
    RETURN new_id;
END
$$;
ALTER FUNCTION app.create_user(uuid, text, text, text) OWNER TO platform_owner;
REVOKE ALL ON FUNCTION app.create_user(uuid, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.create_user(uuid, text, text, text) TO platform_app;
COMMENT ON FUNCTION app.create_user(uuid, text, text, text) IS 'Owner/admin creates a brand-new user as a member of the current tenant; a registered email is refused (invite it). Audited.';

CREATE FUNCTION app.remove_member(p_actor uuid, p_user_id uuid) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    actor_role text := app.member_role(p_actor);
    removed_role text;
BEGIN
    IF app.current_org_id() IS NULL THEN
        RAISE EXCEPTION 'no tenant is set for this transaction' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF actor_role IS NULL OR (actor_role NOT IN ('owner', 'admin') AND p_actor IS DISTINCT FROM p_user_id) THEN
        RAISE EXCEPTION 'only an owner or admin of this organization (or the member themself) may remove a member'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- Lock the organization's owner rows first, so two concurrent removals cannot each leave
    -- the other as the last owner and end with none.
    PERFORM 1 FROM app.memberships AS m
    WHERE m.organization_id = app.current_org_id() AND m.role = 'owner' FOR UPDATE;
    SELECT m.role INTO removed_role FROM app.memberships AS m
    WHERE m.organization_id = app.current_org_id() AND m.user_id = p_user_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no such member in this organization' USING ERRCODE = 'no_data_found';
    END IF;
    IF removed_role = 'owner' AND actor_role <> 'owner' THEN
        RAISE EXCEPTION 'only an owner may remove an owner' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF removed_role = 'owner' AND (SELECT count(*) FROM app.memberships AS m
                                   WHERE m.organization_id = app.current_org_id() AND m.role = 'owner') = 1 THEN
        RAISE EXCEPTION 'the last owner of an organization cannot be removed' USING ERRCODE = 'insufficient_privilege';
    END IF;
    DELETE FROM app.memberships AS m WHERE m.organization_id = app.current_org_id() AND m.user_id = p_user_id;
    INSERT INTO app.audit_log (organization_id, actor_type, actor_id, action, target_type, target_id, before_state)
    VALUES (app.current_org_id(), 'user', p_actor::text, 'membership.delete', 'membership', p_user_id::text,
            jsonb_build_object('user_id', p_user_id, 'role', removed_role));
END
$$;
ALTER FUNCTION app.remove_member(uuid, uuid) OWNER TO platform_owner;
REVOKE ALL ON FUNCTION app.remove_member(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.remove_member(uuid, uuid) TO platform_app;
COMMENT ON FUNCTION app.remove_member(uuid, uuid) IS 'Owner/admin (or the member themself) removes a member of the current tenant; never the last owner. Audited.';
