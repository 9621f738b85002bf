
    
    



select build_id
from "warehouse"."marts"."usage_daily"
where build_id is null


