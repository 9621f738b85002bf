
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select build_id
from "warehouse"."marts"."usage_hourly"
where build_id is null



  
  
      
    ) dbt_internal_test