-- A separate migration (and transaction): VALIDATE only takes SHARE UPDATE EXCLUSIVE, so
-- ingestion and reads go on while it scans the partitions.
ALTER TABLE app.usage_events VALIDATE CONSTRAINT ck_usage_events_operation;
ALTER TABLE app.usage_events VALIDATE CONSTRAINT ck_usage_events_metadata;
