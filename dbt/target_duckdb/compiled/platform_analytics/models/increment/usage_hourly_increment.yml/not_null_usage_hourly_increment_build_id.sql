
    
    



select build_id
from "warehouse"."increment"."usage_hourly_increment"
where build_id is null


