-- The plan's figures: what the reprice finds, changes, and the totals before and after.
SELECT count(*) AS events_in_range,
       count(*) FILTER (WHERE changed) AS events_changed,
       count(*) FILTER (WHERE changed AND new_price_id IS DISTINCT FROM price_id) AS price_version_changed,
       count(*) FILTER (WHERE cost_source = 'provider') AS provider_cost_events,
       count(*) FILTER (WHERE new_price_id IS NULL) AS no_price,
       count(*) FILTER (WHERE new_price_id IS NOT NULL AND unpriced IS NOT NULL) AS unpriced,
       coalesce(sum(cost_usd), 0) AS cost_before,
       coalesce(sum(new_cost_usd), 0) AS cost_after,
       coalesce(sum(cost_usd) FILTER (WHERE changed), 0) AS changed_cost_before,
       coalesce(sum(new_cost_usd) FILTER (WHERE changed), 0) AS changed_cost_after,
       count(DISTINCT (organization_id, date_bin('1 hour', occurred_at, '2000-01-01 00:00:00+00')))
           FILTER (WHERE changed) AS hours,
       coalesce(array_agg(DISTINCT price_id ORDER BY price_id) FILTER (WHERE changed), '{}') AS old_price_ids,
       coalesce(array_agg(DISTINCT new_price_id ORDER BY new_price_id) FILTER (WHERE changed), '{}') AS new_price_ids
FROM reprice_plan
