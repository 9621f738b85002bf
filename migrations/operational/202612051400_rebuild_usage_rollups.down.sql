-- Back to no rebuild function: whoever changes stored events recomputes the rollups itself.
-- lint:allow-drop a function only: no data lives in it
DROP FUNCTION app.rebuild_usage_rollups(uuid[], timestamptz[]);
