
    
    



select organization_id
from "warehouse"."increment"."usage_daily_breakdown_increment"
where organization_id is null


