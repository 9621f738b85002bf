
    
    



select requests
from "warehouse"."increment"."usage_hourly_increment"
where requests is null


