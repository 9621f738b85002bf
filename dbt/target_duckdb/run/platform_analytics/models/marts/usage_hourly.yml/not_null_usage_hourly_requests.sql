
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select requests
from "warehouse"."marts"."usage_hourly"
where requests is null



  
  
      
    ) dbt_internal_test