-- Key lookup by hash: which key, tenant and scopes a presented API key stands for.
--
-- Runs as: platform_app (or platform_ingest) OUTSIDE a tenant transaction: authentication comes
--   before the tenant is known (the key says which tenant it is), and RLS hides api_keys from a
--   session without one. app.lookup_api_key is SECURITY DEFINER (platform_owner, whose policy on
--   api_keys reads every row), so this is the only way in.
-- Parameters: key_hash bytea = sha256 of the full plaintext key (lib/keys/apikeys.hash_api_key).
-- Result: one row for a known, active key; NO row for an unknown, revoked or expired key (the
--   function filters revoked_at/expires_at; it cannot tell those three apart, see
--   docs/query-contract.md for the proposed change).
-- Index: uq_api_keys_key_hash (unique btree on key_hash), one probe inside the function.
SELECT k.api_key_id, k.organization_id, k.scopes, k.expires_at
FROM app.lookup_api_key(%(key_hash)s) AS k
