-- Serialise a reprice against everything that could make it apply twice or lose an update,
-- held until COMMIT (lock order: prices, then events; nothing else takes these two modes):
--   * app.model_prices SHARE: no correction or new version commits while the plan is made and
--     applied, so every statement of the reprice sees the same prices. Readers (ingestion's
--     reference load) are not blocked.
--   * app.usage_events SHARE ROW EXCLUSIVE: conflicts with itself (a second reprice waits for
--     the first to commit, then finds nothing left to change) and with ROW EXCLUSIVE (every
--     INSERT waits, and an ingest transaction that has inserted is waited for): the rollup
--     rows recomputed from the events cannot miss, or count twice, an event the trigger adds
--     concurrently. Readers (dashboards, the warehouse loader) are not blocked.
LOCK TABLE app.model_prices IN SHARE MODE;
LOCK TABLE app.usage_events IN SHARE ROW EXCLUSIVE MODE
