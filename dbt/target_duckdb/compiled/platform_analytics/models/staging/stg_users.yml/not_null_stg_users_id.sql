
    
    



select id
from "warehouse"."staging"."stg_users"
where id is null


