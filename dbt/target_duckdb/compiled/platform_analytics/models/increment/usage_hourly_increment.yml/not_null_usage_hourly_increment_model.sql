
    
    



select model
from "warehouse"."increment"."usage_hourly_increment"
where model is null


