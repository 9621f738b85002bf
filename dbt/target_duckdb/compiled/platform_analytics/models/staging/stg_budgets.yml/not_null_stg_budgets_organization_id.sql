
    
    



select organization_id
from "warehouse"."staging"."stg_budgets"
where organization_id is null


