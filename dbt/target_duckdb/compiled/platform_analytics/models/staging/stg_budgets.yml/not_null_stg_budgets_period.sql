
    
    



select period
from "warehouse"."staging"."stg_budgets"
where period is null


