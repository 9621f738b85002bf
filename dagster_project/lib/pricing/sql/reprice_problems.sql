-- Events the current prices cannot cost (the first few, for the error message): no version in
-- effect for their service tier, or a count in a category that version does not offer.
SELECT event_id, occurred_at, service_tier,
       CASE WHEN new_price_id IS NULL THEN 'no_price'
            ELSE 'unpriced_category ' || unpriced || ' (price ' || new_price_id || ')' END AS problem
FROM reprice_plan
WHERE new_price_id IS NULL OR unpriced IS NOT NULL
ORDER BY occurred_at, event_id
LIMIT 3
