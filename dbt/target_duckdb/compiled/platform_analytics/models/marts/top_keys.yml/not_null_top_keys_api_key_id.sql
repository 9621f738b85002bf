
    
    



select api_key_id
from "warehouse"."marts"."top_keys"
where api_key_id is null


