
    
    



select hour_start
from "warehouse"."increment"."usage_hourly_increment"
where hour_start is null


