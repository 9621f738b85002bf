-- Rebuild app.usage_hourly / usage_daily of the (organization, UTC hour) groups that hold a
-- re-costed event, and of their days, from the events (app.rebuild_usage_rollups, migration
-- 202612051400: replace, not add; the trigger adds only on INSERT). Every model of a group is
-- rebuilt, not only the repriced one: the other models' rows come back as they were.
SELECT r.hourly_rows, r.daily_rows
FROM (SELECT array_agg(organization_id ORDER BY organization_id, hour) AS organization_ids,
             array_agg(hour ORDER BY organization_id, hour) AS hours
      FROM (SELECT DISTINCT organization_id,
                   date_bin('1 hour', occurred_at, '2000-01-01 00:00:00+00') AS hour
            FROM reprice_plan
            WHERE changed) AS g) AS a
CROSS JOIN LATERAL app.rebuild_usage_rollups(a.organization_ids, a.hours) AS r
