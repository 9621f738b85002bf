
select day, organization_id, count(*) as rows_with_this_key
from "warehouse"."marts"."usage_by_org_day"
group by day, organization_id
having count(*) > 1
