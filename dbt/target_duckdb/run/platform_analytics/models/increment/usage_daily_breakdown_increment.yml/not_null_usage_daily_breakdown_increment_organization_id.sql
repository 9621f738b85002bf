
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select organization_id
from "warehouse"."increment"."usage_daily_breakdown_increment"
where organization_id is null



  
  
      
    ) dbt_internal_test