
    
    



select model_id
from "warehouse"."increment"."usage_daily_increment"
where model_id is null


