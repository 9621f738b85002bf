-- Three quarantine reasons for lines PostgreSQL would refuse for their value, which used to
-- sink their whole batch (docs/schemas/usage-event.schema.json states the bounds):
--   too_large           a line (or rendered CSV/Parquet row) beyond the envelope's x-maxLineBytes
--   too_deep            metadata nested deeper than x-maxDepth (jsonb input is recursive:
--                       "stack depth limit exceeded" at a few 10k levels)
--   value_out_of_range  a metadata number jsonb's numeric cannot hold
-- lint:allow squawk:constraint-missing-not-valid the DROP in the same statement holds ACCESS EXCLUSIVE for the transaction anyway, and the scan is of ingest.quarantine (service-internal, never on a tenant's path); the check only widens, so no stored row can fail it
-- lint:allow-drop replaced in the same statement by a wider constraint of the same name
ALTER TABLE ingest.quarantine
    DROP CONSTRAINT ck_quarantine_reason,
    ADD CONSTRAINT ck_quarantine_reason CHECK (reason IN (
        'invalid_encoding', 'malformed_record', 'unknown_field', 'missing_field', 'invalid_type',
        'invalid_value', 'unknown_organization', 'organization_not_active', 'unknown_model',
        'no_price', 'api_key_not_in_organization', 'api_key_inactive', 'user_not_in_organization',
        'occurred_in_future', 'older_than_retention', 'no_partition', 'too_large', 'too_deep',
        'value_out_of_range'));
