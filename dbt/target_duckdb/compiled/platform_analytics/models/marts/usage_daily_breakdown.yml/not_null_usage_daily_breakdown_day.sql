
    
    



select day
from "warehouse"."marts"."usage_daily_breakdown"
where day is null


