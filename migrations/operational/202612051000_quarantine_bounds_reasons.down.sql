-- Back to the original reasons. Refused (check_violation) while ingest.quarantine holds rows
-- with a reason this migration added: nothing stored is dropped silently; decide what to do
-- with those rows (they hold the lines' payloads) before going down.
ALTER TABLE ingest.quarantine
    DROP CONSTRAINT IF EXISTS ck_quarantine_reason,
    ADD CONSTRAINT ck_quarantine_reason CHECK (reason IN (
        'invalid_encoding', 'malformed_record', 'unknown_field', 'missing_field', 'invalid_type',
        'invalid_value', 'unknown_organization', 'organization_not_active', 'unknown_model',
        'no_price', 'api_key_not_in_organization', 'api_key_inactive', 'user_not_in_organization',
        'occurred_in_future', 'older_than_retention', 'no_partition'));
