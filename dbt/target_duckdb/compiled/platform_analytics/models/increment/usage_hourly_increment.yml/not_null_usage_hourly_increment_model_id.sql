
    
    



select model_id
from "warehouse"."increment"."usage_hourly_increment"
where model_id is null


