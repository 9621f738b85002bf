
select day, organization_id, model_id, api_key_id, user_id, operation, count(*) as rows_with_this_key
from "warehouse"."increment"."usage_daily_breakdown_increment"
group by day, organization_id, model_id, api_key_id, user_id, operation
having count(*) > 1
