
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select operation
from "warehouse"."marts"."usage_daily_breakdown"
where operation is null



  
  
      
    ) dbt_internal_test