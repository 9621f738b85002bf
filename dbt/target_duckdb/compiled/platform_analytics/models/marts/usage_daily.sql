
-- depends_on: "warehouse"."increment"."rollup_build"
select *
from "warehouse"."increment"."usage_daily_increment"
where ((day >= cast('2026-12-01' as date) and day < cast('2026-12-02' as date)))