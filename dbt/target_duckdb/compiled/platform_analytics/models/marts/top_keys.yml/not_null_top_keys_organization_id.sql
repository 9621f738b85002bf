
    
    



select organization_id
from "warehouse"."marts"."top_keys"
where organization_id is null


