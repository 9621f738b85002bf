-- Per UTC hour of the requested ranges: what the operational rollup (kept by trigger in the same
-- transaction as the events) says about it. Read in the load's snapshot, it is the exact count
-- and cost of the events the same snapshot copies; read later, it tells whether an hour changed.
SELECT hour, sum(requests)::bigint AS events, sum(cost_usd) AS cost_usd
FROM app.usage_hourly
WHERE {ranges}
GROUP BY hour
ORDER BY hour
