
-- depends_on: "warehouse"."increment"."rollup_build"
select *
from "warehouse"."increment"."usage_hourly_increment"
where ((hour_start >= cast('2026-12-01 00:00:00+00:00' as timestamp with time zone) and hour_start < cast('2026-12-01 04:00:00+00:00' as timestamp with time zone)))