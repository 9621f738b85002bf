-- Budget consumption for the current period: every budget of the tenant with the tokens and
-- cost used so far in its period (UTC day or calendar month), for the soft/hard threshold check.
--
-- Runs as: platform_app inside tenant_transaction(conn, organization_id) (RLS applies).
-- Parameters: organization_id uuid (the transaction's tenant); month_start, day_start
--   timestamptz: the current UTC month's and day's first instant; until timestamptz: now
--   (lib/queries.budget_periods(now)). Whole UTC days are read: the days from month_start's to
--   until's, today's being day_start's.
-- Reads app.usage_daily, which the trigger on app.usage_events keeps exact in the events' own
--   transactions (migration 202611221100): a committed event is counted at once. At most
--   31 x models rows, pre-aggregated per (model, today?) and materialized once; each budget then
--   sums the few groups it covers: a day budget the "today" ones, a month budget all; a budget
--   without a model every model.
-- Index: pk_usage_daily (organization_id, day, model_id), one range; budgets by
--   uq_budgets_organization_model_period (organization_id, ...) once the table outgrows a few
--   pages (below that the planner rightly reads it whole).
WITH usage AS MATERIALIZED (
    SELECT d.model_id,
           d.day >= (%(day_start)s::timestamptz AT TIME ZONE 'UTC')::date AS today,
           sum(d.input_tokens + d.output_tokens) AS tokens,
           sum(d.cost_usd) AS cost_usd
    FROM app.usage_daily AS d
    WHERE d.organization_id = %(organization_id)s
      AND d.day >= (%(month_start)s::timestamptz AT TIME ZONE 'UTC')::date
      AND d.day <= (%(until)s::timestamptz AT TIME ZONE 'UTC')::date
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
