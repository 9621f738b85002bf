-- Table and column privileges granted to roles other than the owner (the owner's implicit
-- privileges differ between a scratch database and production and say nothing about access).
SELECT c.oid::bigint AS relid,
       CASE WHEN acl.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(acl.grantee)::text END AS grantee,
       acl.privilege_type AS privilege,
       NULL::text AS column_name
FROM pg_class c, aclexplode(c.relacl) AS acl
WHERE c.oid = ANY (%(oids)s::oid[]) AND acl.grantee <> c.relowner
UNION ALL
SELECT c.oid::bigint,
       CASE WHEN acl.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(acl.grantee)::text END,
       acl.privilege_type,
       a.attname::text
FROM pg_class c
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
CROSS JOIN LATERAL aclexplode(a.attacl) AS acl
WHERE c.oid = ANY (%(oids)s::oid[]) AND acl.grantee <> c.relowner
