
    
    



select build_id
from "warehouse"."marts"."usage_daily_breakdown"
where build_id is null


