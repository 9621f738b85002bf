-- Run in the maintenance database after the target database refused a connection:
-- does the target exist, and may this role connect to it?
SELECT datallowconn, has_database_privilege(oid, 'CONNECT') FROM pg_database WHERE datname = %s
