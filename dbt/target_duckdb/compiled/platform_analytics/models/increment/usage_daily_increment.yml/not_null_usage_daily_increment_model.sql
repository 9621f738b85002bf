
    
    



select model
from "warehouse"."increment"."usage_daily_increment"
where model is null


