-- (organization_id, event_id) pairs the warehouse now holds more than once in the ranges: a load
-- must leave none (DuckDB's landing has no primary key to refuse them; see duck.check_landed).
SELECT organization_id, event_id, count(*) AS copies
FROM landing.usage_events
WHERE {ranges}
GROUP BY organization_id, event_id
HAVING count(*) > 1
ORDER BY organization_id, event_id
LIMIT 3
