
    
    



select month
from "warehouse"."marts"."cost_by_model_month"
where month is null


