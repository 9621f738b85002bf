
select hour_start, organization_id, model_id, count(*) as rows_with_this_key
from "warehouse"."increment"."usage_hourly_increment"
group by hour_start, organization_id, model_id
having count(*) > 1
