
    
    



select budget_id
from "warehouse"."marts"."budget_consumption"
where budget_id is null


