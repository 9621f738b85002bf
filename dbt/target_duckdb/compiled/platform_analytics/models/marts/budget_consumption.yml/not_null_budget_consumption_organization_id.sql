
    
    



select organization_id
from "warehouse"."marts"."budget_consumption"
where organization_id is null


