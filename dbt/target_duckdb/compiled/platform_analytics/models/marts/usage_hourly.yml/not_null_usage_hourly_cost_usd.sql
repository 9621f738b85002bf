
    
    



select cost_usd
from "warehouse"."marts"."usage_hourly"
where cost_usd is null


