
    
    



select organization_id
from "warehouse"."marts"."usage_by_org_day"
where organization_id is null


