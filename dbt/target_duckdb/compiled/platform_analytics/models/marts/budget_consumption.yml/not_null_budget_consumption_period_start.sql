
    
    



select period_start
from "warehouse"."marts"."budget_consumption"
where period_start is null


