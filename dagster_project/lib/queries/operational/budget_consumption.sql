-- Budget consumption for the current period: every budget of the tenant with the tokens and
-- cost used so far in its period (UTC day or calendar month), for the soft/hard threshold check.
--
-- Runs as: platform_app inside tenant_transaction(conn, organization_id) (RLS applies).
-- Parameters: organization_id uuid (the transaction's tenant); month_start, day_start
--   timestamptz: the current UTC month's and day's first instant; until timestamptz: now.
-- One pass over the month so far, pre-aggregated per (model, today?) and materialized once; each
--   budget then sums the few groups it covers: a day budget the "today" ones, a month budget
--   all; a budget without a model every model.
-- Cost: linear in the tenant's events of the month so far (see docs/query-contract.md: the
--   rollup proposal makes this independent of volume).
-- Index: pk_usage_events (organization_id, occurred_at, event_id) on the month's daily
--   partitions up to `until` (pruned at plan time); budgets by
--   uq_budgets_organization_model_period (organization_id, ...) once the table outgrows a few
--   pages (below that the planner rightly reads it whole).
WITH usage AS MATERIALIZED (
    SELECT e.model_id,
           e.occurred_at >= %(day_start)s AS today,
           sum(e.input_tokens::bigint + e.output_tokens) AS tokens,
           sum(e.cost_usd) AS cost_usd
    FROM app.usage_events AS e
    WHERE e.organization_id = %(organization_id)s
      AND e.occurred_at >= %(month_start)s
      AND e.occurred_at < %(until)s
    GROUP BY 1, 2
)
SELECT b.id AS budget_id, b.period, b.model_id, b.token_limit, b.cost_limit_usd,
       b.soft_threshold, b.hard_threshold,
       coalesce(used.tokens, 0) AS tokens,
       coalesce(used.cost_usd, 0) AS cost_usd
FROM app.budgets AS b
CROSS JOIN LATERAL (
    SELECT sum(u.tokens) AS tokens, sum(u.cost_usd) AS cost_usd
    FROM usage AS u
    WHERE (b.model_id IS NULL OR u.model_id = b.model_id) AND (b.period = 'month' OR u.today)
) AS used
WHERE b.organization_id = %(organization_id)s
ORDER BY b.period, b.model_id NULLS FIRST, b.id
