-- CHECK constraints of the domains listed by types.sql.
SELECT n.nspname || '.' || t.typname AS domain,
       con.conname AS name,
       pg_get_constraintdef(con.oid, true) AS definition,
       con.convalidated AS validated
FROM pg_constraint con
JOIN pg_type t ON t.oid = con.contypid
JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE con.contype = 'c'
  AND n.nspname <> ALL (%(excluded)s::text[])
  AND n.nspname !~ '^pg_'
