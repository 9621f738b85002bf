
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select model
from "warehouse"."increment"."usage_daily_increment"
where model is null



  
  
      
    ) dbt_internal_test