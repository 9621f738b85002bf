-- Drops every partition with the table, including those created later by maintenance.
DROP TABLE IF EXISTS app.usage_events;
DROP FUNCTION IF EXISTS app.ensure_usage_partitions(date, date);
