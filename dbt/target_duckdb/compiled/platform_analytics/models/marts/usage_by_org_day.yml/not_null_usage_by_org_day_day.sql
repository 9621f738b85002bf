
    
    



select day
from "warehouse"."marts"."usage_by_org_day"
where day is null


