-- Indexes left INVALID by an interrupted CREATE INDEX CONCURRENTLY.
SELECT n.nspname || '.' || c.relname FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT i.indisvalid ORDER BY 1
