
    
    



select day
from "warehouse"."increment"."usage_daily_increment"
where day is null


