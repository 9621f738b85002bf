-- The warehouse's record of the hours it holds (both engines).
SELECT hour_start, events, cost_usd
FROM landing.loaded_hours
WHERE {ranges}
ORDER BY hour_start
