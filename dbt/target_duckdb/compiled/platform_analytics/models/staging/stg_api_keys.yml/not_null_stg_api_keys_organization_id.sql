
    
    



select organization_id
from "warehouse"."staging"."stg_api_keys"
where organization_id is null


