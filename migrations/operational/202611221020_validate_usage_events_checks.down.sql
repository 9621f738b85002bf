-- A validated constraint cannot be marked NOT VALID again: drop and re-add both unvalidated,
-- as the previous migrations left them.
ALTER TABLE app.usage_events
    DROP CONSTRAINT IF EXISTS ck_usage_events_operation,
    ADD CONSTRAINT ck_usage_events_operation
        CHECK (operation ~ '^[a-z][a-z0-9_.]*$' AND octet_length(operation) <= 64) NOT VALID,
    DROP CONSTRAINT IF EXISTS ck_usage_events_metadata,
    ADD CONSTRAINT ck_usage_events_metadata CHECK (jsonb_typeof(metadata) = 'object') NOT VALID;
