-- Back to the original check (and its validation scan).
ALTER TABLE app.usage_events
    DROP CONSTRAINT IF EXISTS ck_usage_events_operation,
    ADD CONSTRAINT ck_usage_events_operation CHECK (operation ~ '^[a-z][a-z0-9_.]{0,63}$');
