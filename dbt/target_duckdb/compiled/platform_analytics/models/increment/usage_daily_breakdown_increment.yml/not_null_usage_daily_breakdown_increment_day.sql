
    
    



select day
from "warehouse"."increment"."usage_daily_breakdown_increment"
where day is null


