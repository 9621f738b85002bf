-- What a reprice would change: every event of the model in [start, end) with the price version
-- it would get NOW and its recomputed category costs (docs/pricing.md, "Costing rule"). Session-
-- private, dropped at commit or rollback. Parameters: model_id, start, end.
--
-- A template: the brace placeholders list the categories, rendered from CATEGORIES by reprice.py
-- (lib/pricing/categories.py), so a category added to the contract is repriced too.
--
-- The price version: of the current (superseded_at IS NULL) versions of the event's model and
-- service tier in effect at occurred_at, the one with the largest above_input_tokens that is 0
-- or below the event's total input (every input category). No version: new_price_id NULL
-- (no_price). A count > 0 whose rate is NULL in that version: unpriced names the first such
-- category. Category cost: categories.cost_sql, the SQL ingestion runs on DuckDB too (0 for a
-- zero count, else round(count * rate * 1e-6 (or 1e-3 per call), 10), half away from zero).
CREATE TEMPORARY TABLE reprice_plan ON COMMIT DROP AS
WITH priced AS (
    SELECT e.organization_id, e.occurred_at, e.event_id, e.service_tier, e.price_id,
           e.cost_source, e.cost_usd,
           {stored_costs},
           p.id AS new_price_id,
           coalesce({unpriced}) AS unpriced,
           {new_costs}
    FROM app.usage_events AS e
    LEFT JOIN LATERAL (
        SELECT p.*
        FROM app.model_prices AS p
        WHERE p.model_id = e.model_id AND p.service_tier = e.service_tier
          AND p.superseded_at IS NULL
          AND p.effective_from <= e.occurred_at
          AND (p.effective_to IS NULL OR e.occurred_at < p.effective_to)
          AND (p.above_input_tokens = 0 OR ({total_input}) > p.above_input_tokens)
        ORDER BY p.above_input_tokens DESC
        LIMIT 1
    ) AS p ON true
    WHERE e.model_id = %(model_id)s AND e.occurred_at >= %(start)s AND e.occurred_at < %(end)s
), summed AS (
    SELECT priced.*, {new_cost_sum} AS new_computed_cost_usd
    FROM priced
)
SELECT summed.*,
       CASE WHEN cost_source = 'provider' THEN cost_usd ELSE new_computed_cost_usd END AS new_cost_usd,
       (new_price_id IS DISTINCT FROM price_id
        OR {cost_differs}
        OR (cost_source = 'computed' AND new_computed_cost_usd <> cost_usd)) AS changed
FROM summed;
