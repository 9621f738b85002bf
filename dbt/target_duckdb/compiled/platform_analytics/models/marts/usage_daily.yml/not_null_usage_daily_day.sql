
    
    



select day
from "warehouse"."marts"."usage_daily"
where day is null


