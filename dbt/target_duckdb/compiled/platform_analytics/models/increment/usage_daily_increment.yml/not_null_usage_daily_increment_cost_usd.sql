
    
    



select cost_usd
from "warehouse"."increment"."usage_daily_increment"
where cost_usd is null


