
    
    



select model_id
from "warehouse"."marts"."usage_daily"
where model_id is null


