
    
    



select model_id
from "warehouse"."marts"."cost_by_model_month"
where model_id is null


