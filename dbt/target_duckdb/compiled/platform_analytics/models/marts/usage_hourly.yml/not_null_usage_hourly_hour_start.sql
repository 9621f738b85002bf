
    
    



select hour_start
from "warehouse"."marts"."usage_hourly"
where hour_start is null


