DROP TABLE IF EXISTS app.model_prices;
DROP FUNCTION IF EXISTS app.model_prices_keep_history();
DROP TABLE IF EXISTS app.model_registry;
-- Created by the up file. If it existed before (IF NOT EXISTS skipped it), this removes it too:
-- nothing else in this schema uses it, and `migrate smoke` requires a full rollback to leave
-- the catalog empty.
DROP EXTENSION IF EXISTS btree_gist;
