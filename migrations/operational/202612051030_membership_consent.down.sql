-- Back to the model before 202612051030: platform_app inserts users and memberships directly
-- (RLS-filtered), updates its members' identity fields and deletes memberships. Invitations and
-- their audit records' policy go; audit records already written stay (append-only).
DROP FUNCTION IF EXISTS app.remove_member(uuid, uuid);
DROP FUNCTION IF EXISTS app.create_user(uuid, text, text, text);
DROP FUNCTION IF EXISTS app.accept_invitation(text, text);
DROP FUNCTION IF EXISTS app.invite_user(uuid, text, text);
DROP FUNCTION IF EXISTS app.require_member_manager(uuid, text);
DROP FUNCTION IF EXISTS app.normalized_email(text);
DROP FUNCTION IF EXISTS app.checked_display_name(text);
DROP FUNCTION IF EXISTS app.member_role(uuid);
-- Policies, indexes and grants go with the table.
DROP TABLE IF EXISTS app.invitations;

DROP POLICY IF EXISTS p_audit_log_owner_membership_events ON app.audit_log;
DROP POLICY IF EXISTS p_memberships_owner_lock ON app.memberships;
DROP POLICY IF EXISTS p_memberships_owner_delete ON app.memberships;
DROP POLICY IF EXISTS p_memberships_owner_create ON app.memberships;
DROP POLICY IF EXISTS p_memberships_owner_read ON app.memberships;
DROP POLICY IF EXISTS p_users_owner_create ON app.users;
DROP POLICY IF EXISTS p_users_owner_read ON app.users;

REVOKE UPDATE (role) ON app.memberships FROM platform_app;
GRANT INSERT, UPDATE, DELETE ON app.memberships TO platform_app;
GRANT INSERT, UPDATE ON app.users TO platform_app;
CREATE POLICY p_users_create_in_tenant ON app.users
    FOR INSERT TO platform_app
    WITH CHECK (app.current_org_id() IS NOT NULL);
