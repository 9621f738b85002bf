
select month, organization_id, api_key_id, count(*) as rows_with_this_key
from "warehouse"."marts"."top_keys"
group by month, organization_id, api_key_id
having count(*) > 1
