
    
    



select organization_id
from "warehouse"."marts"."usage_daily"
where organization_id is null


