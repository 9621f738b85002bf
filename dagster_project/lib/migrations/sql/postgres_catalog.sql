-- A comparable description of every user object outside the engine's own schema:
-- (kind, object, definition). Used by `smoke` and the up/down/up tests to prove a rollback
-- leaves exactly what was there before. OIDs and other incidental values are left out.
WITH user_ns AS (
    SELECT oid, nspname FROM pg_namespace
    WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'platform_meta')
      AND nspname NOT LIKE 'pg_temp_%' AND nspname NOT LIKE 'pg_toast_temp_%'
)
SELECT 'schema' AS kind, n.nspname AS object,
       coalesce(array_to_string(n2.nspacl, ','), '') AS definition
FROM user_ns n JOIN pg_namespace n2 ON n2.oid = n.oid
WHERE n.nspname <> 'public'
UNION ALL
SELECT 'relation', n.nspname || '.' || c.relname,
       concat_ws(' ', 'kind=' || c.relkind::text, 'persistence=' || c.relpersistence::text,
                 'rls=' || c.relrowsecurity, 'force_rls=' || c.relforcerowsecurity,
                 'bound=' || coalesce(pg_get_expr(c.relpartbound, c.oid), ''),
                 'partkey=' || coalesce(pg_get_partkeydef(c.oid), ''),
                 'acl=' || coalesce(array_to_string(c.relacl, ','), ''),
                 'comment=' || coalesce(obj_description(c.oid, 'pg_class'), ''))
FROM pg_class c JOIN user_ns n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
UNION ALL
SELECT 'column', n.nspname || '.' || c.relname || '.' || a.attname,
       concat_ws(' ', format_type(a.atttypid, a.atttypmod),
                 CASE WHEN a.attnotnull THEN 'not null' END,
                 'default=' || pg_get_expr(d.adbin, d.adrelid),
                 'identity=' || nullif(a.attidentity::text, ''),
                 'generated=' || nullif(a.attgenerated::text, ''),
                 'comment=' || col_description(c.oid, a.attnum),
                 -- ordinal among live columns: a dropped column leaves a gap in attnum
                 'position=' || row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum))
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN user_ns n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
UNION ALL
SELECT 'constraint', n.nspname || '.' || c.relname || '.' || con.conname,
       pg_get_constraintdef(con.oid, true)
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN user_ns n ON n.oid = c.relnamespace
UNION ALL
SELECT 'index', n.nspname || '.' || ic.relname,
       pg_get_indexdef(i.indexrelid) || CASE WHEN i.indisvalid THEN '' ELSE ' INVALID' END
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN user_ns n ON n.oid = ic.relnamespace
UNION ALL
SELECT 'policy', p.schemaname || '.' || p.tablename || '.' || p.policyname,
       concat_ws(' ', p.permissive, p.cmd, 'roles=' || array_to_string(p.roles, ','),
                 'using=' || coalesce(p.qual, ''), 'check=' || coalesce(p.with_check, ''))
FROM pg_policies p
WHERE p.schemaname NOT IN ('platform_meta')
UNION ALL
SELECT 'trigger', n.nspname || '.' || c.relname || '.' || t.tgname,
       pg_get_triggerdef(t.oid, true) || ' enabled=' || t.tgenabled::text
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN user_ns n ON n.oid = c.relnamespace
WHERE NOT t.tgisinternal
UNION ALL
SELECT 'function', n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
       md5(pg_get_functiondef(p.oid)) || ' acl=' || coalesce(array_to_string(p.proacl, ','), '')
FROM pg_proc p JOIN user_ns n ON n.oid = p.pronamespace
WHERE p.prokind IN ('f', 'p')
UNION ALL
SELECT 'view', n.nspname || '.' || c.relname, pg_get_viewdef(c.oid, true)
FROM pg_class c JOIN user_ns n ON n.oid = c.relnamespace
WHERE c.relkind IN ('v', 'm')
UNION ALL
SELECT 'type', n.nspname || '.' || t.typname,
       coalesce((SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
                 FROM pg_enum e WHERE e.enumtypid = t.oid), t.typtype::text)
FROM pg_type t JOIN user_ns n ON n.oid = t.typnamespace
WHERE t.typtype IN ('e', 'd', 'c') AND NOT EXISTS (
    SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind <> 'c')
UNION ALL
SELECT 'extension', e.extname, e.extversion FROM pg_extension e WHERE e.extname <> 'plpgsql'
ORDER BY 1, 2, 3;
