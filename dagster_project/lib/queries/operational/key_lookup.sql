-- Key lookup by hash: which key, tenant and scopes a presented API key stands for.
--
-- Runs as: platform_app (or platform_ingest) OUTSIDE a tenant transaction: authentication comes
--   before the tenant is known (the key says which tenant it is), and RLS hides api_keys from a
--   session without one. app.lookup_api_key is SECURITY DEFINER (platform_owner, whose policy on
--   api_keys reads every row), so this is the only way in.
-- Parameters: key_hash bytea = sha256 of the full plaintext key (lib/keys/apikeys.hash_api_key).
-- Result: NO row for an unknown key; one row for a known key, with status 'active', 'revoked' or
--   'expired' (revoked wins when both apply; migration 202611221110). Only an active key may
--   authenticate: a revoked or expired one comes back with empty scopes (fails closed) so the
--   caller can say why it was refused, and alert on revoked keys still in use.
-- Index: uq_api_keys_key_hash (unique btree on key_hash), one probe inside the function.
SELECT k.api_key_id, k.organization_id, k.status, k.scopes, k.expires_at, k.revoked_at
FROM app.lookup_api_key(%(key_hash)s) AS k
