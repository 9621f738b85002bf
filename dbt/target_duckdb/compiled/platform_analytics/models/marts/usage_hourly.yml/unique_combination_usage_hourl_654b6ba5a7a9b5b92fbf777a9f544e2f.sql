
select hour_start, organization_id, model_id, count(*) as rows_with_this_key
from "warehouse"."marts"."usage_hourly"
group by hour_start, organization_id, model_id
having count(*) > 1
