
    
    



select requests
from "warehouse"."marts"."usage_daily_breakdown"
where requests is null


