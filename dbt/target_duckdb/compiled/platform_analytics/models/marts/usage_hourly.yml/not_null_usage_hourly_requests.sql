
    
    



select requests
from "warehouse"."marts"."usage_hourly"
where requests is null


