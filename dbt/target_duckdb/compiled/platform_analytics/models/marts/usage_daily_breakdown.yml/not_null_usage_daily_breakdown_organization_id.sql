
    
    



select organization_id
from "warehouse"."marts"."usage_daily_breakdown"
where organization_id is null


