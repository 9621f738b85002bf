
    
    



select cost_usd
from "warehouse"."increment"."usage_hourly_increment"
where cost_usd is null


