
    
    



select build_id
from "warehouse"."marts"."usage_hourly"
where build_id is null


