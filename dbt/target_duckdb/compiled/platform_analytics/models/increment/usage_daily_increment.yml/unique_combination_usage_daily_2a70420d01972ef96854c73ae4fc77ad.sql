
select day, organization_id, model_id, count(*) as rows_with_this_key
from "warehouse"."increment"."usage_daily_increment"
group by day, organization_id, model_id
having count(*) > 1
