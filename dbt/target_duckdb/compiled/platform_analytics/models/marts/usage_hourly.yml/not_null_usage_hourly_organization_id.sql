
    
    



select organization_id
from "warehouse"."marts"."usage_hourly"
where organization_id is null


