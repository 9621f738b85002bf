
    
    



select cost_usd
from "warehouse"."marts"."usage_daily"
where cost_usd is null


