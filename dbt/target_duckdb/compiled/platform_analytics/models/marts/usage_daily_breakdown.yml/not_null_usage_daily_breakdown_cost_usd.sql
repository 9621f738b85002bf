
    
    



select cost_usd
from "warehouse"."marts"."usage_daily_breakdown"
where cost_usd is null


