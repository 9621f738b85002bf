-- Re-cost the planned events that change: price version, category costs (the set_costs
-- placeholder: one per category, rendered from CATEGORIES by reprice.py), and cost_usd unless
-- it is the provider's figure. Only the events of the model in range are candidates (the plan);
-- the UPDATE fires no rollup trigger (that is INSERT only): the rollups are rebuilt next.
UPDATE app.usage_events AS e
SET price_id = r.new_price_id,
    cost_usd = r.new_cost_usd,
    {set_costs}
FROM reprice_plan AS r
WHERE r.changed
  AND e.model_id = %(model_id)s
  AND e.organization_id = r.organization_id AND e.occurred_at = r.occurred_at
  AND e.event_id = r.event_id
