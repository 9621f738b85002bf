-- Org membership check: is this user a member of the tenant, with one of the accepted roles?
--
-- Runs as: platform_app inside tenant_transaction(conn, organization_id) (RLS applies).
-- Parameters: organization_id uuid (the transaction's tenant), user_id uuid,
--   roles text[] (the roles that grant the action, e.g. {owner,admin}).
-- Result: no row = not a member; otherwise the member's role and whether it is accepted, so the
--   caller can answer 404 (not a member) and 403 (member without the role) differently.
-- Index: pk_memberships (organization_id, user_id), one probe.
SELECT m.role, m.role = ANY (%(roles)s::text[]) AS has_role
FROM app.memberships AS m
WHERE m.organization_id = %(organization_id)s
  AND m.user_id = %(user_id)s
