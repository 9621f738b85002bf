
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select cost_rank
from "warehouse"."marts"."top_keys"
where cost_rank is null



  
  
      
    ) dbt_internal_test