
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select api_key_id
from "warehouse"."marts"."top_keys"
where api_key_id is null



  
  
      
    ) dbt_internal_test