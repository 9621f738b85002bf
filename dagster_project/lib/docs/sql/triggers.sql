-- User triggers (not the internal ones behind foreign keys). Triggers cloned onto partitions sit
-- on the partitions, which are not documented relations.
SELECT t.tgrelid::bigint AS relid,
       t.tgname AS name,
       pg_get_triggerdef(t.oid, true) AS definition,
       t.tgenabled::text AS enabled
FROM pg_trigger t
WHERE t.tgrelid = ANY (%(oids)s::oid[]) AND NOT t.tgisinternal
