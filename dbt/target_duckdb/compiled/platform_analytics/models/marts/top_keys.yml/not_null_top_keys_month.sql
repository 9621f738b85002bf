
    
    



select month
from "warehouse"."marts"."top_keys"
where month is null


