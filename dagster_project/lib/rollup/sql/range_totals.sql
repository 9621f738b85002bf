-- Rows and sums of a rollup relation over one run's range: what a run's materialization shows
-- (and the UI plots). {relation}, {column} and the bounds are rendered by lib/rollup/metrics.py
-- from validated values only.
SELECT count(*), coalesce(sum(requests), 0), coalesce(sum(input_tokens), 0),
       coalesce(sum(output_tokens), 0), coalesce(sum(cost_usd), 0)
FROM {relation}
WHERE {column} >= {start} AND {column} < {end}
