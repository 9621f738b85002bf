
    
    



select model
from "warehouse"."staging"."stg_models"
where model is null


