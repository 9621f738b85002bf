
    
    



select build_id
from "warehouse"."increment"."rollup_build"
where build_id is null


