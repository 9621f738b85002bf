
    
    



select requests
from "warehouse"."increment"."usage_daily_increment"
where requests is null


