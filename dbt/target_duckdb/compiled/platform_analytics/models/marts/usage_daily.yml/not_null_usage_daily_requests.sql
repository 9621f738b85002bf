
    
    



select requests
from "warehouse"."marts"."usage_daily"
where requests is null


