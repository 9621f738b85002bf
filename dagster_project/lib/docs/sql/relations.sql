-- The relations the data dictionary documents: tables, partitioned parents, views and
-- materialized views of the application schemas. Partitions are not relations of their own here
-- (maintenance creates and drops them over time; partitions.sql summarises them under the
-- parent), and neither are objects an extension owns.
SELECT c.oid::bigint AS oid,
       n.nspname AS schema,
       c.relname AS name,
       c.relkind::text AS kind,
       obj_description(c.oid, 'pg_class') AS comment,
       c.relrowsecurity AS rls_enabled,
       c.relforcerowsecurity AS rls_forced,
       CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm')
  AND NOT c.relispartition
  AND n.nspname <> ALL (%(excluded)s::text[])
  AND n.nspname !~ '^pg_'  -- pg_toast, pg_temp_N, ...
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
