
    
    



select model
from "warehouse"."marts"."usage_daily"
where model is null


