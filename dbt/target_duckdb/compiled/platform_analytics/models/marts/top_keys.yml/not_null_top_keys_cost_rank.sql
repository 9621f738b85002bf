
    
    



select cost_rank
from "warehouse"."marts"."top_keys"
where cost_rank is null


