
    
    



select id
from "warehouse"."staging"."stg_models"
where id is null


