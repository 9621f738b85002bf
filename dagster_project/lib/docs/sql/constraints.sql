-- Primary key, foreign key, unique, check and exclusion constraints. conparentid <> 0 rows are
-- the per-partition clones PostgreSQL adds for partitioned tables (on either side of a foreign
-- key): they follow the partitions, not the schema, so they are left out.
SELECT con.conrelid::bigint AS relid,
       con.conname AS name,
       con.contype::text AS kind,
       pg_get_constraintdef(con.oid, true) AS definition,
       con.convalidated AS validated,
       ARRAY(SELECT a.attname::text
             FROM unnest(con.conkey) WITH ORDINALITY AS k (num, ord)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num
             ORDER BY k.ord) AS columns,
       CASE WHEN con.contype = 'f' THEN rn.nspname || '.' || rc.relname END AS ref_table,
       ARRAY(SELECT a.attname::text
             FROM unnest(con.confkey) WITH ORDINALITY AS k (num, ord)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num
             ORDER BY k.ord) AS ref_columns
FROM pg_constraint con
LEFT JOIN pg_class rc ON rc.oid = con.confrelid
LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
WHERE con.conrelid = ANY (%(oids)s::oid[])
  AND con.contype IN ('p', 'f', 'u', 'c', 'x')  -- not PG 18's NOT NULL rows: nullability is per column
  AND con.conparentid = 0
