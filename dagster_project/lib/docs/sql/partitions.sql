-- Direct partitions of the documented partitioned tables. Only DEFAULT partitions are named in
-- the docs; the others come and go with partition maintenance.
SELECT inh.inhparent::bigint AS parent,
       n.nspname || '.' || c.relname AS name,
       pg_get_expr(c.relpartbound, c.oid) AS bound
FROM pg_inherits inh
JOIN pg_class c ON c.oid = inh.inhrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE inh.inhparent = ANY (%(oids)s::oid[])
