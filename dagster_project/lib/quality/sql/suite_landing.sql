-- The rows the landing suite validates: landing.usage_events in the ranges (portable).
-- cost_usd_e10: the cost in units of the stored scale (1e-10 USD) as an integer, so sums are
-- compared exactly (GX serialises Decimal bounds as floats).
SELECT e.occurred_at,
       e.organization_id,
       e.model_id,
       e.event_id,
       e.status,
       e.input_tokens,
       e.output_tokens,
       CAST(e.cost_usd * 10000000000 AS BIGINT) AS cost_usd_e10
FROM {relation} AS e
WHERE {in_ranges:e.occurred_at}
