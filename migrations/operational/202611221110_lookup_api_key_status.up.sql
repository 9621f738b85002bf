-- app.lookup_api_key tells revoked and expired keys apart from unknown ones
-- (docs/query-contract.md, change B): the error message can say why a key failed, and a tenant
-- can be alerted that a revoked key is still in use.
--
-- Unknown key: no row, as before. Known key: one row with its status, 'active', 'revoked' or
-- 'expired' (revoked wins when both apply), and its scopes only when active: a revoked or
-- expired key comes back with no scopes, so a caller that forgets to check `status` still
-- authorizes nothing (fails closed). Still one probe of uq_api_keys_key_hash.
--
-- The result columns change (status and revoked_at added), and CREATE OR REPLACE cannot change
-- a function's result type, so the function is dropped and created again in this transaction:
-- callers see the old function or the new one, never none. Nothing in the database depends on
-- it. Callers must now check `status`: one written for the old function (any row = a usable
-- key) would accept a revoked or expired key, albeit with no scopes. Ship this migration together
-- with dagster_project/lib/queries/operational/key_lookup.sql, which selects `status` (the only
-- caller in this repository).
-- lint:allow-drop CREATE OR REPLACE cannot change the result columns; recreated right below with its owner and grants
DROP FUNCTION app.lookup_api_key(bytea);
CREATE FUNCTION app.lookup_api_key(p_key_hash bytea)
    RETURNS TABLE (api_key_id uuid, organization_id uuid, status text, scopes text[],
                   expires_at timestamptz, revoked_at timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT k.id, k.organization_id, s.status,
           CASE WHEN s.status = 'active' THEN k.scopes ELSE '{}'::text[] END,
           k.expires_at, k.revoked_at
    FROM app.api_keys AS k
    CROSS JOIN LATERAL (
        SELECT CASE WHEN k.revoked_at IS NOT NULL THEN 'revoked'
                    WHEN k.expires_at <= now() THEN 'expired'
                    ELSE 'active' END AS status) AS s
    WHERE k.key_hash = p_key_hash
$$;
ALTER FUNCTION app.lookup_api_key(bytea) OWNER TO platform_owner;
REVOKE ALL ON FUNCTION app.lookup_api_key(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.lookup_api_key(bytea) TO platform_app, platform_ingest;
COMMENT ON FUNCTION app.lookup_api_key(bytea) IS 'Key by sha256 of the presented key: tenant, status (active | revoked | expired) and scopes (empty unless active); no row for an unknown key.';
