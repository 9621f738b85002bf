
    
    



select model
from "warehouse"."marts"."usage_hourly"
where model is null


