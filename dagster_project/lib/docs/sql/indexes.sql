-- Indexes of the documented relations (on partitioned parents: the partitioned index), with the
-- constraint an index backs, if any.
SELECT i.indrelid::bigint AS relid,
       ic.relname AS name,
       pg_get_indexdef(i.indexrelid) AS definition,
       i.indisunique AS is_unique,
       i.indisvalid AS valid,
       con.conname AS backs_constraint
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
LEFT JOIN pg_constraint con
       ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
WHERE i.indrelid = ANY (%(oids)s::oid[])
