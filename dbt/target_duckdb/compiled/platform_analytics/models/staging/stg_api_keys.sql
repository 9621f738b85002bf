select id, organization_id, name, key_prefix, scopes, created_by, created_at, expires_at, revoked_at, last_used_at
from "warehouse"."landing"."api_keys"