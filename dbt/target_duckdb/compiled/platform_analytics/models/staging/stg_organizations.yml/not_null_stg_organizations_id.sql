
    
    



select id
from "warehouse"."staging"."stg_organizations"
where id is null


