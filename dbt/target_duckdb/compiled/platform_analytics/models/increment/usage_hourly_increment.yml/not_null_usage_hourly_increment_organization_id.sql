
    
    



select organization_id
from "warehouse"."increment"."usage_hourly_increment"
where organization_id is null


