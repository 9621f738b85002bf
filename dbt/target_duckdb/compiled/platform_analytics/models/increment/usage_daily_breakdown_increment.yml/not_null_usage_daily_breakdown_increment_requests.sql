
    
    



select requests
from "warehouse"."increment"."usage_daily_breakdown_increment"
where requests is null


