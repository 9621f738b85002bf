
    
    



select id
from "warehouse"."staging"."stg_budgets"
where id is null


