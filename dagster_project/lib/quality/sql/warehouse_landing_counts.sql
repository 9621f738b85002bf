-- Landed events per UTC hour in the ranges (portable: DuckDB and PostgreSQL).
SELECT date_trunc('hour', e.occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour_start,
       count(*) AS events
FROM {relation} AS e
WHERE {in_ranges:e.occurred_at}
GROUP BY 1
