
    
    



select model_id
from "warehouse"."marts"."usage_hourly"
where model_id is null


