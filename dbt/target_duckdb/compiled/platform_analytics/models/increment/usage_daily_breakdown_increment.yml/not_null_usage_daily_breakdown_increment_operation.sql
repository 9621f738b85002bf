
    
    



select operation
from "warehouse"."increment"."usage_daily_breakdown_increment"
where operation is null


