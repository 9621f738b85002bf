
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select hour_start
from "warehouse"."marts"."usage_hourly"
where hour_start is null



  
  
      
    ) dbt_internal_test