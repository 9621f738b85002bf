
    
    



select id
from "warehouse"."staging"."stg_api_keys"
where id is null


