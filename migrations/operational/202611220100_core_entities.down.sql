-- One statement: users' policy depends on memberships and memberships' FK on users. Policies,
-- indexes and grants go with their tables.
DROP FUNCTION IF EXISTS app.lookup_api_key(bytea);
DROP TABLE IF EXISTS app.api_keys, app.memberships, app.users, app.organizations;
