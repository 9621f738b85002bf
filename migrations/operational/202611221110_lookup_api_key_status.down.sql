-- Back to the definition of 202611220100_core_entities (no row for revoked or expired keys).
DROP FUNCTION IF EXISTS app.lookup_api_key(bytea);
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
