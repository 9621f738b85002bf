
    
    



select build_id
from "warehouse"."increment"."usage_daily_breakdown_increment"
where build_id is null


