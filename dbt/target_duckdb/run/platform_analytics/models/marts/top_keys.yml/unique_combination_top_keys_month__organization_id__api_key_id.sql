
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
select month, organization_id, api_key_id, count(*) as rows_with_this_key
from "warehouse"."marts"."top_keys"
group by month, organization_id, api_key_id
having count(*) > 1

  
  
      
    ) dbt_internal_test