
    
    



select model_id
from "warehouse"."marts"."usage_daily_breakdown"
where model_id is null


