
    
    



select operation
from "warehouse"."marts"."usage_daily_breakdown"
where operation is null


